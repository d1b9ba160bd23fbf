"""Participants: typed handlers declared with decorators, checked at declaration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from saga.definition.participant import Context, Participant
from saga.engine.messages import Message, derived_id
from saga.engine.participants import run_handler
from saga.errors import DefinitionError
from tests.sagas.jobs import Ask, NotAnEvent, Undo, Unlisted, Yes

NOW = datetime(2030, 1, 1, tzinfo=UTC)
E1, E2, CAUSE = (derived_id("test", name) for name in ("e1", "e2", "cause"))


def message(
    event: Ask | Yes, event_id: str, correlation_id: str, cause: str | None = None
) -> Message:
    return Message.new(
        event, event_id=event_id, correlation_id=correlation_id, causation_id=cause, producer="t"
    )


def test_handlers_are_routed_by_their_annotations_and_stay_callable() -> None:
    worker = Participant("worker")
    seen: list[Context] = []

    @worker.handler
    def answer(request: Ask, context: Context) -> Yes:
        seen.append(context)
        return Yes(job_id=request.job_id)

    @answer.compensation
    def undo(request: Undo) -> None:
        return None

    incoming = message(Ask(job_id="j"), E1, "corr", CAUSE)
    (out,) = run_handler(worker, incoming, NOW)
    assert out.event == Yes(job_id="j")
    assert (out.correlation_id, out.causation_id) == ("corr", E1)
    assert run_handler(worker, incoming, NOW)[0].event_id == out.event_id  # derived from the input
    assert seen[0] == Context("worker", E1, "corr", CAUSE, NOW)
    assert undo.compensates == "answer"
    assert set(worker.produces()) == {Yes.__event_name__}
    assert answer(Ask(job_id="k"), seen[0]) == Yes(job_id="k")
    assert run_handler(worker, message(Yes(job_id="j"), E2, "c"), NOW) == []


def test_a_handler_returning_an_event_it_did_not_declare_is_rejected() -> None:
    worker = Participant("worker")

    @worker.handler
    def answer(request: Ask) -> Yes | None:
        return Undo(job_id="j")  # type: ignore[return-value]

    with pytest.raises(DefinitionError, match="does not name"):
        run_handler(worker, message(Ask(job_id="j"), E1, "c"), NOW)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("def h(request: Ask): return None", "add a return annotation"),
        ("def h(request: NotAnEvent) -> None: return None", "annotate the first parameter"),
        ("def h(request: Ask) -> int: return 1", "it may return only events"),
        ("def h(request: Unlisted) -> None: return None", "event Unlisted: no Avro contract"),
        ("def h() -> None: return None", "takes the event and optionally the Context"),
    ],
)
def test_bad_handlers_fail_when_declared(source: str, fragment: str) -> None:
    namespace: dict[str, object] = {
        "Ask": Ask,
        "NotAnEvent": NotAnEvent,
        "Unlisted": Unlisted,
        "Yes": Yes,
    }
    exec(source, namespace)
    with pytest.raises(DefinitionError, match=fragment) as caught:
        Participant("worker").handler(namespace["h"])  # type: ignore[arg-type]
    assert str(caught.value).startswith("participant worker, handler 'h'")


def test_one_handler_per_event_type_and_a_sane_name() -> None:
    worker = Participant("worker")

    @worker.handler
    def first(request: Ask) -> None:
        return None

    def second(request: Ask) -> None:
        return None

    with pytest.raises(DefinitionError, match="already handled by first"):
        worker.handler(second)
    with pytest.raises(DefinitionError, match="short identifier"):
        Participant("no spaces please")
