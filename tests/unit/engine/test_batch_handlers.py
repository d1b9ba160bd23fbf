"""Batch handlers on the processing path: they put exactly what single handlers would in
the outbox, are called once per run of their inputs without reordering an instance's
inputs, and what they return is checked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from saga.definition.participant import BatchContext, Context, Participant
from saga.engine.hosting import Consumer
from saga.engine.messages import Input, Message, derived_id
from saga.engine.participants import run_batch_handler
from saga.engine.processing import Handled, handle_inputs
from saga.errors import DefinitionError
from saga.testing._memory import MemoryStore
from tests.sagas.jobs import Ask, No, Poke, Undo, Yes

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TRACE = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def message(event: Ask | Undo | Poke, name: str, *, traceparent: str | None = None) -> Message:
    return Message.new(
        event,
        event_id=derived_id("test", name),
        correlation_id=event.job_id,
        causation_id=derived_id("test", "cause", name),
        producer="t",
        traceparent=traceparent,
    )


def answer_one(request: Ask) -> Yes | No | list[Yes | No] | None:
    """The shared logic: nothing, two events or one, by the job id."""
    if request.job_id.startswith("none"):
        return None
    if request.job_id.startswith("two"):
        return [Yes(job_id=request.job_id), No(job_id=request.job_id)]
    return Yes(job_id=request.job_id)


def single_worker() -> Participant:
    worker = Participant("worker")
    worker.handler(answer_one)
    return worker


def batch_worker() -> Participant:
    worker = Participant("worker")

    @worker.batch_handler
    def answer(requests: list[Ask]) -> list[Yes | No | list[Yes | No] | None]:
        return [answer_one(r) for r in requests]

    return worker


@dataclass
class _Watch:
    traceparent: str | None
    results: list[Handled] = field(default_factory=list)

    def done(self, result: Handled) -> None:
        self.results.append(result)


class Tracer:
    """An observer that gives each input a span of its own (derived from its id)."""

    def __init__(self) -> None:
        self.watched: list[tuple[str, str, object]] = []
        self.done: dict[str, list[Handled]] = {}  # by input id

    @contextmanager
    def watch(
        self, consumer: Consumer, inp: Input, subject: str, parent: object | None
    ) -> Iterator[_Watch]:
        self.watched.append((inp.input_id, subject, parent))
        span = hashlib.sha256(inp.input_id.encode()).hexdigest()[:16]
        watch = _Watch(f"00-{'c' * 32}-{span}-01")
        yield watch
        self.done[inp.input_id] = watch.results


def outbox_of(
    worker: Participant, inputs: Sequence[Message], tracer: Tracer | None = None
) -> list[Message]:
    store = MemoryStore()
    parents = [f"record {i}" for i in range(len(inputs))]
    with store.unit_of_work() as uow:
        handle_inputs(uow, worker, inputs, NOW, observer=tracer, parents=parents)
    return store.take_outbox()


INPUTS = [
    message(Ask(job_id="j1"), "1"),
    message(Ask(job_id="two-2"), "2", traceparent=TRACE),
    message(Ask(job_id="none-3"), "3"),
    message(Ask(job_id="j4"), "4", traceparent=TRACE),
]


@pytest.mark.parametrize("traced", [False, True], ids=["untraced", "traced"])
def test_a_batch_handler_emits_exactly_what_a_single_handler_does(traced: bool) -> None:
    single_tracer, batch_tracer = (Tracer(), Tracer()) if traced else (None, None)
    single = outbox_of(single_worker(), INPUTS, single_tracer)
    batch = outbox_of(batch_worker(), INPUTS, batch_tracer)
    assert batch == single  # events and whole envelopes: ids, causation, trace context
    assert [m.event_id for m in batch] == [
        derived_id("worker", INPUTS[0].event_id, "0"),
        derived_id("worker", INPUTS[1].event_id, "0"),
        derived_id("worker", INPUTS[1].event_id, "1"),
        derived_id("worker", INPUTS[3].event_id, "0"),
    ]
    assert [m.causation_id for m in batch] == [INPUTS[i].event_id for i in (0, 1, 1, 3)]
    assert [m.correlation_id for m in batch] == ["j1", "two-2", "two-2", "j4"]
    if not traced:
        assert [m.envelope.traceparent for m in batch] == [None, TRACE, TRACE, TRACE]
        return
    assert single_tracer is not None
    assert batch_tracer is not None
    # Each input watched under its own record, as when handled alone, and told its result.
    assert batch_tracer.watched == single_tracer.watched
    assert [w[2] for w in batch_tracer.watched] == [f"record {i}" for i in range(4)]
    assert batch_tracer.done == single_tracer.done
    assert len({m.envelope.traceparent for m in batch}) == 3  # one span per input


def test_handlers_get_their_inputs_together_but_an_instance_keeps_its_order() -> None:
    worker = Participant("worker")
    calls: list[tuple[str, list[str]]] = []

    @worker.batch_handler
    def answer(requests: list[Ask]) -> list[Yes]:
        calls.append(("answer", [r.job_id for r in requests]))
        return [Yes(job_id=r.job_id) for r in requests]

    @answer.batch_compensation
    def undo(requests: list[Undo]) -> list[No]:
        calls.append(("undo", [r.job_id for r in requests]))
        return [No(job_id=r.job_id) for r in requests]

    @worker.handler
    def poke(request: Poke) -> None:
        calls.append(("poke", [request.job_id]))

    store = MemoryStore()
    seen_before = message(Ask(job_id="g"), "g")
    with store.unit_of_work() as uow:
        handle_inputs(uow, worker, [seen_before], NOW)
    calls.clear()
    store.take_outbox()
    inputs = [
        message(Ask(job_id="a"), "a"),
        message(Ask(job_id="b"), "b"),
        message(Undo(job_id="c"), "c"),
        message(Poke(job_id="d"), "d"),
        message(Ask(job_id="e"), "e"),
        message(Undo(job_id="a"), "undo a"),  # a's Ask must go first: a second round
        message(Ask(job_id="f"), "f"),
        message(Ask(job_id="b"), "b"),  # the same event again
        seen_before,
    ]
    with store.unit_of_work() as uow:
        handled = handle_inputs(uow, worker, inputs, NOW)
    assert calls == [
        ("answer", ["a", "b", "e"]),
        ("undo", ["c"]),
        ("poke", ["d"]),
        ("undo", ["a"]),
        ("answer", ["f"]),
    ]
    assert [h.duplicate for h in handled] == [False] * 7 + [True, True]
    emitted = [(type(m.event).__name__, m.correlation_id) for m in store.take_outbox()]
    # Queued in input order, whatever the order of the calls.
    assert emitted == [
        ("Yes", "a"),
        ("Yes", "b"),
        ("No", "c"),
        ("Yes", "e"),
        ("No", "a"),
        ("Yes", "f"),
    ]


def test_the_batch_context_holds_what_each_single_handler_would_get() -> None:
    worker = Participant("worker")
    seen: list[BatchContext] = []

    @worker.batch_handler
    def answer(requests: list[Ask], context: BatchContext) -> None:
        seen.append(context)

    session = object()
    run_batch_handler(worker, answer, INPUTS[:2], NOW, session=session)
    [context] = seen
    assert (context.participant, context.now, context.session) == ("worker", NOW, session)
    assert context.per_request == tuple(
        Context("worker", m.event_id, m.correlation_id, m.causation_id, NOW) for m in INPUTS[:2]
    )
    assert all(c.session is session for c in context.per_request)


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ([Yes(job_id="x")], "returned 1 results for 2 requests; return one per request"),
        (Yes(job_id="x"), "return a list with one result per request, in order, or None"),
        ([Undo(job_id="x"), None], "which its return annotation does not name"),
        ([None, [Yes(job_id="x"), 3]], "returned 3, which its return annotation does not name"),
    ],
)
def test_what_a_batch_handler_returns_is_checked_each_time(returned: object, fragment: str) -> None:
    worker = Participant("worker")

    @worker.batch_handler
    def answer(requests: list[Ask]) -> list[Yes | list[Yes] | None]:
        return returned  # type: ignore[return-value]

    with pytest.raises(DefinitionError) as caught:
        run_batch_handler(worker, answer, INPUTS[:2], NOW)
    assert str(caught.value).startswith("participant worker, ")
    assert fragment in str(caught.value)


def test_none_from_a_batch_handler_emits_nothing_for_any_request() -> None:
    worker = Participant("worker")

    @worker.batch_handler
    def answer(requests: list[Ask]) -> list[Yes] | None:
        return None

    assert run_batch_handler(worker, answer, INPUTS, NOW) == [[], [], [], []]
