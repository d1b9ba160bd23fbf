"""The pure engine: decisions from (definition, snapshot, input, now), with no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from saga.contracts.events import Event
from saga.definition.declarations import COMPENSATE, Signal, Start, State, Step, transition
from saga.definition.saga import Saga, definition_of
from saga.engine.decide import Decision, decide
from saga.engine.instance import HistoryEntry, Instance
from saga.engine.messages import DeadlineFired, Message, SignalReceived, derived_id, input_from_json
from saga.engine.processing import handle_saga_input
from saga.errors import ConcurrencyError, UnknownInstanceError
from saga.testing._memory import MemoryStore
from tests.sagas.jobs import Ask, Ask2, Begun, Job, No, Note, Poke, Undo, Undo2, Yes, Yes2

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _explode(job: Job) -> Undo2:
    raise RuntimeError("no undo today")


class Pair(Saga[Job], name="unit.Pair", correlation="job_id"):
    first = Step(Ask, success=Yes, failure=No, compensation=Undo)
    second = Step(Ask2, success=Yes2, compensation=_explode)
    stop = Signal()

    start = Start(Begun, to="one")
    one = State(run=first, then="two", timeout=timedelta(minutes=5))
    two = State(run=second, then="idle")
    idle = State()
    done = State(final="completed")

    halt = transition(one, on=stop, to=COMPENSATE)
    undo_all = transition(idle, on=Poke, to=COMPENSATE)

    @transition(idle, on=Note, to=done, guard=lambda job, event: job.pokes >= 0)
    def finish(job: Job, event: Note) -> Note:
        job.pokes = -1
        raise ValueError("boom")


P = definition_of(Pair)


def msg(event: Event, event_id: str = "e1") -> Message:
    # Readable names in the tests; ids on the wire are UUIDs.
    return Message.new(
        event, event_id=derived_id("test", event_id), correlation_id="j", producer="t"
    )


def applied(decision: Decision) -> Instance:
    assert decision.outcome == "applied"
    assert decision.instance is not None
    return decision.instance


def started() -> Instance:
    return applied(decide(P, None, msg(Begun(job_id="j"), "start"), NOW))


def test_a_start_event_creates_the_instance_requests_and_sets_the_deadline() -> None:
    decision = decide(P, None, msg(Begun(job_id="j"), "start"), NOW)
    instance = applied(decision)
    assert (instance.instance_id, instance.state, instance.version) == ("j", "one", 1)
    assert [m.event for m in decision.emitted] == [Ask(job_id="j")]
    assert decision.schedule is not None
    assert decision.schedule.due == NOW + timedelta(minutes=5)
    assert decision.history is not None
    assert decision.history.from_state is None


def test_the_same_input_gives_the_same_decision() -> None:
    instance = started()
    a = decide(P, instance, msg(Yes(job_id="j"), "y"), NOW)
    b = decide(P, instance, msg(Yes(job_id="j"), "y"), NOW)
    assert a == b
    assert [m.event_id for m in a.emitted] == [m.event_id for m in b.emitted]
    c = decide(P, instance, msg(Yes(job_id="j"), "other-id"), NOW)
    assert [m.event_id for m in c.emitted] != [m.event_id for m in a.emitted]


def test_leaving_a_state_cancels_its_deadline() -> None:
    instance = started()
    decision = decide(P, instance, msg(Yes(job_id="j"), "y"), NOW)
    assert decision.cancel == instance.deadline
    assert decision.schedule is None
    assert applied(decision).deadline is None


def test_a_cancelled_deadline_that_fires_anyway_is_stale() -> None:
    instance = started()
    assert instance.deadline is not None
    moved = applied(decide(P, instance, msg(Yes(job_id="j"), "y"), NOW))
    fired = DeadlineFired(P.name, "j", instance.deadline.deadline_id)
    assert decide(P, moved, fired, NOW).outcome == "stale"
    assert applied(decide(P, instance, fired, NOW)).status == "compensating"  # Ask in flight


def test_an_orphan_answer_reports_the_policy() -> None:
    decision = decide(P, None, msg(Yes(job_id="j")), NOW)
    assert (decision.outcome, decision.orphan_policy) == ("orphan", "keep")


def test_a_raising_action_parks_the_instance_and_emits_nothing() -> None:
    instance = started()
    instance = applied(decide(P, instance, msg(Yes(job_id="j"), "y"), NOW))
    instance = applied(decide(P, instance, msg(Yes2(job_id="j"), "y2"), NOW))
    assert instance.state == "idle"
    decision = decide(P, instance, msg(Note(job_id="j"), "n"), NOW)
    parked = applied(decision)
    assert (parked.state, parked.status) == ("failed", "failed")
    assert parked.parked_reason == "the action of transition finish raised ValueError('boom')"
    assert decision.emitted == ()
    assert parked.data == instance.data  # the action's change to the data is not kept


def test_a_compensation_that_cannot_be_built_parks_after_the_newer_ones() -> None:
    instance = started()
    instance = applied(decide(P, instance, msg(Yes(job_id="j"), "y"), NOW))
    instance = applied(decide(P, instance, msg(Yes2(job_id="j"), "y2"), NOW))
    decision = decide(P, instance, msg(Poke(job_id="j"), "p"), NOW)
    parked = applied(decision)
    assert parked.status == "failed"
    assert "the compensation of step second could not be issued" in (parked.parked_reason or "")
    assert decision.emitted == ()
    assert parked.steps["first"].status == "succeeded"  # not undone yet: an operator decides


def test_a_signal_in_a_state_that_does_not_accept_it_is_ignored() -> None:
    instance = started()
    instance = applied(decide(P, instance, msg(Yes(job_id="j"), "y"), NOW))
    decision = decide(P, instance, SignalReceived(P.name, "j", "stop", "s1"), NOW)
    assert decision.ignored
    assert applied(decision).state == "two"
    assert decision.history is not None
    assert decision.history.note == "ignored: signal stop is not accepted in state two"


def test_a_signal_where_accepted_compensates() -> None:
    instance = started()
    decision = decide(P, instance, SignalReceived(P.name, "j", "stop", "s1"), NOW)
    after = applied(decision)
    assert not decision.ignored
    assert after.state == "compensating"  # the first request is still in flight
    assert after.deadline is not None
    assert after.deadline.due == NOW + timedelta(hours=1)


def test_a_second_start_event_is_ignored() -> None:
    instance = started()
    decision = decide(P, instance, msg(Begun(job_id="j"), "again"), NOW)
    assert decision.ignored
    assert applied(decision).state == "one"


def test_instances_inputs_and_history_round_trip_through_json() -> None:
    instance = started()
    assert Instance.from_json(instance.to_json()) == instance
    decision = decide(P, instance, msg(Yes(job_id="j"), "y"), NOW)
    assert decision.history is not None
    assert HistoryEntry.from_json(decision.history.to_json()) == decision.history
    for inp in (
        msg(Yes(job_id="j"), "y"),
        DeadlineFired(P.name, "j", "d"),
        SignalReceived(P.name, "j", "stop", "s"),
    ):
        # What a recording keeps (type, payload, ids) comes back whole.
        assert input_from_json(inp.to_json()).to_json() == inp.to_json()


def test_processing_dedupes_by_input_id_per_consumer() -> None:
    store = MemoryStore()
    with store.unit_of_work() as uow:
        first = handle_saga_input(uow, P, msg(Begun(job_id="j"), "start"), NOW)
    with store.unit_of_work() as uow:
        again = handle_saga_input(uow, P, msg(Begun(job_id="j"), "start"), NOW)
    assert not first.duplicate
    assert again.duplicate
    assert len(store.history[(P.name, "j")]) == 1
    assert len(store.outbox) == 1


def test_a_signal_for_no_instance_is_an_error() -> None:
    store = MemoryStore()
    with (
        pytest.raises(UnknownInstanceError, match="no instance 'ghost'"),
        store.unit_of_work() as uow,
    ):
        handle_saga_input(uow, P, SignalReceived(P.name, "ghost", "stop", "s"), NOW)
    assert store.inbox == set()  # rolled back: the signal can be sent again


def test_saving_over_a_newer_version_is_a_conflict() -> None:
    store = MemoryStore()
    instance = started()
    with store.unit_of_work() as uow:
        uow.save(instance, expected_version=0)
    with (
        pytest.raises(ConcurrencyError, match="stored version 1, expected 0") as caught,
        store.unit_of_work() as uow,
    ):
        uow.save(instance, expected_version=0)
    assert caught.value.retriable


def _shout(job: Job) -> Ask:
    return Ask(job_id=job.job_id.upper())


def test_a_request_built_by_a_function_of_the_data() -> None:
    class Built(Saga[Job], name="unit.Built"):
        ask = Step(_shout, success=Yes, failure=No, compensation=Undo)
        start = Start(Begun, to="asking")
        asking = State(run=ask, then="done")
        done = State(final="completed")

    decision = decide(definition_of(Built), None, msg(Begun(job_id="j"), "s"), NOW)
    assert [m.event for m in decision.emitted] == [Ask(job_id="J")]
    assert definition_of(Built).steps["ask"].request_type is Ask


def test_a_lambda_builder_is_told_to_become_a_def() -> None:
    from saga.errors import DefinitionError

    with pytest.raises(DefinitionError, match="a lambda cannot be annotated: use a def"):

        class Lambda(Saga[Job]):
            ask = Step(lambda job: Ask(job_id=job.job_id), success=Yes, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="done")
            done = State(final="completed")
