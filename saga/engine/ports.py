"""The small interfaces through which sagas and participants touch the world.

The engine (:mod:`saga.engine.decide`) is pure; :mod:`saga.engine.processing` drives it
through these ports. Adapters: PostgreSQL (:mod:`saga.postgres.store`) for production, the
in-memory store of :mod:`saga.testing` for tests; tracing and metrics
(:mod:`saga.observability`) watch through :class:`Observer`. Nothing here imports a driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from saga.engine.instance import Deadline, HistoryEntry, Instance
from saga.engine.messages import DeadlineFired, Input, Message

if TYPE_CHECKING:
    from saga.engine.hosting import Consumer
    from saga.engine.processing import Handled


class Clock(Protocol):
    """Where time comes from: the database clock in production, a virtual one in tests."""

    def now(self) -> datetime: ...


class UnitOfWork(Protocol):
    """Everything a batch of inputs changes; the store commits it all or none of it."""

    @property
    def session(self) -> Any:
        """The transaction a participant's handler writes its own rows in (a SQLAlchemy
        ``Session`` in production; ``None`` in memory)."""
        ...

    def claim(self, consumer: str, input_ids: Sequence[str]) -> set[str]:
        """Record ``input_ids`` in ``consumer``'s inbox; returns those not seen before.

        The only way an input is marked handled (:mod:`saga.engine.processing` calls it):
        if the unit of work rolls back, so does the claim.
        """
        ...

    def prefetch(self, saga: str, instance_ids: Sequence[str]) -> None:
        """Load these instances at once (a hint for stores with round trips)."""
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

    def claim_due(self, now: datetime, limit: int) -> list[DeadlineFired]:
        """Take up to ``limit`` deadlines due at ``now``, earliest first: they are gone once
        the unit of work commits, and back for another taker if it rolls back."""
        ...

    def keep_orphan(self, consumer: str, instance_id: str, message: Message, reason: str) -> None:
        """Keep an event no instance wanted, with the reason, until its instance exists."""
        ...

    def take_orphans(self, saga: str, instance_id: str) -> list[Message]:
        """Remove and return the orphan events kept for an instance, oldest first."""
        ...


class Store(Protocol):
    """Saga instances, history, inbox, outbox and deadlines behind units of work."""

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work committed when the block ends normally, rolled back otherwise."""
        ...

    def next_due(self) -> datetime | None:
        """When the earliest pending deadline is due (None: there is none)."""
        ...


class Watch(Protocol):
    """One input being handled, as an :class:`Observer` sees it."""

    @property
    def traceparent(self) -> str | None:
        """The W3C trace context the input is handled in (None: not tracing): what it emits
        continues it, and its history entry keeps its trace id."""
        ...

    def done(self, result: Handled) -> None:
        """The input was handled (not called when handling raised)."""
        ...


class Observer(Protocol):
    """Watches inputs being handled: spans, metrics. The runtime asks for one per batch and
    passes None when nothing watches, so an unobserved input costs nothing."""

    def watch(
        self,
        consumer: Consumer,
        inp: Input,
        subject: str,
        parent: object | None,
    ) -> AbstractContextManager[Watch]:
        """Wraps the handling of ``inp`` by ``consumer``; ``subject`` is the saga instance it
        is about, ``parent`` what the runtime handles it under (the record's span)."""
        ...
