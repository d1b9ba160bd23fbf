"""Batch handlers: declared with ``list[...]`` annotations, checked at declaration, with a
fix named in one line when they are wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from saga.definition.participant import BatchContext, Context, Participant
from saga.errors import DefinitionError
from tests.sagas.jobs import Ask, No, NotAnEvent, Poke, Undo, Unlisted, Yes

NOW = datetime(2030, 1, 1, tzinfo=UTC)
NAMES: dict[str, object] = {
    "Ask": Ask,
    "BatchContext": BatchContext,
    "Context": Context,
    "NotAnEvent": NotAnEvent,
    "Undo": Undo,
    "Unlisted": Unlisted,
    "Yes": Yes,
}


def declared(source: str) -> object:
    namespace = dict(NAMES)
    exec(source, namespace)
    return namespace["h"]


def test_a_batch_handler_is_routed_by_its_list_annotation_and_stays_callable() -> None:
    worker = Participant("worker")

    @worker.batch_handler
    def answer(requests: list[Ask], context: BatchContext) -> list[Yes | No | None]:
        return [Yes(job_id=r.job_id) for r in requests]

    @answer.batch_compensation
    def undo(requests: list[Undo]) -> None:
        return None

    @answer.compensation  # a compensation of a batch handler may take one request at a time
    def poke(request: Poke) -> None:
        return None

    assert (answer.batch, answer.consumes, answer.emits) == (True, Ask, (Yes, No))
    assert (undo.batch, undo.compensates, undo.emits) == (True, "answer", ())
    assert (poke.batch, poke.compensates) == (False, "answer")
    assert worker.has_batch_handlers
    assert set(worker.produces()) == {Yes.__event_name__, No.__event_name__}
    assert set(worker.consumes()) == {e.__event_name__ for e in (Ask, Undo, Poke)}
    context = BatchContext("worker", NOW, ())
    assert answer([Ask(job_id="j")], context) == [Yes(job_id="j")]
    assert "batch handler worker.answer" in repr(answer)


def test_a_participant_of_single_handlers_takes_no_batches() -> None:
    worker = Participant("worker")

    @worker.handler
    def answer(request: Ask) -> Yes:
        return Yes(job_id=request.job_id)

    assert not worker.has_batch_handlers
    assert not answer.batch


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (
            "def h(requests: Ask) -> list[Yes]: return []",
            "a batch handler takes a list of requests: annotate the first parameter "
            "requests: list[Ask], or declare it with .handler",
        ),
        (
            "def h(requests: list[NotAnEvent]) -> None: return None",
            "annotate the first parameter with a list of the one event class it handles",
        ),
        (
            "def h(requests: list[Ask | Undo]) -> None: return None",
            "annotate the first parameter with a list of the one event class it handles",
        ),
        (
            "def h(requests: list[Ask]) -> Yes: return None",
            "a batch handler returns one result per request, in order; annotate -> list[...]",
        ),
        (
            "def h(requests: list[Ask]) -> list[int]: return []",
            "it may return only events or None per request",
        ),
        (
            "def h(requests: list[Ask]): return None",
            "add a return annotation naming the events it emits per request",
        ),
        (
            "def h(requests: list[Ask], context: Context) -> None: return None",
            "a batch handler's second parameter is a BatchContext, not a Context",
        ),
        (
            "def h() -> None: return None",
            "takes the list of requests and optionally the BatchContext",
        ),
        ("def h(requests: list[Unlisted]) -> None: return None", "event Unlisted: no Avro"),
    ],
)
def test_bad_batch_handlers_fail_when_declared(source: str, fragment: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        Participant("worker").batch_handler(declared(source))  # type: ignore[arg-type]
    assert str(caught.value).startswith("participant worker, handler 'h'")
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (
            "def h(requests: list[Ask]) -> None: return None",
            "it takes a list of Ask: declare it with .batch_handler or .batch_compensation",
        ),
        (
            "def h(request: Ask, context: BatchContext) -> None: return None",
            "a handler's second parameter is a Context, not a BatchContext",
        ),
    ],
)
def test_a_single_handler_written_as_a_batch_one_names_the_fix(source: str, fragment: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        Participant("worker").handler(declared(source))  # type: ignore[arg-type]
    assert fragment in str(caught.value)


def test_one_handler_per_event_type_whatever_its_kind() -> None:
    worker = Participant("worker")

    @worker.handler
    def first(request: Ask) -> None:
        return None

    def second(requests: list[Ask]) -> None:
        return None

    with pytest.raises(DefinitionError, match="already handled by first"):
        worker.batch_handler(second)
