"""The inbox: each event's effect applied exactly once, however often Kafka delivers it.

A consumer records ``(consumer group, event id)`` in ``saga_inbox`` in the same database
transaction as the handler's effects. A duplicate delivery finds the row and is skipped
(``INSERT ... ON CONFLICT DO NOTHING RETURNING`` tells new from seen without an error).
Kafka offsets are committed only after the database commit: a crash before it means the
batch is delivered again and skipped; a crash after it loses nothing.

:class:`InboxConsumer` runs that loop for a confluent-kafka ``Consumer``: one database
transaction per polled batch, handlers called in partition order with the caller's
``Session``.

**Dead letters** (opt-in: ``dead_letter_topic=``). An event whose handler still fails after
``attempts`` tries, or whose message cannot be decoded (a :class:`~saga.errors.ContractError`
fails the same way every time: no retries), is written to the outbox for the dead-letter
topic in the transaction that claims its event id in the inbox: original key, value and
headers, plus ``dead-letter-error`` (exception type and message, at most 1 KiB),
``dead-letter-source`` (``topic[partition]@offset``) and ``dead-letter-group``. The relay
publishes it exactly once, a redelivery is skipped by the inbox, and the partition moves
on. A message whose envelope cannot be read is claimed under :func:`dead_letter_id`; a
missing key or value is stored as empty bytes. Outages are never dead-lettered: a database
(SQLAlchemy ``OperationalError`` / ``InterfaceError``) or schema registry
(:class:`~saga.errors.RegistryUnavailable`) that is away is waited for by :meth:`run`, and
any other retriable :class:`~saga.errors.SagaError` propagates. Without a dead-letter topic, a
failing event stops the consumer, after the offsets of the events before it are committed.

**Retention.** :meth:`InboxConsumer.run` deletes its own group's rows older than
``retention`` (default 7 days) every ``cleanup_interval`` seconds, in short transactions of
its own between batches. Keep ``retention`` longer than any consumer can stay down: an
event redelivered after its row is gone is applied again. :func:`cleanup_inbox` deletes one
chunk, for schedules of your own.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import NamedTuple, Protocol
from uuid import UUID

from confluent_kafka import Consumer, KafkaError, Message
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from saga import _telemetry
from saga._backoff import backoff
from saga._crashpoints import crash_point
from saga.contracts.envelope import Headers
from saga.contracts.serde import Decoded
from saga.errors import (
    ConfigError,
    ContractError,
    DecodeError,
    RegistryUnavailable,
    TransportError,
)
from saga.outbox.admin import cleanup_inbox
from saga.outbox.consuming import (
    DEAD_LETTER_ERROR,
    DEAD_LETTER_GROUP,
    DEAD_LETTER_SOURCE,
    Where,
    commit_offsets,
    consumer_config,
    dead_letter_headers,
    dead_letter_id,
    dead_letter_row,
    error_text,
    event_id_of,
    headers_of,
    is_outage,
    rewind,
    source,
    where,
)
from saga.outbox.writer import insert_rows
from saga.settings import redact_error
from saga.tables import inbox_table

__all__ = [
    "DEAD_LETTER_ERROR",
    "DEAD_LETTER_GROUP",
    "DEAD_LETTER_SOURCE",
    "EventDecoder",
    "Inbox",
    "InboxConsumer",
    "InboxHandler",
    "consumer_config",
    "dead_letter_headers",
    "dead_letter_id",
]

_log = logging.getLogger("saga.outbox.inbox")

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
# Retention deletes at most _CLEANUP_ROUNDS chunks between two batches.
_CLEANUP_CHUNK = 5_000
_CLEANUP_ROUNDS = 4


class EventDecoder(Protocol):
    """What the inbox needs from a serializer (``saga.contracts.serde.Serializer`` is one)."""

    def decode(self, value: bytes, headers: Headers) -> Decoded: ...


#: A handler applies one event's effects through the session; it must not commit.
InboxHandler = Callable[[Session, Decoded], None]


class Inbox:
    """Tracks which events one consumer group has applied."""

    def __init__(self, group: str) -> None:
        if not group:
            raise ConfigError("Inbox needs the consumer group name it tracks")
        self.group = group

    def claim(self, session: Session, event_ids: Sequence[UUID]) -> set[UUID]:
        """Record ``event_ids`` as applied; returns those not seen before (one statement).

        Call it in the transaction that applies their effects: if that rolls back, so
        does the claim.
        """
        unique = list(dict.fromkeys(event_ids))
        if not unique:
            return set()
        statement = (
            insert(inbox_table)
            .values([{"consumer_group": self.group, "event_id": e} for e in unique])
            .on_conflict_do_nothing(index_elements=["consumer_group", "event_id"])
            .returning(inbox_table.c.event_id)
        )
        return set(session.scalars(statement))

    def seen(self, session: Session, event_id: UUID) -> bool:
        """Whether this group already applied ``event_id``."""
        found = session.scalar(
            select(func.count())
            .select_from(inbox_table)
            .where(inbox_table.c.consumer_group == self.group, inbox_table.c.event_id == event_id)
        )
        return bool(found)


def _database_url(sessions: sessionmaker[Session]) -> str | None:
    url = getattr(sessions.kw.get("bind"), "url", None)
    return url.render_as_string(hide_password=False) if url is not None else None


def _away(error: Exception) -> str:
    return "schema registry" if isinstance(error, RegistryUnavailable) else "database"


class _Failure(NamedTuple):
    error: Exception
    tries: int
    undecodable: bool = False


_NO_FAILURES: Mapping[Where, _Failure] = MappingProxyType({})


class _Item(NamedTuple):
    """A polled message ready to apply: its event, or the failure that dead-letters it."""

    message: Message
    event_id: UUID
    decoded: Decoded | None
    failure: _Failure | None


class InboxConsumer:
    """Polls batches, applies each new event once in one transaction, then commits offsets.

    ``consumer`` must be built with :func:`consumer_config` (or the same options) and
    already subscribed. A handler error rolls the batch back; the batch is then replayed one
    event per transaction so the events before the failing one are kept. Without
    ``dead_letter_topic`` the error is then raised with the offsets of the applied events
    committed; with it, the event is tried up to ``attempts`` times in all and then written
    to the dead-letter topic through the outbox (see the module docstring), and the
    consumer goes on. ``retention=None`` turns the inbox cleanup of :meth:`run` off.
    """

    def __init__(
        self,
        consumer: Consumer,
        sessions: sessionmaker[Session],
        decoder: EventDecoder,
        group: str,
        handler: InboxHandler,
        *,
        batch_size: int = 500,
        poll_timeout: float = 1.0,
        dead_letter_topic: str | None = None,
        attempts: int = 3,
        retention: timedelta | None = timedelta(days=7),
        cleanup_interval: float = 60.0,
    ) -> None:
        _check_options(dead_letter_topic, attempts, retention, cleanup_interval)
        self._consumer = consumer
        self._who = f"inbox {group}"  # how log lines name this consumer
        self._sessions = sessions
        self._decoder = decoder
        self.inbox = Inbox(group)
        self._handler = handler
        self._batch_size = batch_size
        self._poll_timeout = poll_timeout
        self._dead_letter_topic = dead_letter_topic
        self._attempts = attempts
        self._retention = retention
        self._cleanup_interval = cleanup_interval
        self._cleanup_due = 0.0
        self._blamed: Message | None = None  # the message whose handler raised last
        self._database_url = _database_url(sessions)  # masked in the outage warnings

    def run(self, stop: threading.Event) -> None:
        """Poll and apply until ``stop`` is set; waits out database and registry outages.

        A batch that failed because the database was away is read again from Kafka once it
        answers (events it did apply are skipped by the inbox). Handler errors propagate
        unless a dead-letter topic takes them. Old inbox rows are removed when due.
        """
        attempt = 0
        while not stop.is_set():
            try:
                self._cleanup_when_due()
                self.poll_once()
                attempt = 0
            except (OperationalError, InterfaceError, RegistryUnavailable) as exc:
                # Both come back by themselves; the unapplied events were rewound.
                attempt += 1
                _log.warning(
                    "inbox %s: %s away (%s); retrying",
                    self.inbox.group,
                    _away(exc),
                    redact_error(exc, self._database_url),
                )
                stop.wait(backoff(attempt))

    def cleanup(self) -> int:
        """Delete this group's rows older than ``retention``, a chunk per transaction.

        Bounded: stops after a few chunks (the next call goes on); returns how many went.
        """
        if self._retention is None:
            return 0
        deleted = 0
        for _ in range(_CLEANUP_ROUNDS):
            with self._sessions() as session, session.begin():
                count = cleanup_inbox(
                    session.connection(),
                    self._retention,
                    group=self.inbox.group,
                    chunk=_CLEANUP_CHUNK,
                )
            deleted += count
            if count < _CLEANUP_CHUNK:
                break
        return deleted

    def poll_once(self) -> int:
        """One batch; returns how many events were applied (duplicates not counted)."""
        messages = self._consumer.consume(self._batch_size, self._poll_timeout)
        batch: list[Message] = []
        for message in messages:
            error = message.error()
            if error is None:
                batch.append(message)
            elif error.code() != KafkaError._PARTITION_EOF:
                if error.fatal():
                    raise TransportError(f"Kafka consumer failed: {error.str()}")
                _log.warning("inbox %s: %s", self.inbox.group, error.str())
        if not batch:
            return 0
        try:
            applied = self._apply(batch)
        except Exception as exc:
            _log.exception("inbox %s: batch failed; replaying it event by event", self.inbox.group)
            applied = self._replay(batch, exc)
        commit_offsets(self._consumer, batch, _log, self._who)
        return applied

    def _cleanup_when_due(self) -> None:
        now = time.monotonic()
        if self._retention is None or now < self._cleanup_due:
            return
        self._cleanup_due = now + self._cleanup_interval  # also when the database is away
        deleted = self.cleanup()
        if deleted:
            _log.info("inbox %s: removed %d rows past retention", self.inbox.group, deleted)
        if deleted >= _CLEANUP_CHUNK * _CLEANUP_ROUNDS:
            self._cleanup_due = now  # more to go: again after the next batch

    def _replay(self, batch: list[Message], error: Exception) -> int:
        """One event per transaction; a failing one is retried, then dead-lettered or raised."""
        failures: dict[Where, _Failure] = {}
        if self._blamed is not None:  # its handler raised in the batch: that was a try
            failures[where(self._blamed)] = _Failure(error, 1)
        applied = 0
        for index, message in enumerate(batch):
            at = where(message)
            for _ in range(self._attempts + 1):  # the last round writes the dead letter
                try:
                    applied += self._apply([message], failures)
                    break
                except Exception as exc:
                    failed = failures.get(at)
                    if (
                        self._dead_letter_topic is None
                        or is_outage(exc)
                        or (failed is not None and failed.tries >= self._attempts)
                    ):
                        commit_offsets(self._consumer, batch[:index], _log, self._who)
                        rewind(self._consumer, batch[index:], _log, self._who)
                        raise
                    tries = 1 if failed is None else failed.tries + 1
                    failures[at] = _Failure(exc, tries)
                    if tries < self._attempts:
                        _log.warning(
                            "inbox %s: %s failed (try %d of %d): %s",
                            self.inbox.group,
                            source(message),
                            tries,
                            self._attempts,
                            error_text(exc).decode(),
                        )
        return applied

    def _apply(
        self, batch: list[Message], failures: Mapping[Where, _Failure] = _NO_FAILURES
    ) -> int:
        self._blamed = None
        items = [self._prepare(message, failures) for message in batch]
        applied = 0
        dead: list[_Item] = []
        tracing = _telemetry.enabled()  # once per batch: no span at all when off
        with self._sessions() as session, session.begin():
            fresh = self.inbox.claim(session, [item.event_id for item in items])
            for item in items:
                if item.event_id not in fresh:
                    continue  # seen before, or twice in this batch
                fresh.discard(item.event_id)
                if item.decoded is None:
                    assert self._dead_letter_topic is not None
                    assert item.failure is not None
                    row = dead_letter_row(
                        item.message,
                        topic=self._dead_letter_topic,
                        error=item.failure.error,
                        group=self.inbox.group,
                        event_id=item.event_id,
                    )
                    insert_rows(session, [row])
                    dead.append(item)
                    continue
                crash_point("inbox.in_handler")
                self._blamed = item.message
                if tracing:
                    # The events the handler writes to the outbox continue this span.
                    topic, partition, offset = where(item.message)
                    traceparent = item.decoded.envelope.traceparent
                    with _telemetry.consuming(
                        topic, partition, offset, traceparent, self.inbox.group
                    ):
                        self._handler(session, item.decoded)
                else:
                    self._handler(session, item.decoded)
                self._blamed = None
                applied += 1
        for item in dead:
            self._log_dead_letter(item)
        if dead:
            crash_point("inbox.after_dead_letter")
        crash_point("inbox.after_db_commit")
        return applied

    def _prepare(self, message: Message, failures: Mapping[Where, _Failure]) -> _Item:
        failed = failures.get(where(message))
        if failed is not None and failed.tries >= self._attempts:
            return _Item(message, event_id_of(message), None, failed)
        try:
            decoded = self._decode(message)
        except ContractError as exc:
            if self._dead_letter_topic is None or exc.retriable:
                raise
            return _Item(message, event_id_of(message), None, _Failure(exc, 1, True))
        return _Item(message, decoded.envelope.event_id, decoded, None)

    def _decode(self, message: Message) -> Decoded:
        value = message.value()
        if value is None:
            raise DecodeError(
                f"{source(message)} has no value: saga topics carry encoded events only"
            )
        return self._decoder.decode(value, headers_of(message))

    def _log_dead_letter(self, item: _Item) -> None:
        assert item.failure is not None
        error, tries, undecodable = item.failure
        why = "cannot be decoded" if undecodable else f"failed {tries} times"
        _log.error(
            "inbox %s: dead-lettered %s (event %s) to %s: it %s: %s",
            self.inbox.group,
            source(item.message),
            item.event_id,
            self._dead_letter_topic,
            why,
            error_text(error).decode(),
        )


def _check_options(
    dead_letter_topic: str | None,
    attempts: int,
    retention: timedelta | None,
    cleanup_interval: float,
) -> None:
    if dead_letter_topic is not None and (
        not _TOPIC_NAME.fullmatch(dead_letter_topic) or dead_letter_topic in {".", ".."}
    ):
        raise ConfigError(
            f"dead_letter_topic {dead_letter_topic!r} is not a Kafka topic name: use 1-249 "
            "characters from a-z, A-Z, 0-9, '.', '_' and '-'"
        )
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigError(
            f"attempts={attempts!r}: give a whole number of tries, 1 or more "
            "(1 dead-letters an event at its first handler error)"
        )
    if retention is not None and (
        not isinstance(retention, timedelta) or retention <= timedelta(0)
    ):
        raise ConfigError(
            f"retention={retention!r}: give a positive timedelta longer than any consumer "
            "stays down, or None to keep inbox rows forever"
        )
    if isinstance(cleanup_interval, bool) or not (
        isinstance(cleanup_interval, int | float)
        and math.isfinite(cleanup_interval)
        and cleanup_interval > 0
    ):
        raise ConfigError(
            f"cleanup_interval={cleanup_interval!r}: give the seconds between inbox cleanups, "
            "a positive number"
        )
