"""The in-memory store: the same contract as the PostgreSQL store, kept in dicts.

Instances are stored as their JSON form, so whatever the in-memory harness accepts also
survives the round trip the durable store makes. A unit of work buffers its writes and
applies them on commit; an exception inside it leaves the store untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from saga.engine.instance import Deadline, HistoryEntry, Instance
from saga.engine.messages import DeadlineFired, Message
from saga.errors import ConcurrencyError


@dataclass(frozen=True, slots=True)
class OrphanEvent:
    """An event for a saga instance that did not exist (yet), kept with the reason (policy
    ``keep``)."""

    consumer: str
    message: Message
    reason: str
    instance_id: str = ""
    """The instance it names, which did not exist (yet) when it arrived."""


@dataclass
class MemoryStore:
    """Saga instances, history, inbox, outbox and deadlines in memory."""

    instances: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    history: dict[tuple[str, str], list[HistoryEntry]] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[Message] = field(default_factory=list)
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    orphans: list[OrphanEvent] = field(default_factory=list)

    @contextmanager
    def unit_of_work(self) -> Iterator[MemoryUnitOfWork]:
        uow = MemoryUnitOfWork(self)
        yield uow
        uow.commit()

    def next_due(self) -> datetime | None:
        return min((d.due for d in self.deadlines.values()), default=None)

    def take_outbox(self) -> list[Message]:
        """The messages committed since the last call: what a relay would publish now."""
        taken, self.outbox = self.outbox, []
        return taken

    def load(self, saga: str, instance_id: str) -> Instance | None:
        raw = self.instances.get((saga, instance_id))
        return None if raw is None else Instance.from_json(raw)


class MemoryUnitOfWork:
    """Buffered writes against a :class:`MemoryStore`, applied by :meth:`commit`."""

    session = None  # no database: participants' handlers get no session in memory

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._inbox: set[tuple[str, str]] = set()
        self._saves: dict[tuple[str, str], tuple[Instance, int]] = {}
        self._history: list[tuple[tuple[str, str], HistoryEntry]] = []
        self._outbox: list[Message] = []
        self._schedule: list[Deadline] = []
        self._cancel: list[Deadline] = []
        self._claimed: list[Deadline] = []
        self._orphans: list[OrphanEvent] = []
        self._taken: list[OrphanEvent] = []

    def claim(self, consumer: str, input_ids: Sequence[str]) -> set[str]:
        fresh: set[str] = set()
        for input_id in input_ids:
            key = (consumer, input_id)
            if key not in self._store.inbox and key not in self._inbox:
                self._inbox.add(key)
                fresh.add(input_id)
        return fresh

    def prefetch(self, saga: str, instance_ids: Sequence[str]) -> None:
        """Nothing to fetch in memory."""

    def load(self, saga: str, instance_id: str) -> Instance | None:
        pending = self._saves.get((saga, instance_id))
        return pending[0] if pending else self._store.load(saga, instance_id)

    def save(self, instance: Instance, *, expected_version: int) -> None:
        key = (instance.saga, instance.instance_id)
        pending = self._saves.get(key)
        stored = self._store.instances.get(key)
        version = pending[0].version if pending else 0 if stored is None else stored["version"]
        if version != expected_version:
            raise ConcurrencyError(
                f"saga {instance.saga}, instance {instance.instance_id}: stored version "
                f"{version}, expected {expected_version}; reload it and handle the input again"
            )
        # The version the store must still hold at commit is the one before this unit of work.
        first = pending[1] if pending else expected_version
        self._saves[key] = (instance, first)

    def append_history(self, saga: str, instance_id: str, entry: HistoryEntry) -> None:
        self._history.append(((saga, instance_id), entry))

    def append_outbox(self, messages: Sequence[Message]) -> None:
        self._outbox.extend(messages)

    def schedule(self, deadline: Deadline) -> None:
        self._schedule.append(deadline)

    def cancel(self, deadline: Deadline) -> None:
        self._cancel.append(deadline)

    def claim_due(self, now: datetime, limit: int) -> list[DeadlineFired]:
        taken = {d.deadline_id for d in self._claimed}
        due = sorted(
            (
                d
                for d in self._store.deadlines.values()
                if d.due <= now and d.deadline_id not in taken
            ),
            key=lambda d: (d.due, d.deadline_id),
        )[:limit]
        self._claimed.extend(due)
        return [DeadlineFired(d.saga, d.instance_id, d.deadline_id) for d in due]

    def keep_orphan(self, consumer: str, instance_id: str, message: Message, reason: str) -> None:
        self._orphans.append(OrphanEvent(consumer, message, reason, instance_id))

    def take_orphans(self, saga: str, instance_id: str) -> list[Message]:
        def mine(orphan: OrphanEvent) -> bool:
            return orphan.consumer == saga and orphan.instance_id == instance_id

        found = [o for o in (*self._store.orphans, *self._orphans) if mine(o)]
        self._taken.extend(found)
        return [o.message for o in found]

    def commit(self) -> None:
        store = self._store
        for key, (_, expected) in self._saves.items():
            current = store.instances.get(key)
            if (0 if current is None else current["version"]) != expected:
                raise ConcurrencyError(
                    f"saga {key[0]}, instance {key[1]}: saved by someone else meanwhile"
                )
        store.inbox |= self._inbox
        for key, (instance, _) in self._saves.items():
            store.instances[key] = instance.to_json()
        for key, entry in self._history:
            store.history.setdefault(key, []).append(entry)
        store.outbox.extend(self._outbox)
        for deadline in (*self._claimed, *self._cancel):
            store.deadlines.pop(deadline.deadline_id, None)
        for deadline in self._schedule:
            store.deadlines[deadline.deadline_id] = deadline
        store.orphans.extend(self._orphans)
        store.orphans = [o for o in store.orphans if o not in self._taken]
