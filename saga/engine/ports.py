"""The small interfaces through which sagas and participants touch the world.

The engine (:mod:`saga.engine.decide`) is pure; :mod:`saga.engine.processing` drives it
through these ports. Adapters: PostgreSQL + Kafka for production, :mod:`saga.testing.harness`
in memory. Nothing here imports a driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from saga.engine.instance import Deadline, HistoryEntry, Instance
from saga.engine.messages import Message


class Clock(Protocol):
    """Where time comes from: the database clock in production, a virtual one in tests."""

    def now(self) -> datetime: ...


class UnitOfWork(Protocol):
    """Everything one input changes; the caller commits it all or none of it."""

    def first_time(self, consumer: str, input_id: str) -> bool:
        """Record ``input_id`` in ``consumer``'s inbox; False when it was already there."""
        ...

    def load(self, saga: str, instance_id: str) -> Instance | None: ...

    def save(self, instance: Instance, *, expected_version: int) -> None:
        """Insert or update; raise :class:`~saga.errors.ConcurrencyError` when the stored
        version is not ``expected_version`` (0: the instance must not exist yet)."""
        ...

    def append_history(self, saga: str, instance_id: str, entry: HistoryEntry) -> None: ...

    def append_outbox(self, messages: Sequence[Message]) -> None:
        """Queue events for publication once the unit of work commits."""
        ...

    def schedule(self, deadline: Deadline) -> None: ...

    def cancel(self, deadline: Deadline) -> None: ...

    def park_event(self, consumer: str, message: Message, reason: str) -> None:
        """Keep an event no instance wanted, with the reason, for an operator to replay."""
        ...


class Store(Protocol):
    """Saga instances, history, inbox, outbox and deadlines behind units of work."""

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work committed when the block ends normally, rolled back otherwise."""
        ...

    def due_deadlines(self, now: datetime, limit: int) -> Sequence[Deadline]:
        """Deadlines due at ``now``, earliest first."""
        ...


class Bus(Protocol):
    """Where committed outbox messages go (Kafka via the relay; a list in memory)."""

    def publish(self, messages: Sequence[Message]) -> None: ...
