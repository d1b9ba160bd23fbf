"""Operators' commands in the pure engine: what retry, resume and compensate do to a
snapshot, when they are refused, and the JSON they leave (additive: recorded histories and
snapshots of instances that never met an operator stay as they were)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from saga.contracts.events import Event
from saga.definition.declarations import Start, State, Step, transition
from saga.definition.saga import Saga, definition_of
from saga.engine.decide import Decision, decide, park
from saga.engine.instance import HistoryEntry, Instance
from saga.engine.messages import (
    Message,
    Operation,
    OperatorCommand,
    SignalReceived,
    derived_id,
    input_from_json,
)
from saga.engine.operations import SagaShape, check, plan
from saga.errors import OperationRefused
from saga.testing import Harness
from tests.sagas.jobs import Ask, Ask2, Begun, Job, No, Note, Poke, Undo, Yes, Yes2

NOW = datetime(2030, 1, 1, tzinfo=UTC)
_broken = {"second": False}  # the request builder of step `second` raises while True


def _ask2(job: Job) -> Ask2:
    if _broken["second"]:
        raise RuntimeError("ask2 is broken")
    return Ask2(job_id=job.job_id)


def _refuse(job: Job, event: Note) -> bool:
    raise ValueError("guard is broken")


class Flow(Saga[Job], name="unit.Flow", correlation="job_id"):
    first = Step(Ask, success=Yes, failure=No, compensation=Undo)
    second = Step(_ask2, success=Yes2, kind="pivot")

    start = Start(Begun, to="one")
    one = State(run=first, then="two", timeout=timedelta(minutes=5))
    two = State(run=second, then="idle")
    idle = State()
    lost = State(final="failed")
    done = State(final="completed")

    giving_up = transition(one, on=Poke, to=lost)
    checked = transition(idle, on=Note, to=done, guard=_refuse)


F = definition_of(Flow)
SHAPE = SagaShape.of(F)


@pytest.fixture(autouse=True)
def _fixed() -> None:
    _broken["second"] = False


def msg(event: Event, name: str) -> Message:
    return Message.new(event, event_id=derived_id("ops", name), correlation_id="j", producer="t")


def command(operation: Operation, step: str | None = None, name: str = "c") -> OperatorCommand:
    return OperatorCommand(
        F.name, "j", operation, derived_id("ops", name), "alice", "because", step
    )


def applied(decision: Decision) -> Instance:
    assert decision.outcome == "applied"
    assert decision.instance is not None
    return decision.instance


def entry(decision: Decision) -> HistoryEntry:
    assert decision.history is not None
    return decision.history


def run(*inputs: Event, instance: Instance | None = None) -> Instance:
    for i, event in enumerate(inputs):
        instance = applied(decide(F, instance, msg(event, f"in-{i}"), NOW))
    assert instance is not None
    return instance


def test_resume_goes_back_to_the_state_it_was_parked_in_and_requests_its_open_step() -> None:
    _broken["second"] = True
    parked = run(Begun(job_id="j"), Yes(job_id="j"))  # entering `two` raised: parked in one
    assert (parked.status, parked.parked_from) == ("failed", "one")
    assert parked.steps["first"].status == "requested"  # the answer's decision was dropped
    _broken["second"] = False

    decision = decide(F, parked, command("resume"), NOW)
    resumed = applied(decision)
    assert (resumed.state, resumed.status, resumed.parked_reason, resumed.parked_from) == (
        "one",
        "running",
        None,
        None,
    )
    assert [m.event for m in decision.emitted] == [Ask(job_id="j")]
    assert resumed.steps["first"].attempts == 2
    assert decision.schedule is not None  # the state's deadline, afresh
    assert decision.schedule.due == NOW + timedelta(minutes=5)
    made = entry(decision)
    assert (made.trigger, made.from_state, made.to_state, made.by, made.reason) == (
        "operator:resume",
        "lost",  # where the engine parks: the saga's own failed end
        "one",
        "alice",
        "because",
    )
    assert made.note == "operator resume by alice: back to one"
    carried_on = run(Yes(job_id="j"), instance=resumed)
    assert (carried_on.state, carried_on.status) == ("two", "running")


def test_resume_after_a_raising_guard_waits_in_the_state_again() -> None:
    parked = run(Begun(job_id="j"), Yes(job_id="j"), Yes2(job_id="j"), Note(job_id="j"))
    assert parked.parked_from == "idle"
    decision = decide(F, parked, command("resume"), NOW)
    assert (applied(decision).state, decision.emitted, decision.schedule) == ("idle", (), None)


def test_retry_of_a_running_instance_requests_the_unanswered_step_again() -> None:
    waiting = run(Begun(job_id="j"))
    decision = decide(F, waiting, command("retry"), NOW)
    after = applied(decision)
    assert [m.event for m in decision.emitted] == [Ask(job_id="j")]
    assert decision.emitted[0].causation_id == derived_id("ops", "c")
    assert after.steps["first"].attempts == 2
    assert after.deadline == waiting.deadline  # the state's time runs on
    assert entry(decision).note == "operator retry by alice"


def test_a_parked_instance_remembers_where_it_was_first_parked() -> None:
    _broken["second"] = True
    parked = run(Begun(job_id="j"), Yes(job_id="j"))
    again = applied(park(F, parked, msg(Poke(job_id="j"), "late"), NOW, "not hosted here"))
    assert (again.parked_from, again.parked_reason) == ("one", "not hosted here")


def test_compensate_rolls_back_a_parked_instance() -> None:
    _broken["second"] = True
    parked = run(Begun(job_id="j"), Yes(job_id="j"))  # `first` still requested: in flight
    decision = decide(F, parked, command("compensate"), NOW)
    rolling = applied(decision)
    assert (rolling.state, rolling.status, rolling.parked_reason) == (
        "compensating",
        "compensating",
        None,
    )
    assert rolling.failure == "operator compensate by alice: because"
    assert rolling.parked_from is None
    done = run(Yes(job_id="j"), instance=rolling)  # late success: undone, then compensated
    assert done.status == "compensated"


@pytest.mark.parametrize(
    ("inputs", "operation", "step", "refusal"),
    [
        ((Begun(job_id="j"),), "resume", None, "it is running, not parked"),
        ((Begun(job_id="j"),), "retry", "second", "not one of state one's"),
        ((Begun(job_id="j"),), "retry", "third", "no step 'third' (steps: first, second)"),
        ((Begun(job_id="j"),), "compensate", "first", "only retry takes a step"),
        (
            (Begun(job_id="j"), Poke(job_id="j")),
            "resume",
            None,
            "it ended in lost with no state to go back to (moved to lost by",
        ),
        (
            (Begun(job_id="j"), Yes(job_id="j"), Yes2(job_id="j")),
            "compensate",
            None,
            "pivot step second succeeded",
        ),
        (
            (Begun(job_id="j"), Yes(job_id="j"), Yes2(job_id="j")),
            "retry",
            None,
            "no step failed or waits for an answer",
        ),
        ((Begun(job_id="j"), No(job_id="j")), "retry", None, "it ended compensated"),
    ],
)
def test_what_each_status_refuses(
    inputs: tuple[Event, ...], operation: Operation, step: str | None, refusal: str
) -> None:
    instance = run(*inputs)
    refused = plan(instance, operation, SHAPE, step).refused
    assert refused is not None
    assert refusal in refused
    with pytest.raises(OperationRefused, match=f"cannot {operation} instance 'j' of saga"):
        check(instance, operation, SHAPE, step, by="alice", reason="because")


def test_a_command_the_instance_can_no_longer_take_is_recorded_as_ignored() -> None:
    running = run(Begun(job_id="j"))  # queued while parked, say; resumed by someone else since
    decision = decide(F, running, command("resume"), NOW)
    after = applied(decision)
    assert decision.ignored
    assert (after.state, after.version, decision.emitted) == ("one", running.version + 1, ())
    assert entry(decision).note.startswith("ignored: operator resume refused: it is running")
    assert entry(decision).by == "alice"


def test_a_parked_start_has_nowhere_to_go_back_to() -> None:
    parked = applied(park(F, run(Begun(job_id="j")), msg(Poke(job_id="j"), "p"), NOW, "x"))
    at_start = Instance(F.name, "j", "lost", "failed", {}, parked_reason="x")
    assert plan(parked, "resume", SHAPE).refused is None
    assert "with no state to go back to (x)" in (plan(at_start, "resume", SHAPE).refused or "")


def test_check_wants_a_known_operation_and_who_and_why() -> None:
    instance = run(Begun(job_id="j"))
    with pytest.raises(OperationRefused, match="no operation 'restart'"):
        check(instance, "restart", SHAPE, by="a", reason="b")
    with pytest.raises(OperationRefused, match="who sends it and why"):
        check(instance, "retry", SHAPE, by="a", reason="  ")


def test_the_json_is_additive() -> None:
    instance = run(Begun(job_id="j"))
    plain = decide(F, instance, msg(Yes(job_id="j"), "y"), NOW)
    assert "by" not in entry(plain).to_json()
    assert "reason" not in entry(plain).to_json()
    assert "parked_from" not in applied(plain).to_json()
    made = entry(decide(F, instance, command("retry", "first"), NOW))
    assert (made.to_json()["by"], made.to_json()["reason"]) == ("alice", "because")
    assert HistoryEntry.from_json(made.to_json()) == made
    _broken["second"] = True
    parked = run(Yes(job_id="j"), instance=instance)
    assert Instance.from_json(parked.to_json()) == parked
    assert parked.to_json()["parked_from"] == "one"
    for inp in (
        command("retry", "first"),
        command("resume"),
        SignalReceived(F.name, "j", "stop", "s", by="bob", reason="asked to"),
    ):
        assert input_from_json(inp.to_json()) == inp
    assert "by" not in SignalReceived(F.name, "j", "stop", "s").to_json()
    assert SagaShape.from_json(SHAPE.to_json()) == SHAPE


def test_the_harness_records_commands_so_that_replays_reproduce_them() -> None:
    from saga.testing import replay

    harness = Harness(sagas=[Flow])
    for event in (Begun(job_id="j"), Yes(job_id="j"), Yes2(job_id="j"), Note(job_id="j")):
        harness.publish(event)  # the guard of `checked` raises: parked in idle
    harness.drain()
    made = harness.resume(Flow, "j", reason="guard fixed", by="dora")
    assert (made.trigger, made.to_state, made.by) == ("operator:resume", "idle", "dora")
    recording = harness.recording(Flow, "j")
    assert recording["inputs"][-1]["input"]["kind"] == "operator"
    assert replay(Flow, recording) == harness.history(Flow, "j")
