"""The PostgreSQL store behind the engine's ports: one unit of work per batch of inputs.

A unit of work is one database transaction on a SQLAlchemy ``Session`` (the same one a
participant's handler writes its own rows in). Reads happen as they are asked for, batched
where the engine says what it will need (:meth:`PgUnitOfWork.prefetch`, one query for a
batch's instances); writes are buffered and flushed together just before the commit, one
statement per table: the instances with their optimistic versions, history, outbox,
deadlines, orphan events. Nothing is written per input on the way.

Inbox claims (``INSERT ... ON CONFLICT DO NOTHING RETURNING``) and due deadlines
(``FOR UPDATE SKIP LOCKED``) take row locks that a concurrent worker waits on or skips, so two
workers never apply the same input or fire the same deadline; a version that moved
underneath raises :class:`~saga.errors.ConcurrencyError` at the flush and the whole unit of
work rolls back.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy.orm import Session, sessionmaker

from saga.contracts.serde import Serializer
from saga.contracts.topics import TopicMap
from saga.engine.instance import Deadline, HistoryEntry, Instance
from saga.engine.messages import (
    DeadlineFired,
    Message,
    Operation,
    OperatorCommand,
    SignalReceived,
)
from saga.errors import ConcurrencyError, ConfigError
from saga.postgres import inbox
from saga.postgres.inbox import driver_connection
from saga.postgres.outbox import Outbox, OutboxEntry, insert_rows, outbox_row
from saga.postgres.tables import (
    deadline_table,
    history_table,
    instance_table,
    orphan_event_table,
    signal_table,
)

__all__ = ["DatabaseClock", "PgStore", "PgUnitOfWork"]

_INSTANCE = instance_table.name
_HISTORY = history_table.name
_DEADLINE = deadline_table.name
_SIGNAL = signal_table.name
_ORPHANS = orphan_event_table.name


@dataclass
class DatabaseClock:
    """Time comes from the database (every worker agrees on it), shifted by ``offset``.

    Tests move ``offset`` forward to let time pass: deadlines fire as if it had.
    """

    offset: timedelta = timedelta(0)


_AGES = f"""
    SELECT i.saga, i.instance_id, extract(epoch FROM now() - i.created_at)::float8
    FROM {_INSTANCE} i JOIN jsonb_to_recordset(%s::jsonb) AS e(saga text, instance_id text)
         USING (saga, instance_id)
"""  # noqa: S608


class PgStore:
    """Instances, history, inbox, outbox, deadlines and signals in one PostgreSQL database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        serializer: Serializer | None = None,
        topics: TopicMap | None = None,
        sagas: Collection[str] = (),
        clock: DatabaseClock | None = None,
        record_limit: int | None = None,
        topic_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.sessions = sessions
        self._serializer = serializer
        self.topics = topics or TopicMap()
        self.sagas = sorted(sagas)  # deadlines and signals of these sagas are ours to fire
        self.clock = clock or DatabaseClock()
        self.outbox = (
            None
            if serializer is None
            else Outbox(
                serializer,
                producer="saga-worker",
                topic=self.topics.topic_for,
                record_limit=record_limit,
                topic_limits=topic_limits,
            )
        )

    def set_topic_limits(self, limits: Mapping[str, int]) -> None:
        """Each topic's ``max.message.bytes``: events over it are refused as they are written."""
        if self.outbox is not None:
            self.outbox.set_topic_limits(limits)

    @property
    def serializer(self) -> Serializer:
        """What encodes the events sagas and participants emit (and the events kept for an
        instance); a store made without one hosts plain handlers only."""
        if self._serializer is None:
            raise ConfigError("this store has no serializer: give PgStore(serializer=...)")
        return self._serializer

    @contextmanager
    def unit_of_work(self) -> Iterator[PgUnitOfWork]:
        """One transaction: flushed and committed when the block ends, rolled back if it raises."""
        with self.sessions() as session, session.begin():
            uow = PgUnitOfWork(session, self)
            yield uow
            uow.flush()

    def ages(self, instances: Sequence[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """Seconds since each (saga, instance id) was created, by the database's clock."""
        if not instances:
            return {}
        wanted = json.dumps([{"saga": s, "instance_id": i} for s, i in instances])
        with self.sessions() as session:
            raw = driver_connection(session)
            rows = raw.execute(_AGES, (wanted,)).fetchall()
        return {(saga, instance): float(seconds) for saga, instance, seconds in rows}

    def next_due(self) -> datetime | None:
        with self.sessions() as session:
            raw = driver_connection(session)
            row = raw.execute(
                f"SELECT min(due_at) FROM {_DEADLINE} WHERE saga = ANY(%s)",  # noqa: S608
                (self.sagas,),
            ).fetchone()
        return None if row is None else row[0]


class PgUnitOfWork:
    """The engine's unit of work on PostgreSQL (see the module docstring)."""

    def __init__(self, session: Session, store: PgStore) -> None:
        self._session = session
        self._store = store
        self._raw = driver_connection(session)
        self._now: datetime | None = None
        self._loaded: dict[tuple[str, str], Instance | None] = {}
        self._saves: dict[tuple[str, str], tuple[Instance, int]] = {}
        self._history: list[tuple[str, str, HistoryEntry]] = []
        self._outbox: list[Message] = []
        self._encoded: list[dict[str, Any]] = []
        self._schedule: dict[str, Deadline] = {}
        self._cancel: set[str] = set()
        self._orphans: list[tuple[str, str, Message, str]] = []
        self._has_orphans: set[tuple[str, str]] = set()  # found orphan events, by prefetch

    @property
    def session(self) -> Session:
        return self._session

    def now(self) -> datetime:
        """The database's time (start of this transaction), shifted by the clock's offset."""
        if self._now is None:
            row = self._raw.execute("SELECT now() + %s", (self._store.clock.offset,)).fetchone()
            assert row is not None
            self._now = row[0]
        return self._now

    # -- inbox ---------------------------------------------------------------------------

    def claim(self, consumer: str, input_ids: Sequence[str]) -> set[str]:
        return inbox.claim(self._raw, consumer, input_ids)

    # -- instances -----------------------------------------------------------------------

    def prefetch(self, saga: str, instance_ids: Sequence[str]) -> None:
        wanted = [i for i in dict.fromkeys(instance_ids) if (saga, i) not in self._loaded]
        if not wanted:
            return
        # Ids as one JSON document: psycopg adapts a list element by element (slow), and ids
        # are the user's text. The orphan events of new instances are looked up at once too.
        rows = self._raw.execute(
            f"""
            SELECT i.instance_id, i.snapshot, false FROM {_INSTANCE} i
            WHERE i.saga = %(saga)s
              AND i.instance_id IN (SELECT jsonb_array_elements_text(%(ids)s::jsonb))
            UNION ALL
            SELECT DISTINCT p.instance_id, NULL::jsonb, true FROM {_ORPHANS} p
            WHERE p.consumer = %(saga)s
              AND p.instance_id IN (SELECT jsonb_array_elements_text(%(ids)s::jsonb))
            """,  # noqa: S608
            {"saga": saga, "ids": json.dumps(wanted)},
        ).fetchall()
        found = {r[0]: Instance.from_json(r[1]) for r in rows if not r[2]}
        self._has_orphans.update((saga, r[0]) for r in rows if r[2])
        for instance_id in wanted:
            self._loaded[(saga, instance_id)] = found.get(instance_id)

    def load(self, saga: str, instance_id: str) -> Instance | None:
        key = (saga, instance_id)
        pending = self._saves.get(key)
        if pending is not None:
            return pending[0]
        if key not in self._loaded:
            self.prefetch(saga, [instance_id])
        return self._loaded[key]

    def save(self, instance: Instance, *, expected_version: int) -> None:
        key = (instance.saga, instance.instance_id)
        pending = self._saves.get(key)
        if pending is not None:
            current = pending[0].version
        else:
            loaded = self._loaded.get(key)
            current = 0 if loaded is None else loaded.version
        if current != expected_version:
            raise ConcurrencyError(
                f"saga {instance.saga}, instance {instance.instance_id}: version {current}, "
                f"expected {expected_version}; handle the input again"
            )
        # What the table must still hold at the flush: the version before this unit of work.
        self._saves[key] = (instance, pending[1] if pending else expected_version)

    def append_history(self, saga: str, instance_id: str, entry: HistoryEntry) -> None:
        self._history.append((saga, instance_id, entry))

    def append_outbox(self, messages: Sequence[Message]) -> None:
        self._outbox.extend(messages)

    def append_encoded(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queue records already encoded (:func:`~saga.postgres.outbox.outbox_row`, e.g. dead
        letters) for publication once the unit of work commits."""
        self._encoded.extend(rows)

    # -- deadlines and signals -----------------------------------------------------------

    def schedule(self, deadline: Deadline) -> None:
        self._schedule[deadline.deadline_id] = deadline

    def cancel(self, deadline: Deadline) -> None:
        if self._schedule.pop(deadline.deadline_id, None) is None:
            self._cancel.add(deadline.deadline_id)

    def claim_due(self, now: datetime, limit: int) -> list[DeadlineFired]:
        rows = self._raw.execute(
            f"""
            DELETE FROM {_DEADLINE} WHERE deadline_id IN (
                SELECT deadline_id FROM {_DEADLINE}
                WHERE saga = ANY(%s) AND due_at <= %s
                ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED)
            RETURNING saga, instance_id, deadline_id, due_at
            """,  # noqa: S608
            (self._store.sagas, now, limit),
        ).fetchall()
        rows.sort(key=lambda r: (r[3], r[2]))
        return [DeadlineFired(r[0], r[1], r[2], r[3]) for r in rows]

    def claim_signals(self, limit: int) -> list[SignalReceived | OperatorCommand]:
        """Take up to ``limit`` signals and operators' commands sent to hosted sagas, oldest
        first (gone at commit)."""
        rows = self._raw.execute(
            f"""
            DELETE FROM {_SIGNAL} WHERE signal_id IN (
                SELECT signal_id FROM {_SIGNAL} WHERE saga = ANY(%s)
                ORDER BY sent_at LIMIT %s FOR UPDATE SKIP LOCKED)
            RETURNING saga, instance_id, name, signal_id, data, sent_at, kind, sent_by, reason
            """,  # noqa: S608
            (self._store.sagas, limit),
        ).fetchall()
        rows.sort(key=lambda r: (r[5], r[3]))
        return [_sent(*r) for r in rows]

    # -- orphan events -------------------------------------------------------------------

    def keep_orphan(self, consumer: str, instance_id: str, message: Message, reason: str) -> None:
        self._orphans.append((consumer, instance_id, message, reason))

    def take_orphans(self, saga: str, instance_id: str) -> list[Message]:
        if (saga, instance_id) not in self._loaded:
            self.prefetch(saga, [instance_id])
        taken: list[Message] = []
        if (saga, instance_id) in self._has_orphans:  # else no round trip: the common case
            rows = self._raw.execute(
                f"DELETE FROM {_ORPHANS} WHERE consumer = %s AND instance_id = %s "  # noqa: S608
                "RETURNING id, value, header_names, header_values",
                (saga, instance_id),
            ).fetchall()
            rows.sort(key=lambda r: r[0])
            decode = self._store.serializer.decode
            taken = [
                Message(*decode(bytes(r[1]), list(zip(r[2], r[3], strict=True)))) for r in rows
            ]
        # Kept earlier in this same unit of work (both arrived in one batch).
        here = [p for p in self._orphans if p[0] == saga and p[1] == instance_id]
        self._orphans = [p for p in self._orphans if p not in here]
        return taken + [p[2] for p in here]

    # -- the flush -----------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything buffered, one statement per table (called before the commit)."""
        self._write_instances()
        self._write_history()
        if self._outbox:
            outbox = self._store.outbox
            if outbox is None:
                raise ConfigError("events were emitted into a store with no serializer")
            rows, _ = outbox.rows(OutboxEntry(m.event, m.envelope) for m in self._outbox)
            self._encoded.extend(rows)
        insert_rows(self._session, self._encoded)
        self._write_deadlines()
        self._write_orphans()

    def _write_instances(self) -> None:
        by_saga: dict[str, list[tuple[Instance, int]]] = {}
        for (saga, _), pending in self._saves.items():
            by_saga.setdefault(saga, []).append(pending)
        for saga, saves in by_saga.items():
            new = [i for i, expected in saves if expected == 0]
            old = [(i, expected) for i, expected in saves if expected != 0]
            if new:
                created = self._raw.execute(
                    f"""
                    INSERT INTO {_INSTANCE} (saga, instance_id, version, definition_version,
                                             state, status, snapshot, parked_reason)
                    SELECT %s, t.id, t.version, t.dv, t.state, t.status, t.snapshot, t.reason
                    FROM jsonb_to_recordset(%s::jsonb) AS t(id text, version int, dv int,
                         state text, status text, snapshot jsonb, reason text)
                    ON CONFLICT DO NOTHING RETURNING instance_id
                    """,  # noqa: S608
                    (saga, _records((i, 0) for i in new)),
                ).fetchall()
                if len(created) != len(new):
                    lost = {i.instance_id for i in new} - {r[0] for r in created}
                    raise ConcurrencyError(
                        f"saga {saga}: instance(s) {', '.join(sorted(lost))} were created by "
                        "another worker meanwhile; handle the inputs again"
                    )
            if old:
                updated = self._raw.execute(
                    f"""
                    UPDATE {_INSTANCE} i
                    SET version = t.version, state = t.state, status = t.status,
                        snapshot = t.snapshot, parked_reason = t.reason, updated_at = now()
                    FROM jsonb_to_recordset(%s::jsonb) AS t(id text, version int, dv int,
                         state text, status text, snapshot jsonb, reason text, expected int)
                    WHERE i.saga = %s AND i.instance_id = t.id AND i.version = t.expected
                    RETURNING i.instance_id
                    """,  # noqa: S608
                    (_records(old), saga),
                ).fetchall()
                if len(updated) != len(old):
                    lost = {i.instance_id for i, _ in old} - {r[0] for r in updated}
                    raise ConcurrencyError(
                        f"saga {saga}: instance(s) {', '.join(sorted(lost))} were saved by "
                        "another worker meanwhile; handle the inputs again"
                    )

    def _write_history(self) -> None:
        if not self._history:
            return
        records = [
            {
                "saga": saga,
                "id": instance_id,
                "seq": entry.seq,
                "at": entry.at.isoformat(),
                "trigger": entry.trigger,
                "input": entry.input_id,
                "from": entry.from_state,
                "to": entry.to_state,
                "entry": entry.to_json(),
                "trace": entry.trace_id,
            }
            for saga, instance_id, entry in self._history
        ]
        self._raw.execute(
            f"""
            INSERT INTO {_HISTORY} (saga, instance_id, seq, at, trigger, input_id, from_state,
                                    to_state, entry, trace_id)
            SELECT t.saga, t.id, t.seq, t.at, t.trigger, t.input, t."from", t."to", t.entry,
                   t.trace
            FROM jsonb_to_recordset(%s::jsonb) AS t(saga text, id text, seq int,
                 at timestamptz, trigger text, input text, "from" text, "to" text,
                 entry jsonb, trace text)
            """,  # noqa: S608
            (json.dumps(records),),
        )

    def _write_deadlines(self) -> None:
        if self._cancel:
            self._raw.execute(
                f"DELETE FROM {_DEADLINE} WHERE deadline_id = ANY(%s)",  # noqa: S608
                (sorted(self._cancel),),
            )
        if self._schedule:
            deadlines = list(self._schedule.values())
            self._raw.execute(
                f"""
                INSERT INTO {_DEADLINE} (deadline_id, saga, instance_id, state, due_at)
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],
                                     %s::timestamptz[])
                ON CONFLICT (deadline_id) DO NOTHING
                """,  # noqa: S608
                (
                    [d.deadline_id for d in deadlines],
                    [d.saga for d in deadlines],
                    [d.instance_id for d in deadlines],
                    [d.state for d in deadlines],
                    [d.due for d in deadlines],
                ),
            )

    def _write_orphans(self) -> None:
        if not self._orphans:
            return
        rows: list[dict[str, Any]] = []
        for consumer, instance_id, message, reason in self._orphans:
            encoded = self._store.serializer.encode(message.event, message.envelope)
            row = outbox_row(
                topic=self._store.topics.topic_for(message.event_type),
                key=encoded.key,
                value=encoded.value,
                headers=encoded.headers,
                event_id=message.envelope.event_id,
                event_type=message.event_type,
            )
            rows.append(
                {
                    "consumer": consumer,
                    "instance_id": instance_id,
                    "event_id": row["event_id"],
                    "event_type": row["event_type"],
                    "topic": row["topic"],
                    "key": row["key"],
                    "value": row["value"],
                    "header_names": row["header_names"],
                    "header_values": row["header_values"],
                    "reason": reason,
                }
            )
        self._session.execute(orphan_event_table.insert(), rows)


def _sent(
    saga: str,
    instance_id: str,
    name: str,
    sent_id: str,
    data: dict[str, Any] | None,
    _sent_at: datetime,
    kind: str,
    by: str | None,
    reason: str | None,
) -> SignalReceived | OperatorCommand:
    """A row of the signal table as the input it is (``kind``: signal or operation)."""
    if kind == "operation":
        step = (data or {}).get("step")
        operation = cast(Operation, name)  # queue_operation wrote one of OPERATIONS
        return OperatorCommand(saga, instance_id, operation, sent_id, by or "", reason or "", step)
    return SignalReceived(saga, instance_id, name, sent_id, data or {}, by, reason)


def _records(saves: Iterable[tuple[Instance, int]]) -> str:
    """Instances (and the version each must replace) as one JSON document for
    ``jsonb_to_recordset``: one parameter instead of an array per column."""
    return json.dumps(
        [
            {
                "id": i.instance_id,
                "version": i.version,
                "dv": i.definition_version,
                "state": i.state,
                "status": i.status,
                "snapshot": i.to_json(),
                "reason": i.parked_reason,
                "expected": expected,
            }
            for i, expected in saves
        ]
    )
