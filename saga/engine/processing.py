"""Handling one input inside one unit of work: the path every runtime shares.

``inbox check → load → decide → save (optimistic version) → history → outbox → deadlines``
for sagas, ``inbox check → handler → outbox`` for participants. The runtime opens the unit
of work, calls one of these functions, and commits; an exception rolls everything back
(including the inbox row), so the input is handled again on redelivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from saga.contracts.events import Event, event_name
from saga.definition._model import SagaDefinition
from saga.definition._typing import as_events
from saga.definition.participant import Context, Participant
from saga.engine.decide import Decision, decide, instance_id_of
from saga.engine.messages import DeadlineFired, Input, Message, SignalReceived, derived_id
from saga.engine.ports import UnitOfWork
from saga.errors import DefinitionError, UnknownInstanceError


@dataclass(frozen=True, slots=True)
class Handled:
    """What handling one input did for one consumer."""

    consumer: str
    duplicate: bool = False
    decision: Decision | None = None
    emitted: tuple[Message, ...] = ()


def handle_saga_input(
    uow: UnitOfWork, definition: SagaDefinition, inp: Input, now: datetime
) -> Handled:
    """Feed one event, fired deadline or signal to the instance it belongs to."""
    instance_id = instance_id_of(definition, inp) if isinstance(inp, Message) else inp.instance_id
    if not uow.first_time(definition.name, inp.input_id):
        return Handled(definition.name, duplicate=True)
    instance = uow.load(definition.name, instance_id)
    decision = decide(definition, instance, inp, now)
    if decision.outcome == "orphan":
        _orphan(uow, definition, inp, instance_id)
    elif decision.outcome == "applied":
        assert decision.instance is not None
        assert decision.history is not None
        uow.save(decision.instance, expected_version=0 if instance is None else instance.version)
        uow.append_history(definition.name, instance_id, decision.history)
        uow.append_outbox(decision.emitted)
        if decision.cancel is not None:
            uow.cancel(decision.cancel)
        if decision.schedule is not None:
            uow.schedule(decision.schedule)
    return Handled(definition.name, decision=decision, emitted=decision.emitted)


def _orphan(uow: UnitOfWork, definition: SagaDefinition, inp: Input, instance_id: str) -> None:
    if isinstance(inp, SignalReceived):
        raise UnknownInstanceError(
            f"saga {definition.name}: no instance {instance_id!r} to send signal "
            f"{inp.name!r} to; check the id"
        )
    if isinstance(inp, DeadlineFired):
        return  # the instance is gone: nothing is waiting for this deadline any more
    reason = (
        f"saga {definition.name}: no instance {instance_id!r} for "
        f"{type(inp.event).__name__} (event id {inp.event_id})"
    )
    if definition.orphans == "park":
        uow.park_event(definition.name, inp, reason)
    elif definition.orphans == "error":
        raise UnknownInstanceError(
            f"{reason}; the saga declares orphans='error' (use 'park' or 'ignore' to accept it)"
        )


def handle_participant_message(
    uow: UnitOfWork, participant: Participant, message: Message, now: datetime
) -> Handled:
    """Run a participant's handler for ``message`` once, queueing what it emits."""
    if not uow.first_time(participant.name, message.event_id):
        return Handled(participant.name, duplicate=True)
    emitted = run_handler(participant, message, now)
    uow.append_outbox(emitted)
    return Handled(participant.name, emitted=tuple(emitted))


def run_handler(participant: Participant, message: Message, now: datetime) -> list[Message]:
    """Run ``participant``'s handler for ``message`` and wrap what it emits.

    Emitted events carry the input's correlation id, the input's id as causation id and ids
    derived from the input, so handling a redelivered event emits the same ids. No handler
    for the event type: nothing.
    """
    handler = participant.handlers.get(message.event_type)
    if handler is None:
        return []
    context = Context(
        participant.name, message.event_id, message.correlation_id, message.causation_id, now
    )
    emitted: list[Message] = []
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
                traceparent=message.envelope.traceparent,
            )
        )
    return emitted


@dataclass(frozen=True)
class Subscriptions:
    """Which sagas and participants consume which event types."""

    sagas: dict[str, tuple[SagaDefinition, ...]]
    participants: dict[str, tuple[Participant, ...]]

    @classmethod
    def of(
        cls, sagas: Iterable[SagaDefinition], participants: Iterable[Participant]
    ) -> Subscriptions:
        by_saga: dict[str, list[SagaDefinition]] = {}
        by_participant: dict[str, list[Participant]] = {}
        for definition in sagas:
            for key in definition.consumes():
                by_saga.setdefault(key, []).append(definition)
        for participant in participants:
            for key in participant.consumes():
                by_participant.setdefault(key, []).append(participant)
        return cls(
            {k: tuple(v) for k, v in by_saga.items()},
            {k: tuple(v) for k, v in by_participant.items()},
        )

    def consumers(self, message: Message) -> Sequence[SagaDefinition | Participant]:
        key = event_name(message.event)
        return (*self.sagas.get(key, ()), *self.participants.get(key, ()))
