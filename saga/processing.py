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

from saga._model import SagaDefinition
from saga.engine import Decision, decide, instance_id_of
from saga.errors import UnknownInstanceError
from saga.events import event_name
from saga.messages import DeadlineFired, Input, Message, SignalReceived
from saga.participant import Participant
from saga.ports import UnitOfWork


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
    emitted = participant.handle(message, now)
    uow.append_outbox(emitted)
    return Handled(participant.name, emitted=tuple(emitted))


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
