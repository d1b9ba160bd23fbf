"""Run sagas and participants together in memory, with virtual time.

::

    harness = Harness(sagas=[OrderSaga], participants=[inventory, payments])
    harness.publish(OrderPlaced(order_id="o-1", amount_cents=500))
    harness.drain()                        # deliver until nothing is left to deliver
    assert harness.state(OrderSaga, "o-1") == "completed"
    harness.advance(timedelta(minutes=15)) # fire the deadlines due meanwhile

Every delivery goes through :mod:`saga.engine.processing` with an in-memory unit of work, exactly
like the durable runtime: inbox per consumer (by event id), instance saved with an
optimistic version, history, outbox relayed to the bus after commit, deadlines. Fault
injection (:class:`Faults`, :meth:`Harness.hold`) duplicates, reorders and delays
deliveries so that authors can prove their handlers idempotent.

``Harness(..., batch_size=50)`` hands a participant up to that many of its pending
deliveries at once, as a poll batch does, so that its batch handlers get them in one call;
a batch that raises is handled again one delivery at a time, as the durable runtime does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from saga.contracts.events import Event, event_name
from saga.definition.model import SagaDefinition
from saga.definition.participant import Participant
from saga.definition.saga import definition_of
from saga.engine.hosting import SagaRef, SagaVersions, Subscriptions
from saga.engine.instance import HistoryEntry, Instance
from saga.engine.messages import (
    DeadlineFired,
    Input,
    Message,
    Operation,
    OperatorCommand,
    SignalReceived,
    new_id,
)
from saga.engine.operations import SagaShape, check
from saga.engine.processing import (
    Handled,
    handle_inputs,
    handle_participant_message,
    handle_saga_input,
)
from saga.errors import (
    ConfigError,
    DefinitionError,
    OperationRefused,
    SagaError,
    UnknownInstanceError,
)
from saga.testing._memory import MemoryStore, MemoryUnitOfWork, OrphanEvent

#: Where virtual time starts unless told otherwise.
EPOCH = datetime(2030, 1, 1, tzinfo=UTC)

_T = TypeVar("_T")


class VirtualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when < self._now:
            raise ValueError(f"virtual time only moves forward ({when} < {self._now})")
        self._now = when


@dataclass(frozen=True)
class Faults:
    """Random delivery faults, reproducible by ``seed`` (each a probability per delivery).

    ``duplicate``: the delivery happens again later (same event id). ``reorder``: a random
    pending delivery goes first. ``redeliver``: the delivery is dropped and redelivered
    once the bus is otherwise quiet.
    """

    duplicate: float = 0.0
    reorder: float = 0.0
    redeliver: float = 0.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message on its way to one consumer (a saga or a participant)."""

    consumer: SagaVersions | Participant
    message: Message

    @property
    def consumer_name(self) -> str:
        return self.consumer.name


class Harness:
    """An in-memory runtime: bus, store, virtual clock, and the shared processing path.

    ``batch_size``: how many pending deliveries to one participant :meth:`drain` hands it
    at once (a poll batch; 1: one at a time). Its batch handlers get them in one call.
    """

    def __init__(
        self,
        sagas: Sequence[SagaRef] = (),
        participants: Sequence[Participant] = (),
        *,
        start: datetime = EPOCH,
        faults: Faults | None = None,
        batch_size: int = 1,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r}: give a whole number, 1 or more")
        self.batch_size = batch_size
        self.subscriptions = Subscriptions.of(sagas, participants)
        self.sagas = dict(self.subscriptions.sagas)
        self.participants = list(participants)
        self.clock = VirtualClock(start)
        self.store = MemoryStore()
        self.faults = faults or Faults()
        self._random = random.Random(self.faults.seed)  # noqa: S311  (fault injection only)
        self.pending: list[Delivery] = []
        self._dropped: list[Delivery] = []
        self._held: list[Delivery] = []
        self._hold_types: set[str] = set()
        self._published: list[Message] = []
        self._inputs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.deliveries = 0

    # -- input -----------------------------------------------------------------------------

    def publish(
        self,
        event: Event,
        *,
        correlation_id: str | None = None,
        event_id: str | None = None,
        causation_id: str | None = None,
    ) -> Message:
        """Put an event on the bus as if another service had published it.

        Publishing again with the same ``event_id`` is a redelivery (the inboxes drop it).
        The correlation id defaults to the field a consuming saga correlates this event by.
        """
        message = Message.new(
            event,
            event_id=event_id or new_id(),
            correlation_id=correlation_id or self._default_correlation(event),
            causation_id=causation_id,
            producer="harness",
            occurred_at=self.clock.now(),
        )
        self._put(message)
        return message

    def signal(
        self, saga: SagaRef, instance_id: str, name: str, *, signal_id: str | None = None
    ) -> bool:
        """Send a signal now; True when the instance's state accepted it."""
        definition = self._saga(saga)
        if name not in definition.signals:
            raise DefinitionError(
                f"saga {definition.name} declares no signal {name!r} "
                f"(signals: {', '.join(definition.signals) or 'none'}): "
                f"declare it on the saga, {name} = Signal()"
            )
        handled = self._handle(
            self.sagas[definition.name],
            SignalReceived(definition.name, instance_id, name, signal_id or new_id()),
        )
        return handled.decision is not None and not handled.decision.ignored

    # -- operators' commands ---------------------------------------------------------------

    def retry(
        self,
        saga: SagaRef,
        instance_id: str,
        *,
        reason: str,
        by: str = "harness",
        step: str | None = None,
    ) -> HistoryEntry:
        """Request a failed (or unanswered) step again, as ``saga sagas retry`` does; a parked
        instance first goes back to where it was parked. Returns the history entry."""
        return self._operate(saga, instance_id, "retry", by=by, reason=reason, step=step)

    def compensate(
        self, saga: SagaRef, instance_id: str, *, reason: str, by: str = "harness"
    ) -> HistoryEntry:
        """Force the rollback, as ``saga sagas compensate`` does. Returns the history entry."""
        return self._operate(saga, instance_id, "compensate", by=by, reason=reason)

    def resume(
        self, saga: SagaRef, instance_id: str, *, reason: str, by: str = "harness"
    ) -> HistoryEntry:
        """Send a parked instance back to where it was parked, as ``saga sagas resume`` does.
        Returns the history entry."""
        return self._operate(saga, instance_id, "resume", by=by, reason=reason)

    def _operate(
        self,
        saga: SagaRef,
        instance_id: str,
        operation: Operation,
        *,
        by: str,
        reason: str,
        step: str | None = None,
    ) -> HistoryEntry:
        # Checked as the durable runtime checks a command when it is queued.
        instance = self.instance(saga, instance_id)
        hosted = self.sagas[instance.saga]
        definition = hosted.for_instance(instance)
        if definition is None:
            raise OperationRefused(
                f"instance {instance_id!r} runs version {instance.definition_version} of saga "
                f"{hosted.name}, which this harness does not host"
            )
        check(instance, operation, SagaShape.of(definition), step, by=by, reason=reason)
        command = OperatorCommand(
            hosted.name, instance_id, operation, new_id(), by=by, reason=reason, step=step
        )
        self._handle(hosted, command)
        return self.history(saga, instance_id)[-1]

    # -- time and delivery -----------------------------------------------------------------

    def drain(self, *, limit: int = 100_000) -> int:
        """Deliver until nothing is pending (held deliveries stay held); returns how many."""
        delivered = 0
        while self.pending or self._dropped:
            if not self.pending:  # the bus is quiet: what was dropped comes back now
                self.pending, self._dropped = self._dropped, []
            if delivered >= limit:
                raise SagaError(
                    f"the bus is still busy after {limit} deliveries: sagas and participants "
                    "keep answering each other; look for a cycle of events"
                )
            index = 0
            if self.faults.reorder and self._random.random() < self.faults.reorder:
                index = self._random.randrange(len(self.pending))
            delivery = self.pending.pop(index)
            if self.faults.redeliver and self._random.random() < self.faults.redeliver:
                self._dropped.append(delivery)
                continue
            batch = [delivery]
            for other in self._more_for(delivery):
                if self.faults.redeliver and self._random.random() < self.faults.redeliver:
                    self._dropped.append(other)
                else:
                    batch.append(other)
            if len(batch) == 1:
                self.deliver(delivery)
            else:
                self.deliver_batch(batch)
            delivered += len(batch)
            for sent in batch:
                if self.faults.duplicate and self._random.random() < self.faults.duplicate:
                    self.pending.insert(self._random.randrange(len(self.pending) + 1), sent)
        return delivered

    def _more_for(self, delivery: Delivery) -> list[Delivery]:
        """Take the pending deliveries that go to ``delivery``'s participant with it (up to
        ``batch_size`` in all), in bus order."""
        if self.batch_size == 1 or not isinstance(delivery.consumer, Participant):
            return []
        taken: list[Delivery] = []
        kept: list[Delivery] = []
        for other in self.pending:
            if other.consumer is delivery.consumer and len(taken) < self.batch_size - 1:
                taken.append(other)
            else:
                kept.append(other)
        self.pending = kept
        return taken

    def deliver_batch(self, deliveries: Sequence[Delivery]) -> list[Handled]:
        """Deliver these deliveries to their one participant at once, as a poll batch.

        If handling them raises, nothing of it stays in the store: they are delivered again
        one at a time, as the durable runtime does; the first one that fails raises, after
        the ones before it were applied, and the ones after it go back to the front of the
        bus. (What a handler keeps in Python objects is not rolled back, as no transaction
        holds it: such a handler should raise before it changes anything.)
        """
        participant = deliveries[0].consumer
        if not isinstance(participant, Participant) or any(
            d.consumer is not participant for d in deliveries
        ):
            raise ConfigError("deliver_batch takes deliveries to one participant")
        messages = [d.message for d in deliveries]
        self.deliveries += len(deliveries)
        together: list[Handled] | None = None
        try:
            together = self._commit(
                lambda uow: handle_inputs(uow, participant, messages, self.clock.now())
            )
        except Exception:
            together = None  # rolled back: the one that fails is found below
        if together is not None:
            return together
        handled: list[Handled] = []
        for index, delivery in enumerate(deliveries):
            try:
                handled.append(self.deliver(delivery))
            except Exception:
                self.pending[0:0] = deliveries[index + 1 :]
                raise
        return handled

    def deliver(self, delivery: Delivery) -> Handled:
        """Deliver one pending delivery now (for tests that choose the order themselves)."""
        self.deliveries += 1
        if isinstance(delivery.consumer, Participant):
            participant = delivery.consumer
            return self._commit(
                lambda uow: handle_participant_message(
                    uow, participant, delivery.message, self.clock.now()
                )
            )
        return self._handle(delivery.consumer, delivery.message)

    def advance(self, delta: timedelta, *, drain: bool = True) -> None:
        """Move the clock by ``delta``, firing each deadline at its due time.

        With ``drain`` (the default) the bus is drained first and after each deadline, so
        that what a deadline causes happens before later deadlines. ``drain=False`` lets
        time pass while deliveries wait: a deadline then fires before a pending answer.
        """
        target = self.clock.now() + delta
        if drain:
            self.drain()
        while (due := self.store.next_due()) is not None and due <= target:
            self.clock.set(max(due, self.clock.now()))
            self._fire_one()
            if drain:
                self.drain()
        self.clock.set(target)

    def _fire_one(self) -> None:
        """Claim the earliest due deadline and handle it in the same unit of work."""
        now = self.clock.now()
        fired: list[DeadlineFired] = []

        def fire(uow: MemoryUnitOfWork) -> Handled:
            fired.extend(uow.claim_due(now, 1))  # claimed: it fires once
            return handle_saga_input(uow, self.sagas[fired[0].saga], fired[0], now)

        handled = self._commit(fire)
        self._record(self.sagas[fired[0].saga], fired[0], now, handled)

    def hold(self, *event_types: type[Event]) -> None:
        """Keep deliveries of these event types aside until :meth:`release` (a late answer)."""
        self._hold_types |= {event_name(t) for t in event_types}
        kept = [d for d in self.pending if d.message.event_type in self._hold_types]
        self._held.extend(kept)
        self.pending = [d for d in self.pending if d.message.event_type not in self._hold_types]

    def release(self) -> None:
        """Put held deliveries back on the bus (after the ones pending now) and stop holding."""
        self.pending.extend(self._held)
        self._held = []
        self._hold_types = set()

    # -- inspection ------------------------------------------------------------------------

    def instance(self, saga: SagaRef, instance_id: str) -> Instance:
        definition = self._saga(saga)
        instance = self.store.load(definition.name, instance_id)
        if instance is None:
            known = sorted(i for s, i in self.store.instances if s == definition.name)
            raise UnknownInstanceError(
                f"saga {definition.name} has no instance {instance_id!r} "
                f"(instances: {', '.join(known[:10]) or 'none'})"
            )
        return instance

    def state(self, saga: SagaRef, instance_id: str) -> str:
        return self.instance(saga, instance_id).state

    def history(self, saga: SagaRef, instance_id: str) -> list[HistoryEntry]:
        self.instance(saga, instance_id)
        return list(self.store.history[(self._saga(saga).name, instance_id)])

    def instances(self, saga: SagaRef) -> list[Instance]:
        name = self._saga(saga).name
        return [
            Instance.from_json(raw) for (s, _), raw in self.store.instances.items() if s == name
        ]

    def published(
        self, event_type: type[Event] | None = None, *, correlation_id: str | None = None
    ) -> list[Message]:
        """Every message put on the bus (by tests or relayed from outboxes), oldest first."""
        return [
            m
            for m in self._published
            if (event_type is None or type(m.event) is event_type)
            and (correlation_id is None or m.correlation_id == correlation_id)
        ]

    @property
    def orphans(self) -> list[OrphanEvent]:
        """Orphan events kept for instances that do not exist (yet)."""
        return list(self.store.orphans)

    def recording(self, saga: SagaRef, instance_id: str) -> dict[str, Any]:
        """The inputs an instance handled and its history, as JSON (see ``replay``)."""
        definition = self._saga(saga)
        return {
            "saga": definition.name,
            "instance_id": instance_id,
            "inputs": list(self._inputs.get((definition.name, instance_id), [])),
            "history": [e.to_json() for e in self.history(saga, instance_id)],
        }

    # -- internals -------------------------------------------------------------------------

    def _saga(self, saga: SagaRef) -> SagaDefinition:
        definition = definition_of(saga)
        if definition.name not in self.sagas:
            raise ConfigError(
                f"saga {definition.name} is not part of this harness: pass it in sagas=[...]"
            )
        return definition

    def _default_correlation(self, event: Event) -> str:
        key = event_name(event)
        for consumer in self.subscriptions.consumers(key):
            if isinstance(consumer, SagaVersions):
                field = consumer.correlation_definition(key).correlation.get(key)
                if field is not None:
                    return str(getattr(event, field))
        return new_id()

    def _handle(self, definition: SagaVersions, inp: Input) -> Handled:
        now = self.clock.now()
        handled = self._commit(lambda uow: handle_saga_input(uow, definition, inp, now))
        self._record(definition, inp, now, handled)
        return handled

    def _record(
        self, definition: SagaVersions, inp: Input, now: datetime, handled: Handled
    ) -> None:
        decision = handled.decision
        if decision is not None and decision.outcome != "orphan":
            instance_id = (
                decision.instance.instance_id
                if decision.instance is not None
                else getattr(inp, "instance_id", "")
            )
            inputs = self._inputs.setdefault((definition.name, instance_id), [])
            for handled_input in (inp, *handled.replayed):
                inputs.append({"at": now.isoformat(), "input": handled_input.to_json()})

    def _commit(self, work: Callable[[MemoryUnitOfWork], _T]) -> _T:
        with self.store.unit_of_work() as uow:
            handled = work(uow)
        for message in self.store.take_outbox():  # the relay: committed rows reach the bus
            self._put(message)
        return handled

    def _put(self, message: Message) -> None:
        self._published.append(message)
        for consumer in self.subscriptions.consumers(message.event_type):
            delivery = Delivery(consumer, message)
            if message.event_type in self._hold_types:
                self._held.append(delivery)
            else:
                self.pending.append(delivery)
