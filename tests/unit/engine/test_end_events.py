"""A terminal state may announce the saga's end with an event (``State(final=..., emit=...)``),
so that other services learn the outcome; a failed (parked) end announces nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from saga.definition.choreography import check_choreography
from saga.definition.declarations import COMPENSATE, Signal, Start, State, Step, transition
from saga.definition.diagram import mermaid
from saga.definition.participant import Participant
from saga.definition.saga import Saga, definition_of
from saga.errors import DefinitionError
from saga.testing.harness import Harness
from tests.sagas.jobs import Ask, Begun, Job, No, Note, Poke, Undo, Yes


def _note(job: Job) -> Note:
    return Note(job_id=f"{job.job_id}-ended")


class Announced(Saga[Job], name="unit.Announced", correlation="job_id", orphans="ignore"):
    ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
    stop = Signal()

    start = Start(Begun, to="asking")
    asking = State(run=ask, then="done", timeout=timedelta(minutes=1))
    done = State(final="completed", emit=Poke)
    undone = State(final="compensated", emit=_note)

    halt = transition(asking, on=stop, to=COMPENSATE)


def _harness() -> tuple[Harness, list[str]]:
    answers = Participant("answers")
    seen: list[str] = []

    @answers.handler
    def ask(request: Ask) -> Yes | No:
        return No(job_id=request.job_id) if request.job_id == "no" else Yes(job_id=request.job_id)

    @ask.compensation
    def undo(request: Undo) -> None:
        seen.append(f"undo {request.job_id}")

    return Harness([Announced], [answers]), seen


def test_the_completed_state_emits_its_event_once() -> None:
    harness, _ = _harness()
    harness.publish(Begun(job_id="yes"))
    harness.drain()
    assert harness.state(Announced, "yes") == "done"
    assert [m.event for m in harness.published(Poke)] == [Poke(job_id="yes")]
    assert harness.published(Note) == []


def test_the_compensated_state_emits_its_event_after_the_compensations() -> None:
    harness, seen = _harness()
    harness.publish(Begun(job_id="no"))
    harness.drain()
    assert harness.state(Announced, "no") == "undone"
    assert [m.event for m in harness.published(Note)] == [Note(job_id="no-ended")]

    harness.hold(Yes)  # answered late: the end comes after the late success is undone
    harness.publish(Begun(job_id="late"))
    harness.drain()
    harness.signal(Announced, "late", "stop")
    harness.drain()
    assert harness.state(Announced, "late") == "compensating"
    assert len(harness.published(Note)) == 1  # not yet: a step is still in flight
    harness.release()
    harness.drain()
    assert harness.state(Announced, "late") == "undone"
    assert seen == ["undo late"]
    assert [m.event.job_id for m in harness.published(Note)] == ["no-ended", "late-ended"]


def test_the_end_event_counts_as_produced_and_is_drawn() -> None:
    assert "test.unit.Poke" in definition_of(Announced).produces()
    assert "test.unit.Note" in definition_of(Announced).produces()
    report = check_choreography([Announced], [])
    assert "test.unit.Poke" in report.produced_not_consumed
    assert "done --> [*] : / Poke" in mermaid(Announced)


def test_only_completed_or_compensated_terminal_states_emit() -> None:
    with pytest.raises(DefinitionError) as caught:

        class Wrong(Saga[Job], correlation="job_id"):
            ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="done", emit=Poke)
            done = State(final="completed")
            parked = State(final="failed", emit=Poke)

    text = str(caught.value)
    assert "state asking: only a terminal state emits" in text
    assert "state parked: a failed (parked) end emits nothing" in text


def test_an_end_event_the_data_cannot_fill_fails_at_class_creation() -> None:
    def untyped(job):  # type: ignore[no-untyped-def]
        return Poke(job_id=job.job_id)

    with pytest.raises(DefinitionError, match="end event 'untyped' needs a return annotation"):

        class Unannotated(Saga[Job], correlation="job_id"):
            ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="done")
            done = State(final="completed", emit=untyped)


def test_an_end_event_builder_that_raises_parks_the_instance() -> None:
    def broken(job: Job) -> Poke:
        raise RuntimeError("no announcement today")

    class Broken(Saga[Job], name="unit.Broken", correlation="job_id"):
        ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
        start = Start(Begun, to="asking")
        asking = State(run=ask, then="done")
        done = State(final="completed", emit=broken)

    answers = Participant("answers")

    @answers.handler
    def ask(request: Ask) -> Yes:
        return Yes(job_id=request.job_id)

    harness = Harness([Broken], [answers])
    harness.publish(Begun(job_id="j"))
    harness.drain()
    assert harness.state(Broken, "j") == "failed"
    assert harness.published(Poke) == []
