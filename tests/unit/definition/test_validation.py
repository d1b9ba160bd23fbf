"""Every definition mistake fails at class creation with one DefinitionError that names the
saga, the state and the event, and says how to fix it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from saga.definition.declarations import COMPENSATE, Signal, Start, State, Step, transition
from saga.definition.saga import Saga, definition_of
from saga.errors import DefinitionError
from tests.sagas.jobs import (
    Ask,
    Ask2,
    Begun,
    Job,
    No,
    No2,
    NotAnEvent,
    Note,
    Poke,
    Undo,
    Undo2,
    Unlisted,
    Yes,
    Yes2,
)


def error_of(build: Any) -> str:
    with pytest.raises(DefinitionError) as caught:
        build()
    return str(caught.value)


def test_a_sound_definition_compiles() -> None:
    class Fine(Saga[Job], correlation="job_id"):
        ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
        start = Start(Begun, to="asking")
        asking = State(run=ask, then="done", timeout=timedelta(minutes=1))
        done = State(final="completed")

    d = definition_of(Fine)
    assert set(d.states) == {"asking", "done", "compensated", "failed"}
    assert d.can_compensate


def test_unreachable_state() -> None:
    def build() -> None:
        class Lost(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State()
            island = State()
            done = State(final="completed")
            go = transition(waiting, on=Poke, to="done")
            leave = transition(island, on=Poke, to="done")

    message = error_of(build)
    assert message.startswith("saga Lost, state island: unreachable")
    assert "connect it or remove it" in message


def test_state_with_no_path_to_a_terminal_state() -> None:
    def build() -> None:
        class Trapped(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State()
            stuck = State()
            done = State(final="completed")
            go = transition(waiting, on=Poke, to="stuck")
            finish = transition(waiting, on=Note, to="done")

    message = error_of(build)
    assert "saga Trapped, state stuck: no path to a terminal state" in message


def test_event_without_avro_contract() -> None:
    def build() -> None:
        class Uncontracted(Saga[Job]):
            ask = Step(Ask, success=Unlisted, failure=No, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="done")
            done = State(final="completed")

    message = error_of(build)
    assert "saga Uncontracted, state asking, step ask, event Unlisted" in message
    assert "no Avro contract" in message
    assert "avro/" in message


def test_class_that_is_not_an_event() -> None:
    def build() -> None:
        class NotEvents(Saga[Job]):
            start = Start(NotAnEvent, to="done")  # type: ignore[arg-type]
            done = State(final="completed")

    message = error_of(build)
    assert "saga NotEvents" in message
    assert "is not an Event class" in message


def test_compensatable_step_without_compensation() -> None:
    def build() -> None:
        class NoUndo(Saga[Job]):
            ask = Step(Ask, success=Yes, failure=No)
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="done")
            done = State(final="completed")

    message = error_of(build)
    assert message.startswith("saga NoUndo, state asking, step ask, event Ask: compensatable")
    assert "compensation=" in message


def test_ambiguous_transitions_on_the_same_trigger() -> None:
    def build() -> None:
        class Twice(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State()
            done = State(final="completed")
            other = State(final="completed")
            first = transition(waiting, on=Poke, to=done)
            second = transition(waiting, on=Poke, to=other)

    message = error_of(build)
    assert "saga Twice, state waiting, event Poke: ambiguous transitions first, second" in message
    assert "guard" in message


def test_guarded_transitions_on_the_same_trigger_are_fine() -> None:
    class Branches(Saga[Job]):
        start = Start(Begun, to="waiting")
        waiting = State()
        done = State(final="completed")
        other = State(final="completed")
        first = transition(waiting, on=Poke, to=done, guard=lambda job, e: job.pokes > 0)
        second = transition(waiting, on=Poke, to=other)

    assert len(definition_of(Branches).transitions_for("waiting", Poke.__event_name__)) == 2


def test_transition_on_an_event_that_answers_a_step_is_ambiguous() -> None:
    def build() -> None:
        class Clash(Saga[Job]):
            ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="done")
            done = State(final="completed")
            shortcut = transition(asking, on=Yes, to=done)

    message = error_of(build)
    assert "saga Clash, state asking, event Yes: ambiguous" in message


def test_deadline_on_a_terminal_state() -> None:
    def build() -> None:
        class LateEnd(Saga[Job]):
            start = Start(Begun, to="done")
            done = State(final="completed", timeout=timedelta(minutes=5))

    message = error_of(build)
    assert message == (
        "saga LateEnd, state done: a terminal state cannot have a deadline: remove timeout="
    )


def test_step_after_the_pivot_must_be_retriable() -> None:
    def build() -> None:
        class PastPivot(Saga[Job]):
            commit = Step(Ask, success=Yes, failure=No, kind="pivot")
            more = Step(Ask2, success=Yes2, failure=No2, compensation=Undo2)
            start = Start(Begun, to="committing")
            committing = State(run=commit, then="finishing")
            finishing = State(run=more, then="done")
            done = State(final="completed")

    message = error_of(build)
    assert "saga PastPivot, state finishing, step more" in message
    assert "kind='retriable'" in message


def test_timeout_that_compensates_after_the_pivot() -> None:
    def build() -> None:
        class PastPivot2(Saga[Job]):
            commit = Step(Ask, success=Yes, failure=No, kind="pivot")
            start = Start(Begun, to="committing")
            committing = State(run=commit, then="waiting")
            waiting = State(timeout=timedelta(minutes=1))
            done = State(final="completed")
            go = transition(waiting, on=Poke, to=done)

    assert "saga PastPivot2, state waiting: its timeout would compensate" in error_of(build)


def test_pivot_step_with_a_compensation() -> None:
    def build() -> None:
        class UndoPivot(Saga[Job]):
            commit = Step(Ask, success=Yes, failure=No, kind="pivot", compensation=Undo)
            start = Start(Begun, to="committing")
            committing = State(run=commit, then="done")
            done = State(final="completed")

    assert "a pivot step is never compensated" in error_of(build)


def test_unknown_state_name() -> None:
    def build() -> None:
        class Typo(Saga[Job]):
            start = Start(Begun, to="wating")
            waiting = State()
            done = State(final="completed")

    message = error_of(build)
    assert "names 'wating', which is not a state of this saga (states: waiting, done)" in message


def test_steps_without_then() -> None:
    def build() -> None:
        class Nowhere(Saga[Job]):
            ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=ask)
            done = State(final="completed")

    assert "saga Nowhere, state asking: runs steps but has no then=" in error_of(build)


def test_step_run_by_no_state_and_by_two() -> None:
    def build() -> None:
        class Misplaced(Saga[Job]):
            ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
            spare = Step(Ask2, success=Yes2, failure=No2, compensation=Undo2)
            start = Start(Begun, to="one")
            one = State(run=ask, then="two")
            two = State(run=ask, then="done")
            done = State(final="completed")

    message = error_of(build)
    assert "saga Misplaced has 2 problems" in message
    assert "step ask: is run by states one and two" in message
    assert "step spare: no state runs this step" in message


def test_answer_shared_by_two_steps() -> None:
    def build() -> None:
        class Shared(Saga[Job]):
            a = Step(Ask, success=Yes, failure=No, compensation=Undo)
            b = Step(Ask2, success=Yes, failure=No2, compensation=Undo2)
            start = Start(Begun, to="both")
            both = State(run=(a, b), then="done")
            done = State(final="completed")

    assert "event Yes: answers both steps a and b" in error_of(build)


def test_step_state_on_a_cycle() -> None:
    def build() -> None:
        class Loop(Saga[Job]):
            ask = Step(Ask, success=Yes, failure=No, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="pondering")
            pondering = State()
            done = State(final="completed")
            again = transition(pondering, on=Poke, to=asking)
            finish = transition(pondering, on=Note, to=done)

    assert "saga Loop, state asking: runs steps ask but can be entered again" in error_of(build)


def test_missing_data_model_and_start_and_completed_state() -> None:
    def no_model() -> None:
        class Bare(Saga):  # type: ignore[type-arg]
            start = Start(Begun, to="done")
            done = State(final="completed")

    def no_start() -> None:
        class NoStart(Saga[Job]):
            done = State(final="completed")

    def no_completed() -> None:
        class NoEnd(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State()
            cancel = Signal()
            stop = transition(waiting, on=cancel, to=COMPENSATE)

    assert "saga Bare: no data model: declare it as class Bare(Saga[MyData])" in error_of(no_model)
    assert "saga NoStart: no start event" in error_of(no_start)
    assert "saga NoEnd: no completed state" in error_of(no_completed)


def test_request_needing_fields_the_data_lacks() -> None:
    from tests.sagas.shop import ReserveStock

    def build() -> None:
        class Thin(Saga[Job]):
            reserve = Step(ReserveStock, success=Yes, failure=No, compensation=Undo)
            start = Start(Begun, to="asking")
            asking = State(run=reserve, then="done")
            done = State(final="completed")

    message = error_of(build)
    assert "saga Thin, state asking, step reserve, event ReserveStock" in message
    assert "needs order_id, sku, quantity, which the data model Job lacks" in message


def test_start_event_lacking_required_data_fields() -> None:
    from tests.sagas.shop import Order, OrderPlaced, ShipmentDelayed

    def build() -> None:
        class Thin(Saga[Order]):
            start = Start(ShipmentDelayed, to="done")
            done = State(final="completed")

    message = error_of(build)
    assert "saga Thin, event ShipmentDelayed: the data model Order needs sku" in message
    assert "Start(..., data=fn)" in message
    del OrderPlaced


def test_correlation_field_missing_on_an_event() -> None:
    def build() -> None:
        class Lost(Saga[Job], correlation="order_id"):
            start = Start(Begun, to="done")
            done = State(final="completed")

    assert "saga Lost, event Begun: has no field 'order_id'" in error_of(build)


def test_action_without_return_annotation_and_with_non_event_return() -> None:
    def unannotated() -> None:
        class Mute(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State()
            done = State(final="completed")

            @transition(waiting, on=Poke, to=done)
            def go(job, event):  # type: ignore[no-untyped-def]
                return None

    def wrong() -> None:
        class Wrong(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State()
            done = State(final="completed")

            @transition(waiting, on=Poke, to=done)
            def go(job: Job, event: Poke) -> int:
                return 1

    assert "needs a return annotation naming the events it emits" in error_of(unannotated)
    assert "it may return only events" in error_of(wrong)


def test_transition_leaving_a_terminal_state_and_reserved_names() -> None:
    def build() -> None:
        class Undead(Saga[Job]):
            start = Start(Begun, to="done")
            done = State(final="completed")
            compensating = State()
            revive = transition(done, on=Poke, to=compensating)

    message = error_of(build)
    assert "state done, event Poke: transition revive leaves a terminal state" in message
    assert "'compensating' is the framework's own state" in message


def test_signal_not_declared_on_the_saga() -> None:
    stray = Signal()
    stray.name = "stray"

    def build() -> None:
        class Deaf(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State()
            done = State(final="completed")
            stop = transition(waiting, on=stray, to=done)

    assert "event signal stray: transition stop listens to a Signal that is not declared" in (
        error_of(build)
    )


def test_two_compensated_states() -> None:
    def build() -> None:
        class Double(Saga[Job]):
            start = Start(Begun, to="waiting")
            waiting = State(timeout=timedelta(minutes=1))
            done = State(final="completed")
            undone = State(final="compensated")
            undone_too = State(final="compensated")
            go = transition(waiting, on=Poke, to=done)

    assert "2 states are final='compensated' (undone, undone_too)" in error_of(build)


def test_unknown_step_kind_and_orphan_policy() -> None:
    def build() -> None:
        class Odd(Saga[Job], orphans="drop"):  # type: ignore[arg-type]
            ask = Step(Ask, success=Yes, kind="maybe")  # type: ignore[arg-type]
            start = Start(Begun, to="asking")
            asking = State(run=ask, then="done")
            done = State(final="completed")

    message = error_of(build)
    assert "orphans='drop' is not a policy" in message
    assert "kind='maybe' is not a step kind" in message


def test_typo_in_class_keywords_is_a_type_error() -> None:
    with pytest.raises(TypeError):

        class Typo(Saga[Job], corelation="job_id"):  # type: ignore[call-arg]
            start = Start(Begun, to="done")
            done = State(final="completed")
