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
from saga.engine.messages import Message
from saga.errors import ConcurrencyError


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """An event that no saga instance took, kept with the reason (policy ``park``)."""

    consumer: str
    message: Message
    reason: str


@dataclass
class MemoryStore:
    """Saga instances, history, inbox, outbox and deadlines in memory."""

    instances: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    history: dict[tuple[str, str], list[HistoryEntry]] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[Message] = field(default_factory=list)
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    parked: list[ParkedEvent] = field(default_factory=list)

    @contextmanager
    def unit_of_work(self) -> Iterator[MemoryUnitOfWork]:
        uow = MemoryUnitOfWork(self)
        yield uow
        uow.commit()

    def due_deadlines(self, now: datetime, limit: int) -> Sequence[Deadline]:
        due = sorted(
            (d for d in self.deadlines.values() if d.due <= now),
            key=lambda d: (d.due, d.deadline_id),
        )
        return due[:limit]

    def next_deadline(self) -> Deadline | None:
        return min(self.deadlines.values(), key=lambda d: (d.due, d.deadline_id), default=None)

    def load(self, saga: str, instance_id: str) -> Instance | None:
        raw = self.instances.get((saga, instance_id))
        return None if raw is None else Instance.from_json(raw)


class MemoryUnitOfWork:
    """Buffered writes against a :class:`MemoryStore`, applied by :meth:`commit`."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._inbox: set[tuple[str, str]] = set()
        self._saves: dict[tuple[str, str], tuple[Instance, int]] = {}
        self._history: list[tuple[tuple[str, str], HistoryEntry]] = []
        self._outbox: list[Message] = []
        self._schedule: list[Deadline] = []
        self._cancel: list[Deadline] = []
        self._parked: list[ParkedEvent] = []

    def first_time(self, consumer: str, input_id: str) -> bool:
        key = (consumer, input_id)
        if key in self._store.inbox or key in self._inbox:
            return False
        self._inbox.add(key)
        return True

    def load(self, saga: str, instance_id: str) -> Instance | None:
        pending = self._saves.get((saga, instance_id))
        return pending[0] if pending else self._store.load(saga, instance_id)

    def save(self, instance: Instance, *, expected_version: int) -> None:
        key = (instance.saga, instance.instance_id)
        stored = self._store.instances.get(key)
        version = 0 if stored is None else stored["version"]
        if version != expected_version:
            raise ConcurrencyError(
                f"saga {instance.saga}, instance {instance.instance_id}: stored version "
                f"{version}, expected {expected_version}; reload it and handle the input again"
            )
        self._saves[key] = (instance, expected_version)

    def append_history(self, saga: str, instance_id: str, entry: HistoryEntry) -> None:
        self._history.append(((saga, instance_id), entry))

    def append_outbox(self, messages: Sequence[Message]) -> None:
        self._outbox.extend(messages)

    def schedule(self, deadline: Deadline) -> None:
        self._schedule.append(deadline)

    def cancel(self, deadline: Deadline) -> None:
        self._cancel.append(deadline)

    def park_event(self, consumer: str, message: Message, reason: str) -> None:
        self._parked.append(ParkedEvent(consumer, message, reason))

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
        for deadline in self._cancel:
            store.deadlines.pop(deadline.deadline_id, None)
        for deadline in self._schedule:
            store.deadlines[deadline.deadline_id] = deadline
        store.parked.extend(self._parked)
