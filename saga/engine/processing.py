"""Handling inputs inside one unit of work: the path every runtime shares.

``inbox claim → load → decide → save (optimistic version) → history → outbox → deadlines``
for sagas, ``inbox claim → handler → outbox`` for participants. The runtime opens the unit
of work, calls these functions for a batch of inputs, and commits; an exception rolls
everything back (the inbox claims too), so the inputs are handled again on redelivery.

This module is the only place that claims inputs in an inbox (:meth:`UnitOfWork.claim`):
one call per consumer and batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import trace
from opentelemetry.trace import Span

from saga import _metrics, _telemetry
from saga.contracts.events import Event
from saga.definition.model import SagaDefinition
from saga.definition.participant import Context, Participant
from saga.definition.signatures import as_events
from saga.engine.decide import Decision, decide, instance_id_of, park
from saga.engine.hosting import SagaVersions
from saga.engine.instance import TERMINAL, Instance, Status
from saga.engine.messages import (
    DeadlineFired,
    Input,
    Message,
    OperatorCommand,
    SignalReceived,
    derived_id,
)
from saga.engine.ports import UnitOfWork
from saga.errors import DefinitionError, UnknownInstanceError


@dataclass(frozen=True, slots=True)
class Handled:
    """What handling one input did for one consumer."""

    consumer: str
    duplicate: bool = False
    decision: Decision | None = None
    emitted: tuple[Message, ...] = ()
    replayed: tuple[Message, ...] = ()
    """Events parked before this input created their instance, applied after it."""
    started: bool = False  # this input created the instance
    ended: Status | None = None  # the final status the instance reached with this input


def handle_inputs(
    uow: UnitOfWork,
    consumer: SagaVersions | SagaDefinition | Participant,
    inputs: Sequence[Input],
    now: datetime,
    *,
    spans: Sequence[Span | None] | None = None,
) -> list[Handled]:
    """Claim ``inputs`` in the consumer's inbox, then handle each new one, in order.

    An input seen before (or twice in ``inputs``) is a duplicate and changes nothing.
    ``spans`` (one per input, when tracing): each input is handled inside its span, so the
    handling's spans are its children and what it emits continues its trace.
    """
    if isinstance(consumer, SagaDefinition):
        consumer = SagaVersions(consumer.name, {consumer.version: consumer})
    ids = [inp.input_id for inp in inputs]
    fresh = uow.claim(consumer.name, ids)
    if isinstance(consumer, SagaVersions):
        uow.prefetch(consumer.name, [_instance_id(consumer, i) for i in inputs])
    # Asked once per batch: with neither on, no span, clock read or attribute dict at all.
    tracing = _telemetry.enabled()
    measuring = _metrics.enabled()
    handled: list[Handled] = []
    for index, (inp, input_id) in enumerate(zip(inputs, ids, strict=True)):
        if input_id not in fresh:
            handled.append(Handled(consumer.name, duplicate=True))
            continue
        fresh.discard(input_id)
        began = time.perf_counter() if measuring else 0.0
        parent = spans[index] if spans else None
        if not tracing:
            result = _handle_one(uow, consumer, inp, now)
        elif not (parent or trace.get_current_span()).is_recording():
            # Not sampled (or no trace): no span of its own; what it emits carries the
            # unsampled context on, so the next hops open none either.
            with _telemetry.in_span(parent):
                result = _handle_one(uow, consumer, inp, now)
        else:
            with _telemetry.in_span(parent):
                result = _handle_one_traced(uow, consumer, inp, now)
        if measuring:
            _measure(consumer, result, time.perf_counter() - began)
        handled.append(result)
    return handled


def _measure(consumer: SagaVersions | Participant, result: Handled, seconds: float) -> None:
    """Counts and times one handled input (labels: names and statuses only)."""
    if isinstance(consumer, Participant):
        _metrics.handler_duration.record(
            seconds, {"saga.consumer": consumer.name, "saga.consumer.kind": "participant"}
        )
        return
    name = {"saga.name": consumer.name}
    _metrics.handler_duration.record(
        seconds, {"saga.consumer": consumer.name, "saga.consumer.kind": "saga"}
    )
    decision = result.decision
    if decision is not None and decision.outcome == "orphan" and decision.orphan_policy == "park":
        _metrics.parked_events.add(1, name)
    if decision is None or decision.outcome != "applied":
        return
    _metrics.transitions.add(1 + len(result.replayed), name)
    if result.started:
        _metrics.sagas_started.add(1, name)
    if result.ended is not None:
        _metrics.sagas_ended.add(1, {"saga.name": consumer.name, "saga.status": result.ended})


def _handle_one(
    uow: UnitOfWork, consumer: SagaVersions | Participant, inp: Input, now: datetime
) -> Handled:
    if isinstance(consumer, SagaVersions):
        return _saga_input(uow, consumer, inp, now)
    assert isinstance(inp, Message), "participants handle events only"
    emitted = run_handler(consumer, inp, now, session=uow.session)
    uow.append_outbox(emitted)
    return Handled(consumer.name, emitted=tuple(emitted))


def _handle_one_traced(
    uow: UnitOfWork, consumer: SagaVersions | Participant, inp: Input, now: datetime
) -> Handled:
    """:func:`_handle_one` in an INTERNAL span: names, ids and states, never data."""
    if isinstance(consumer, SagaVersions):
        with _telemetry.internal_span(_telemetry.span_name("saga", consumer.name)) as span:
            if span.is_recording():  # known before handling: the handling's logs show them
                span.set_attributes(
                    {"saga.name": consumer.name, "saga.instance_id": _instance_id(consumer, inp)}
                )
            result = _saga_input(uow, consumer, inp, now)
            if span.is_recording():
                span.set_attributes(_saga_attributes(consumer.name, inp, result))
            return result
    assert isinstance(inp, Message), "participants handle events only"
    handler = consumer.handlers.get(inp.event_type)
    what = handler.name if handler is not None else "(none)"
    with _telemetry.internal_span(_telemetry.span_name("handle", consumer.name)) as span:
        if span.is_recording():
            span.set_attributes(
                {
                    "saga.participant": consumer.name,
                    "saga.handler": what,
                    "saga.event_type": inp.event_type,
                    "saga.instance_id": inp.correlation_id,
                }
            )
        result = _handle_one(uow, consumer, inp, now)
        if span.is_recording():
            span.set_attribute("saga.emitted", len(result.emitted))
        return result


def _saga_attributes(saga: str, inp: Input, result: Handled) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {"saga.name": saga, "saga.input": _input_kind(inp)}
    decision = result.decision
    if decision is None:
        return attributes
    attributes["saga.outcome"] = decision.outcome
    if decision.history is not None:
        attributes["saga.state.from"] = decision.history.from_state or ""
        attributes["saga.state.to"] = decision.history.to_state
    if decision.instance is not None:
        attributes["saga.instance_id"] = decision.instance.instance_id
        attributes["saga.status"] = decision.instance.status
    attributes["saga.emitted"] = len(result.emitted)
    return attributes


def _input_kind(inp: Input) -> str:
    if isinstance(inp, Message):
        return inp.event_type
    if isinstance(inp, DeadlineFired):
        return "deadline"
    if isinstance(inp, SignalReceived):
        return f"signal:{inp.name}"
    if isinstance(inp, OperatorCommand):
        return f"operator:{inp.operation}"
    return type(inp).__name__


def skip_input(uow: UnitOfWork, consumer: str, input_id: str) -> bool:
    """Claim an input without handling it (the runtime gave up on it: a dead letter).

    False when the consumer had it already: whatever the runtime does instead must happen
    only when this returns True, so it happens once.
    """
    return input_id in uow.claim(consumer, [input_id])


def handle_saga_input(
    uow: UnitOfWork, definition: SagaVersions | SagaDefinition, inp: Input, now: datetime
) -> Handled:
    """Feed one event, fired deadline, signal or operator's command to its instance."""
    return handle_inputs(uow, definition, [inp], now)[0]


def handle_participant_message(
    uow: UnitOfWork, participant: Participant, message: Message, now: datetime
) -> Handled:
    """Run a participant's handler for ``message`` once, queueing what it emits."""
    return handle_inputs(uow, participant, [message], now)[0]


def _instance_id(hosted: SagaVersions, inp: Input) -> str:
    if isinstance(inp, Message):
        return instance_id_of(hosted.correlation_definition(inp.event_type), inp)
    return inp.instance_id


def _saga_input(uow: UnitOfWork, hosted: SagaVersions, inp: Input, now: datetime) -> Handled:
    instance_id = _instance_id(hosted, inp)
    instance = uow.load(hosted.name, instance_id)
    definition = hosted.for_instance(instance)
    if definition is None:
        assert instance is not None
        hosts = ", ".join(map(str, hosted.versions))
        reason = (
            f"version {instance.definition_version} of saga {hosted.name} is not hosted here "
            f"(hosted: {hosts}): run a worker that hosts it, then resume the instance"
        )
        parking = park(hosted.newest, instance, inp, now, reason)
        _apply(uow, hosted.newest, instance, parking)
        return Handled(hosted.name, decision=parking)
    decision = decide(definition, instance, inp, now)
    if decision.outcome == "orphan":
        _orphan(uow, definition, decision, inp, instance_id)
        return Handled(definition.name, decision=decision)
    if decision.outcome != "applied":
        return Handled(definition.name, decision=decision)
    _apply(uow, definition, instance, decision)
    emitted = list(decision.emitted)
    replayed: list[Message] = []
    assert decision.instance is not None
    final = decision.instance
    if instance is None:
        # Choreography gives no order across topics: events that came before the one that
        # creates the instance were parked; they apply now, after it, in arrival order.
        for parked in uow.take_parked(definition.name, instance_id):
            later = decide(definition, final, parked, now)
            if later.outcome != "applied":
                continue
            _apply(uow, definition, final, later)
            assert later.instance is not None
            final = later.instance
            replayed.append(parked)
            emitted.extend(later.emitted)
    ended = final.status in TERMINAL and (instance is None or instance.status not in TERMINAL)
    return Handled(
        definition.name,
        decision=decision,
        emitted=tuple(emitted),
        replayed=tuple(replayed),
        started=instance is None,
        ended=final.status if ended else None,
    )


def _apply(
    uow: UnitOfWork, definition: SagaDefinition, before: Instance | None, decision: Decision
) -> None:
    assert decision.instance is not None
    assert decision.history is not None
    uow.save(decision.instance, expected_version=0 if before is None else before.version)
    uow.append_history(definition.name, decision.instance.instance_id, decision.history)
    uow.append_outbox(decision.emitted)
    if decision.cancel is not None:
        uow.cancel(decision.cancel)
    if decision.schedule is not None:
        uow.schedule(decision.schedule)


def _orphan(
    uow: UnitOfWork, definition: SagaDefinition, decision: Decision, inp: Input, instance_id: str
) -> None:
    if isinstance(inp, SignalReceived):
        raise UnknownInstanceError(
            f"saga {definition.name}: no instance {instance_id!r} to send signal "
            f"{inp.name!r} to; check the id"
        )
    if isinstance(inp, OperatorCommand):
        raise UnknownInstanceError(
            f"saga {definition.name}: no instance {instance_id!r} to {inp.operation}; check the id"
        )
    if isinstance(inp, DeadlineFired):
        return  # the instance is gone: nothing is waiting for this deadline any more
    reason = (
        f"saga {definition.name}: no instance {instance_id!r} for "
        f"{type(inp.event).__name__} (event id {inp.event_id})"
    )
    if decision.orphan_policy == "park":
        uow.park_event(definition.name, instance_id, inp, reason)
    elif decision.orphan_policy == "error":
        raise UnknownInstanceError(
            f"{reason}; the saga declares orphans='error' (use 'park' or 'ignore' to accept it)"
        )


def run_handler(
    participant: Participant, message: Message, now: datetime, *, session: object = None
) -> list[Message]:
    """Run ``participant``'s handler for ``message`` and wrap what it emits.

    Emitted events carry the input's correlation id, the input's id as causation id and ids
    derived from the input, so handling a redelivered event emits the same ids. No handler
    for the event type: nothing.
    """
    handler = participant.handlers.get(message.event_type)
    if handler is None:
        return []
    context = Context(
        participant.name,
        message.event_id,
        message.correlation_id,
        message.causation_id,
        now,
        session,
    )
    emitted: list[Message] = []
    # The current span when tracing (the next hop becomes its child), else the input's.
    traceparent = _telemetry.current_traceparent() or message.envelope.traceparent
    for index, event in enumerate(as_events(handler(message.event, context))):
        if not isinstance(event, Event) or type(event) not in handler.emits:
            raise DefinitionError(
                f"participant {participant.name}, handler {handler.name}: returned {event!r}, "
                "which its return annotation does not name"
            )
        emitted.append(
            Message.new(
                event,
                event_id=derived_id(participant.name, message.event_id, str(index)),
                correlation_id=message.correlation_id,
                causation_id=message.event_id,
                producer=participant.name,
                occurred_at=now,
                traceparent=traceparent,
            )
        )
    return emitted
