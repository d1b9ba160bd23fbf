"""The saga engine: a pure function from (definition, snapshot, input, now) to a decision.

No I/O happens here. The in-memory harness and the durable runtime both call
:func:`decide` and apply the :class:`Decision` in one unit of work (save the instance with
its optimistic version, append the history entry, put emitted events in the outbox, set
or cancel the deadline), so their semantics are the same by construction.

Rules, in short:

* A start event creates an instance in the start's state; entering a state emits the
  requests of its steps and sets its deadline; leaving it cancels the deadline. Entering
  a terminal state emits its end event, if it declares one.
* An answer to a step marks it succeeded or failed. When every step of the state
  succeeded, the saga moves to ``then``. A failed retriable step is requested again up to
  its ``attempts``.
* A failure (a failed step, a ``COMPENSATE`` transition or timeout) emits the compensation
  of every succeeded compensatable step, newest first, each at most once. Steps still in
  flight are waited for in ``compensating``: a late success is compensated too. Then the
  saga ends ``compensated``, or parks ``failed`` when the wait times out, when a
  compensation cannot be built, or when the pivot step had already succeeded.
* User code (builders, guards, actions) that raises parks the instance with the reason;
  nothing it emitted in that decision is kept.
* Inputs that match nothing are recorded in the history as ignored (the state is kept).
* Operators' commands (retry, compensate, resume: :mod:`saga.engine.operations`) are inputs
  too; the history keeps who sent them and why. One the instance cannot take any more is
  recorded as ignored, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ValidationError

from saga.contracts.events import Event
from saga.definition.model import (
    COMPENSATE_TARGET,
    OrphanPolicy,
    SagaDefinition,
    TransitionDef,
    signal_key,
)
from saga.definition.signatures import as_events
from saga.engine.instance import COMPENSATING, Deadline, HistoryEntry, Instance, Status, StepRun
from saga.engine.messages import (
    DeadlineFired,
    Input,
    Message,
    OperatorCommand,
    SignalReceived,
    derived_id,
    derived_uuid,
)
from saga.engine.operations import SagaShape, plan


@dataclass(frozen=True, slots=True)
class Decision:
    """What one input does to one instance; the runtime applies all of it or none of it.

    ``outcome``: ``"applied"`` (save ``instance``, append ``history``, emit, schedule and
    cancel), ``"orphan"`` (no instance: follow ``orphan_policy``) or ``"stale"`` (a
    deadline that was already cancelled: nothing to do).
    """

    outcome: Literal["applied", "orphan", "stale"]
    instance: Instance | None = None
    history: HistoryEntry | None = None
    emitted: tuple[Message, ...] = ()
    schedule: Deadline | None = None
    cancel: Deadline | None = None
    compensated: tuple[str, ...] = ()
    orphan_policy: OrphanPolicy | None = None
    ignored: bool = False  # applied, but matched nothing (recorded as a note)


def instance_id_of(definition: SagaDefinition, message: Message) -> str:
    """The id of the instance ``message`` belongs to (its correlation field or envelope)."""
    field = definition.correlation.get(message.event_type)
    if field is None:
        return message.correlation_id
    return str(getattr(message.event, field))


def trigger_of(inp: Input, instance: Instance | None = None) -> str:
    """How the history names an input: event type, ``signal:<name>``, ``operator:<operation>``
    or ``deadline:<state>``."""
    if isinstance(inp, Message):
        return inp.event_type
    if isinstance(inp, SignalReceived):
        return signal_key(inp.name)
    if isinstance(inp, OperatorCommand):
        return f"operator:{inp.operation}"
    state = instance.deadline.state if instance and instance.deadline else "?"
    return f"deadline:{state}"


def trace_id_of(inp: Input, traceparent: str | None = None) -> str | None:
    """The W3C trace id an event carries, else that of ``traceparent`` (the context the input
    is handled in: a deadline's or signal's firing, when tracing); None when neither."""
    if isinstance(inp, Message) and inp.envelope.traceparent:
        return inp.envelope.traceparent.split("-")[1]
    return traceparent.split("-")[1] if traceparent else None


def operator_of(inp: Input) -> tuple[str | None, str | None]:
    """Who sent an input and why, when an operator did (an operation, a signal)."""
    if isinstance(inp, OperatorCommand | SignalReceived):
        return inp.by, inp.reason
    return None, None


def decide(
    definition: SagaDefinition,
    instance: Instance | None,
    inp: Input,
    now: datetime,
    *,
    traceparent: str | None = None,
) -> Decision:
    """The decision for one input to one instance (``None``: it does not exist yet).

    ``traceparent``: the W3C trace context the input is handled in, when tracing; emitted
    events continue it (else the trace of the event that caused them), and the history
    entry keeps its trace id.
    """
    if instance is None:
        if isinstance(inp, Message) and inp.event_type in definition.starts:
            return _start(definition, inp, now, traceparent)
        return Decision("orphan", orphan_policy=definition.orphans)
    if isinstance(inp, DeadlineFired) and (
        instance.deadline is None or instance.deadline.deadline_id != inp.deadline_id
    ):
        return Decision("stale")
    try:
        run = _Run(definition, instance, inp, now, traceparent)
    except ValidationError as exc:  # e.g. the data model changed incompatibly
        reason = f"the stored data does not fit {definition.data_model.__name__}: {exc}"
        return _parked(definition, instance, inp, now, reason, traceparent=traceparent)
    try:
        run.handle()
        return run.decision(instance)
    except _Park as park:
        return _parked(definition, instance, inp, now, park.reason, traceparent=traceparent)


class _Park(Exception):
    """User code raised or misbehaved: the instance parks and the decision emits nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _start(
    definition: SagaDefinition, message: Message, now: datetime, traceparent: str | None
) -> Decision:
    start = definition.starts[message.event_type]
    instance_id = instance_id_of(definition, message)
    blank = Instance(
        saga=definition.name,
        instance_id=instance_id,
        state="",
        status="running",
        data={},
        definition_version=definition.version,
    )
    try:
        data = start.data(message.event)
        if not isinstance(data, definition.data_model):
            raise _Park(f"the start data function returned {type(data).__name__}")
    except _Park as park:
        return _parked(
            definition, blank, message, now, park.reason, from_state=None, traceparent=traceparent
        )
    except Exception as exc:  # user code: the instance parks instead of being lost
        reason = f"building the data from {type(message.event).__name__} raised {exc!r}"
        return _parked(
            definition, blank, message, now, reason, from_state=None, traceparent=traceparent
        )
    run = _Run(definition, blank, message, now, traceparent, data=data)
    try:
        run.enter(start.target)
        return run.decision(blank, from_state=None)
    except _Park as park:
        return _parked(
            definition, blank, message, now, park.reason, from_state=None, traceparent=traceparent
        )


def park(
    definition: SagaDefinition,
    instance: Instance,
    inp: Input,
    now: datetime,
    reason: str,
    *,
    traceparent: str | None = None,
) -> Decision:
    """The decision that parks ``instance`` with ``reason`` (e.g. its version is not hosted):
    it moves to the failed state, keeps its data and emits nothing."""
    return _parked(definition, instance, inp, now, reason, traceparent=traceparent)


def _parked(
    definition: SagaDefinition,
    instance: Instance,
    inp: Input,
    now: datetime,
    reason: str,
    *,
    from_state: str | None = "",
    traceparent: str | None = None,
) -> Decision:
    start = from_state is None
    by, why = operator_of(inp)
    parked = Instance(
        saga=instance.saga,
        instance_id=instance.instance_id,
        state=definition.failed_state,
        status="failed",
        data=instance.data,
        steps=instance.steps,
        completed=instance.completed,
        deadline=None,
        version=instance.version + 1,
        failure=instance.failure,
        parked_reason=reason,
        definition_version=instance.definition_version,
        # Parked again while parked: it still goes back to where it was first parked.
        parked_from=None
        if start
        else instance.parked_from
        if instance.state == definition.failed_state
        else instance.state,
    )
    entry = HistoryEntry(
        seq=parked.version,
        at=now,
        trigger=trigger_of(inp, instance),
        input_id=inp.input_id,
        from_state=None if start else instance.state,
        to_state=parked.state,
        note=f"parked: {reason}",
        trace_id=trace_id_of(inp, traceparent),
        by=by,
        reason=why,
    )
    return Decision("applied", instance=parked, history=entry, cancel=instance.deadline)


class _Run:
    """Working copy of one instance while one input is decided."""

    def __init__(
        self,
        definition: SagaDefinition,
        instance: Instance,
        inp: Input,
        now: datetime,
        traceparent: str | None,
        *,
        data: BaseModel | None = None,
    ) -> None:
        self.d = definition
        self.inp = inp
        self.now = now
        self.before = instance
        self.instance_id = instance.instance_id
        self.state = instance.state
        self.status: Status = instance.status
        self.data = (
            data if data is not None else definition.data_model.model_validate(instance.data)
        )
        self.steps: dict[str, StepRun] = dict(instance.steps)
        self.completed = list(instance.completed)
        self.deadline = instance.deadline
        self.failure = instance.failure
        self.parked_reason = instance.parked_reason
        self.parked_from = instance.parked_from
        self.emitted: list[Message] = []
        # Emitted events continue the context the input is handled in when tracing (the next
        # hop is its child), else the trace of the event that caused them.
        self.context = traceparent
        self.traceparent = traceparent or (
            inp.envelope.traceparent if isinstance(inp, Message) else None
        )
        self.input_id = inp.input_id  # text, derived ids are built from it
        self.cause: UUID | str = (
            inp.envelope.event_id if isinstance(inp, Message) else self.input_id
        )
        self.compensated: list[str] = []
        self.notes: list[str] = []
        self.ignored = False

    # -- dispatch ------------------------------------------------------------------------

    def handle(self) -> None:
        inp = self.inp
        if isinstance(inp, DeadlineFired):
            self.on_deadline()
        elif isinstance(inp, SignalReceived):
            self.on_signal(inp)
        elif isinstance(inp, OperatorCommand):
            self.on_operator(inp)
        elif self.status == "running":
            self.on_event(inp)
        else:
            self.on_event_after_failure(inp)

    def on_event(self, message: Message) -> None:
        key = message.event_type
        transitions = self.d.transitions_for(self.state, key)
        if transitions:
            self.fire(transitions, message.event, type(message.event).__name__)
            return
        answer = self.d.answer(key)
        if answer is not None:
            self.on_answer(answer[0], answer[1], message.event)
            return
        if key in self.d.starts:
            self.ignore(f"{type(message.event).__name__} again: the instance already exists")
            return
        self.ignore(f"no transition for {type(message.event).__name__} in state {self.state}")

    def on_event_after_failure(self, message: Message) -> None:
        answer = self.d.answer(message.event_type)
        run = self.steps.get(answer[0]) if answer else None
        if answer is None or run is None or run.status != "requested":
            self.ignore(f"{type(message.event).__name__} after the saga {self.status}")
            return
        step, ok = answer
        name = type(message.event).__name__
        if not ok:
            self.steps[step] = StepRun("failed", run.attempts)
            self.notes.append(f"late {name}: step {step} failed, nothing to undo")
        else:
            self.steps[step] = StepRun("succeeded", run.attempts)
            self.completed.append(step)
            self.apply_success(step, message.event)  # the compensation may need its fields
            if self.failure is not None:
                self.notes.append(f"late {name}: step {step} succeeded after the failure")
                kind = self.d.steps[step].kind
                if kind == "pivot":
                    self.park(f"pivot step {step} succeeded after the saga began compensating")
                    return
                self.compensate_step(step)
            else:
                self.notes.append(f"late {name}: step {step} succeeded")
        if self.status == "compensating" and not self.in_flight():
            self.move(self.d.compensated_state)

    def on_deadline(self) -> None:
        if self.state == COMPENSATING:
            waiting = ", ".join(self.in_flight())
            self.park(
                f"no answer from step(s) {waiting} within {self.d.compensation_timeout} after "
                f"the failure ({self.failure}); their effect is unknown"
            )
            return
        state = self.d.states[self.state]
        if state.on_timeout == COMPENSATE_TARGET:
            self.compensate(f"deadline of state {self.state} passed ({state.timeout})")
        else:
            self.notes.append(f"deadline of state {self.state} passed ({state.timeout})")
            self.move(state.on_timeout, reenter=True)

    def on_signal(self, signal: SignalReceived) -> None:
        transitions = self.d.transitions_for(self.state, signal_key(signal.name))
        if self.status != "running" or not transitions:
            self.ignore(f"signal {signal.name} is not accepted in state {self.state}")
            return
        self.fire(transitions, signal, f"signal {signal.name}")

    def on_operator(self, command: OperatorCommand) -> None:
        """Retry, compensate or resume (see :mod:`saga.engine.operations`)."""
        what = f"operator {command.operation}"
        chosen = plan(self.before, command.operation, SagaShape.of(self.d), command.step)
        if chosen.refused is not None:
            self.ignore(f"{what} refused: {chosen.refused}")
            return
        self.parked_reason = None  # where it parks from stays until it leaves "failed"
        if command.operation == "compensate":
            self.compensate(f"{what} by {command.by}: {command.reason}")
            return
        assert chosen.state is not None
        if self.status == "failed":  # parked: back to where it was
            self.notes.append(f"{what} by {command.by}: back to {chosen.state}")
            self.deadline = None
            self.restore(chosen.state)
        else:
            self.notes.append(f"{what} by {command.by}")
        for step in chosen.steps:
            run = self.steps.get(step)
            self.request(step, 1 if run is None else run.attempts + 1)
        if chosen.state == COMPENSATING:
            for step in reversed(self.completed):  # those a failed build left uncompensated
                if not self.compensate_step(step):
                    return
            if not self.in_flight():
                self.move(self.d.compensated_state)
            return
        state = self.d.states[chosen.state]
        if (
            state.steps
            and state.then
            and all(self.steps[s].status == "succeeded" for s in state.steps)
        ):
            self.move(state.then)

    def restore(self, name: str) -> None:
        """Be in state ``name`` again without entering it (its steps are not all requested
        again), with its deadline afresh."""
        self.state = name
        if name == COMPENSATING:
            self.status = "compensating"
            self.set_deadline(self.d.compensation_timeout, name)
            return
        state = self.d.states[name]
        if state.final is not None:
            self.status = state.final
            return
        self.status = "running"
        if state.timeout is not None:
            self.set_deadline(state.timeout, name)

    # -- moves ---------------------------------------------------------------------------

    def fire(self, transitions: tuple[TransitionDef, ...], event: object, label: str) -> None:
        for t in transitions:
            if t.guard is not None and not self.call(
                f"guard of transition {t.name}", t.guard, self.data, event
            ):
                continue
            self.notes.append(f"transition {t.name}")
            if t.action is not None:
                result = self.call(f"action of transition {t.name}", t.action, self.data, event)
                for emitted in as_events(result):
                    if not isinstance(emitted, Event) or type(emitted) not in t.emits:
                        raise _Park(
                            f"the action of transition {t.name} emitted {emitted!r}, which its "
                            "return annotation does not name"
                        )
                    self.emit(emitted)
            if t.target == COMPENSATE_TARGET:
                self.compensate(f"{label} in state {self.state}")
            else:
                self.move(t.target)
            return
        self.ignore(f"no guard held for {label} in state {self.state}")

    def on_answer(self, step: str, ok: bool, event: Event) -> None:
        run = self.steps.get(step)
        name = type(event).__name__
        if run is None or run.status != "requested":
            status = "not requested" if run is None else run.status
            self.ignore(f"{name} for step {step}, which is {status}")
            return
        definition = self.d.steps[step]
        current = step in self.d.states[self.state].steps if self.state in self.d.states else False
        if ok:
            self.steps[step] = StepRun("succeeded", run.attempts)
            self.completed.append(step)
            self.apply_success(step, event)
            if not current:
                self.notes.append(f"late {name}: step {step} succeeded")
                return
            state = self.d.states[self.state]
            if all(self.steps[s].status == "succeeded" for s in state.steps):
                assert state.then is not None  # checked when the class was created
                self.move(state.then)
            return
        if definition.kind == "retriable" and run.attempts < definition.attempts and current:
            self.notes.append(f"{name}: retry {run.attempts + 1}/{definition.attempts}")
            self.request(step, run.attempts + 1)
            return
        self.steps[step] = StepRun("failed", run.attempts)
        if not current:
            self.notes.append(f"late {name}: step {step} failed")
            return
        self.compensate(f"step {step} failed ({name})")

    def apply_success(self, step: str, event: Event) -> None:
        hook = self.d.steps[step].on_success
        if hook is not None:
            self.call(f"on_success of step {step}", hook, self.data, event)
            return
        shared = [f for f in type(event).model_fields if f in type(self.data).model_fields]
        for field in shared:
            setattr(self.data, field, getattr(event, field))

    def compensate(self, reason: str) -> None:
        pivot = next((s for s in self.completed if self.d.steps[s].kind == "pivot"), None)
        if pivot is not None:
            self.park(f"{reason}; the pivot step {pivot} already succeeded, nothing is undone")
            return
        self.failure = reason
        self.notes.append(f"compensating: {reason}")
        for step in reversed(self.completed):
            if not self.compensate_step(step):
                return
        self.move(COMPENSATING if self.in_flight() else self.d.compensated_state)

    def compensate_step(self, step: str) -> bool:
        """Emit the compensation of a succeeded step once; False when it parked instead."""
        definition = self.d.steps[step]
        run = self.steps[step]
        if run.status != "succeeded" or definition.compensation is None:
            return True
        try:
            event = definition.compensation(self.data)
            if not isinstance(event, definition.compensation_type or Event):
                raise TypeError(f"built {event!r} instead of a {definition.compensation_type}")
        except Exception as exc:  # user code: park, keeping the compensations already issued
            self.park(f"the compensation of step {step} could not be issued: {exc!r}")
            return False
        self.emit(event)
        self.steps[step] = StepRun("compensated", run.attempts)
        self.compensated.append(step)
        return True

    def move(self, target: str, *, reenter: bool = False) -> None:
        if target == self.state and not reenter:
            return  # an internal transition: the deadline keeps running
        self.deadline = None
        self.enter(target)

    def enter(self, name: str) -> None:
        self.state = name
        if name == COMPENSATING:
            self.status = "compensating"
            self.set_deadline(self.d.compensation_timeout, name)
            return
        state = self.d.states[name]
        if state.final is not None:
            self.status = state.final
            self.deadline = None
            if state.final == "failed" and self.parked_reason is None:
                self.parked_reason = f"moved to {name} by {trigger_of(self.inp, self.before)}"
            if state.emit is not None:
                event = self.call(f"end event of state {name}", state.emit, self.data)
                if not isinstance(event, state.emit_type or Event):
                    raise _Park(f"the end event of state {name} built {event!r}")
                self.emit(event)
            return
        self.status = "running"
        for step in state.steps:
            if self.steps.get(step, StepRun("failed", 0)).status != "requested":
                self.request(step, 1)
        if state.timeout is not None:
            self.set_deadline(state.timeout, name)

    def park(self, reason: str) -> None:
        self.parked_reason = reason
        self.notes.append(f"parked: {reason}")
        if self.state != self.d.failed_state:  # parked again: keep where it was first
            self.parked_from = self.state
        self.deadline = None
        self.state = self.d.failed_state
        self.status = "failed"

    # -- effects -------------------------------------------------------------------------

    def request(self, step: str, attempt: int) -> None:
        definition = self.d.steps[step]
        event = self.call(f"request of step {step}", definition.request, self.data)
        if not isinstance(event, definition.request_type):
            raise _Park(
                f"the request of step {step} built {event!r}, "
                f"not a {definition.request_type.__name__}"
            )
        self.emit(event)
        self.steps[step] = StepRun("requested", attempt)

    def emit(self, event: Event) -> None:
        self.emitted.append(
            Message.new(
                event,
                event_id=derived_uuid(
                    self.d.name, self.instance_id, self.input_id, str(len(self.emitted))
                ),
                correlation_id=self.instance_id,
                causation_id=self.cause,
                producer=self.d.name,
                occurred_at=self.now,
                traceparent=self.traceparent,
            )
        )

    def set_deadline(self, after: Any, state: str) -> None:
        self.deadline = Deadline(
            saga=self.d.name,
            instance_id=self.instance_id,
            deadline_id=derived_id(self.d.name, self.instance_id, self.input_id, "deadline"),
            due=self.now + after,
            state=state,
        )

    def ignore(self, note: str) -> None:
        self.ignored = True
        self.notes.append(f"ignored: {note}")

    def in_flight(self) -> list[str]:
        return [s for s, run in self.steps.items() if run.status == "requested"]

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except _Park:
            raise
        except Exception as exc:  # user code: park with the reason, emit nothing
            raise _Park(f"the {what} raised {exc!r}") from exc

    # -- result --------------------------------------------------------------------------

    def decision(self, before: Instance, *, from_state: str | None = "") -> Decision:
        try:
            data = self.data.model_dump(mode="json")
            self.d.data_model.model_validate(data)
        except (ValidationError, ValueError, TypeError) as exc:
            raise _Park(f"the saga data is no longer valid: {exc}") from exc
        after = Instance(
            saga=self.d.name,
            instance_id=self.instance_id,
            state=self.state,
            status=self.status,
            data=data,
            steps=self.steps,
            completed=tuple(self.completed),
            deadline=self.deadline,
            version=before.version + 1,
            failure=self.failure,
            parked_reason=self.parked_reason,
            definition_version=before.definition_version,
            parked_from=self.parked_from if self.status == "failed" else None,
        )
        old = before.deadline
        by, why = operator_of(self.inp)
        entry = HistoryEntry(
            seq=after.version,
            at=self.now,
            trigger=trigger_of(self.inp, before),
            input_id=self.input_id,
            from_state=None if from_state is None else before.state,
            to_state=self.state,
            emitted=tuple((m.event_type, m.event_id) for m in self.emitted),
            compensated=tuple(self.compensated),
            note="; ".join(self.notes),
            trace_id=trace_id_of(self.inp, self.context),
            by=by,
            reason=why,
        )
        return Decision(
            "applied",
            instance=after,
            history=entry,
            emitted=tuple(self.emitted),
            schedule=self.deadline if self.deadline != old else None,
            cancel=old if old is not None and old != self.deadline else None,
            compensated=tuple(self.compensated),
            ignored=self.ignored,
        )
