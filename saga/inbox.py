"""The inbox: each event's effect applied exactly once, however often Kafka delivers it.

A consumer records ``(consumer group, event id)`` in ``saga_inbox`` in the same database
transaction as the handler's effects. A duplicate delivery finds the row and is skipped
(``INSERT ... ON CONFLICT DO NOTHING RETURNING`` tells new from seen without an error).
Kafka offsets are committed only after the database commit: a crash before it means the
batch is delivered again and skipped; a crash after it loses nothing.

:class:`InboxConsumer` runs that loop for a confluent-kafka ``Consumer``: one database
transaction per polled batch, handlers called in partition order with the caller's
``Session``. Rows older than the longest possible redelivery delay can go
(:func:`cleanup_inbox`); keep them longer than any consumer can stay down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from saga._crashpoints import crash_point
from saga.envelope import Headers
from saga.errors import ConfigError, DecodeError, TransportError
from saga.serde import Decoded
from saga.tables import inbox_table

__all__ = ["EventDecoder", "Handler", "Inbox", "InboxConsumer", "cleanup_inbox", "consumer_config"]

_log = logging.getLogger("saga.inbox")


class EventDecoder(Protocol):
    """What the inbox needs from a serializer (``saga.serde.Serializer`` is one)."""

    def decode(self, value: bytes, headers: Headers) -> Decoded: ...


#: A handler applies one event's effects through the session; it must not commit.
Handler = Callable[[Session, Decoded], None]


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


def cleanup_inbox(
    session: Session, older_than: timedelta, *, group: str | None = None, chunk: int = 10_000
) -> int:
    """Delete up to ``chunk`` inbox rows older than ``older_than``; the caller commits."""
    old = select(inbox_table.c.consumer_group, inbox_table.c.event_id).where(
        inbox_table.c.processed_at < func.now() - older_than
    )
    if group is not None:
        old = old.where(inbox_table.c.consumer_group == group)
    statement = delete(inbox_table).where(
        tuple_(inbox_table.c.consumer_group, inbox_table.c.event_id).in_(old.limit(chunk))
    )
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0))


def consumer_config(base: dict[str, Any], group: str) -> dict[str, Any]:
    """A librdkafka consumer config for the inbox loop: manual commits, committed reads."""
    return {
        **base,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    }


class InboxConsumer:
    """Polls batches, applies each new event once in one transaction, then commits offsets.

    ``consumer`` must be built with :func:`consumer_config` (or the same options) and
    already subscribed. A handler error rolls the batch back; the batch is then replayed one
    event per transaction so the events before the failing one are kept, and the error is
    raised with the offsets of the applied events committed.
    """

    def __init__(
        self,
        consumer: Consumer,
        sessions: sessionmaker[Session],
        decoder: EventDecoder,
        group: str,
        handler: Handler,
        *,
        batch_size: int = 500,
        poll_timeout: float = 1.0,
    ) -> None:
        self._consumer = consumer
        self._sessions = sessions
        self._decoder = decoder
        self.inbox = Inbox(group)
        self._handler = handler
        self._batch_size = batch_size
        self._poll_timeout = poll_timeout

    def run(self, stop: threading.Event) -> None:
        """Poll and apply until ``stop`` is set; waits out PostgreSQL outages.

        A batch that failed because the database was away is read again from Kafka once it
        answers (events it did apply are skipped by the inbox). Handler errors propagate.
        """
        attempt = 0
        while not stop.is_set():
            try:
                self.poll_once()
                attempt = 0
            except (OperationalError, InterfaceError) as exc:
                attempt += 1
                _log.warning("inbox %s: database away (%s); retrying", self.inbox.group, exc)
                stop.wait(min(2.0, 0.05 * 2 ** min(attempt, 10)))

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
        except Exception:
            _log.exception("inbox %s: batch failed; replaying it event by event", self.inbox.group)
            applied = 0
            for index, message in enumerate(batch):
                try:
                    applied += self._apply([message])
                except Exception:
                    self._commit_offsets(batch[:index])
                    self._rewind(batch[index:])
                    raise
        self._commit_offsets(batch)
        return applied

    def _apply(self, batch: list[Message]) -> int:
        decoded = [self._decode(m) for m in batch]
        applied = 0
        with self._sessions() as session, session.begin():
            fresh = self.inbox.claim(session, [d.envelope.event_id for d in decoded])
            for item in decoded:
                if item.envelope.event_id not in fresh:
                    continue  # seen before, or twice in this batch
                fresh.discard(item.envelope.event_id)
                crash_point("inbox.in_handler")
                self._handler(session, item)
                applied += 1
        crash_point("inbox.after_db_commit")
        return applied

    def _decode(self, message: Message) -> Decoded:
        value = message.value()
        if value is None:
            raise DecodeError(
                f"{message.topic()}[{message.partition()}]@{message.offset()} has no value: "
                "saga topics carry encoded events only"
            )
        headers = message.headers()
        if isinstance(headers, dict):
            headers = list(headers.items())
        return self._decoder.decode(value, headers)

    def _rewind(self, unapplied: list[Message]) -> None:
        """Fetch ``unapplied`` again on the next poll: the consumer has moved past them."""
        first: dict[tuple[str, int], int] = {}
        for message in unapplied:
            where = (str(message.topic()), message.partition() or 0)
            first[where] = min(first.get(where, message.offset() or 0), message.offset() or 0)
        for (topic, partition), offset in first.items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                # Not ours any more: the next owner starts from the committed offset.
                _log.warning(
                    "inbox %s: cannot rewind %s[%d]: %s", self.inbox.group, topic, partition, exc
                )

    def _commit_offsets(self, batch: list[Message]) -> None:
        if not batch:
            return
        nxt: dict[tuple[str, int], int] = {}
        for message in batch:
            where = (str(message.topic()), message.partition() or 0)
            nxt[where] = max(nxt.get(where, 0), (message.offset() or 0) + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in nxt.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Lost the partitions in a rebalance: the next owner redelivers, the inbox skips.
            _log.warning("inbox %s: offsets not committed: %s", self.inbox.group, exc)
