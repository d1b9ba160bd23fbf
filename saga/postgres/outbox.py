"""The transactional outbox: events written in the caller's business transaction.

::

    outbox = Outbox(Serializer(), producer="orders", topic="shop.orders")
    with Session(engine) as session, session.begin():
        session.add(order)
        outbox.add(session, OrderPlaced(...), correlation_id=order.id)
    # committed: the relay publishes the event; rolled back: it never existed

:meth:`Outbox.add` encodes the event at once (a bad event raises
:class:`~saga.errors.EncodeError` in the business transaction, never in the relay later),
stores key, value and the envelope headers with the row, and never commits or flushes
the session's own objects: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol
from uuid import UUID

import psycopg
from sqlalchemy.orm import Session

from saga.contracts.envelope import Envelope
from saga.contracts.events import Event, event_name
from saga.contracts.serde import Encoded
from saga.errors import ConfigError, EncodeError, PayloadTooLarge
from saga.observability.tracing import current_traceparent
from saga.postgres.tables import lane_of, outbox_table
from saga.settings import Settings

__all__ = [
    "EventEncoder",
    "Outbox",
    "OutboxEntry",
    "current_traceparent",
    "insert_rows",
    "outbox_row",
]

_MAX_TOPIC = 249  # Kafka's limit on topic names


class EventEncoder(Protocol):
    """What the outbox needs from a serializer (``saga.contracts.serde.Serializer`` is one)."""

    def encode(self, event: Event, envelope: Envelope) -> Encoded: ...


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One event to write, with the envelope it travels in and, optionally, its topic."""

    event: Event
    envelope: Envelope
    topic: str | None = None


TopicChoice = str | Mapping[str, str] | Callable[[Event], str]


# Upper bounds of what Kafka adds around a record's key, value and headers (record format
# v2: varint lengths, attributes, deltas; the batch header the broker counts as well).
_RECORD_OVERHEAD = 5 + 1 + 10 + 5 + 5 + 5 + 5
_HEADER_OVERHEAD = 5 + 5
_BATCH_OVERHEAD = 61


def record_size(key: bytes, value: bytes, headers: Sequence[tuple[str, bytes | None]]) -> int:
    """How many bytes the record counts for against ``message.max.bytes`` (the producer's)
    and ``max.message.bytes`` (the topic's), at most: a record alone in its batch."""
    size = _BATCH_OVERHEAD + _RECORD_OVERHEAD + len(key) + len(value)
    for name, data in headers:
        size += _HEADER_OVERHEAD + len(name.encode()) + (len(data) if data else 0)
    return size


def outbox_row(
    *,
    topic: str,
    key: bytes,
    value: bytes,
    headers: Sequence[tuple[str, bytes | None]],
    event_id: UUID,
    event_type: str,
) -> dict[str, Any]:
    """The parameters of one ``insert(outbox_table)`` row: the one place that knows its layout.

    For already encoded records (e.g. dead letters); :class:`Outbox` builds its rows here too.
    A topic name Kafka would refuse raises :class:`~saga.errors.EncodeError`.
    """
    if not topic or len(topic) > _MAX_TOPIC:
        raise EncodeError(f"topic {topic!r} is not a Kafka topic name (1-249 characters)")
    return {
        "lane": lane_of(key),
        "topic": topic,
        "key": key,
        "value": value,
        "header_names": [name for name, _ in headers],
        "header_values": [data for _, data in headers],
        "event_id": event_id,
        "event_type": event_type,
    }


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows built by :func:`outbox_row` in the caller's transaction (one statement).

    The one place that inserts into the outbox: events, dead letters and replays all go
    through it. It writes on the session's connection: it flushes nothing of the caller's
    ORM objects beyond what autoflush would, and never commits.
    """
    if not rows:
        return
    # Binary COPY on the session's own connection (its transaction): measured 5x faster
    # than a multi-row INSERT for a batch of 500 rows, which matters on the worker's path.
    connection: psycopg.Connection[Any] = session.connection().connection.driver_connection  # type: ignore[assignment]
    with connection.cursor() as cursor, cursor.copy(_COPY) as copy:
        copy.set_types(_COPY_TYPES)
        for row in rows:
            copy.write_row([row[column] for column in _COPY_COLUMNS])


_COPY_COLUMNS = (
    "lane",
    "topic",
    "key",
    "value",
    "header_names",
    "header_values",
    "event_id",
    "event_type",
)
_COPY_TYPES = ["int2", "text", "bytea", "bytea", "text[]", "bytea[]", "uuid", "text"]
_COPY = f"COPY {outbox_table.name} ({', '.join(_COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"


class Outbox:
    """Writes events to ``saga_outbox`` inside the caller's SQLAlchemy session.

    ``topic`` is one topic for every event, a mapping from event name to topic, or a
    function of the event. ``producer`` names this service in the envelope. An event whose
    Kafka record would be over ``record_limit`` (the producer's ``message.max.bytes``, from
    ``SAGA_KAFKA_OPTIONS`` by default) or its topic's entry in ``topic_limits`` raises
    :class:`~saga.errors.PayloadTooLarge` there, before anything is written.
    """

    def __init__(
        self,
        encoder: EventEncoder,
        *,
        producer: str,
        topic: TopicChoice,
        record_limit: int | None = None,
        topic_limits: Mapping[str, int] | None = None,
    ) -> None:
        if not producer:
            raise ConfigError("Outbox needs producer=<name of this service> for the envelope")
        self._encoder = encoder
        self._producer = producer
        self._topic = topic
        # An event Kafka would refuse is refused here, in the business transaction: written,
        # it would be refused by the relay and hold back every later event of its key.
        self._record_limit = (
            Settings().producer_record_limit() if record_limit is None else record_limit
        )
        self._topic_limits = dict(topic_limits or {})

    def set_topic_limits(self, limits: Mapping[str, int]) -> None:
        """Each topic's ``max.message.bytes`` (see :func:`saga.kafka.admin.record_limits`):
        an event over its topic's limit is refused as it is written."""
        self._topic_limits = dict(limits)

    def add(
        self,
        session: Session,
        event: Event,
        *,
        correlation_id: str | UUID | None = None,
        causation: Envelope | None = None,
        envelope: Envelope | None = None,
        topic: str | None = None,
    ) -> Envelope:
        """Write one event; returns the envelope it was stored with.

        Give either ``envelope`` (built with :meth:`Envelope.new`), or ``causation`` (the
        envelope of the event being handled: same saga, causation id set), or
        ``correlation_id`` for the first event of a saga.
        """
        if envelope is None:
            envelope = self.envelope_for(event, correlation_id=correlation_id, causation=causation)
        elif correlation_id is not None or causation is not None:
            raise EncodeError(
                "pass either envelope= or correlation_id=/causation=, not both: the envelope "
                "already names the saga"
            )
        return self.add_all(session, [OutboxEntry(event, envelope, topic)])[0]

    def add_all(self, session: Session, entries: Iterable[OutboxEntry]) -> list[Envelope]:
        """Write several events in one statement; all are encoded before anything is written."""
        rows, stored = self.rows(entries)
        insert_rows(session, rows)
        return stored

    def rows(self, entries: Iterable[OutboxEntry]) -> tuple[list[dict[str, Any]], list[Envelope]]:
        """The outbox rows for ``entries`` and the envelopes they carry, written nowhere yet:
        a bad event raises here, before anything is written."""
        rows: list[dict[str, Any]] = []
        stored: list[Envelope] = []
        for entry in entries:
            envelope = entry.envelope
            if envelope.traceparent is None and (traceparent := current_traceparent()):
                envelope = replace(envelope, traceparent=traceparent)
            encoded = self._encoder.encode(entry.event, envelope)
            rows.append(self._row(entry, encoded))
            stored.append(encoded.envelope)
        return rows, stored

    def envelope_for(
        self,
        event: Event,
        *,
        correlation_id: str | UUID | None = None,
        causation: Envelope | None = None,
    ) -> Envelope:
        """A new envelope for ``event`` from this service."""
        if causation is not None:
            if correlation_id is not None and str(correlation_id) != causation.correlation_id:
                raise EncodeError(
                    f"correlation_id {correlation_id!s} differs from the causing event's "
                    f"{causation.correlation_id}: a follow-up event stays in its saga"
                )
            return causation.follow_up(event, producer=self._producer)
        if correlation_id is None:
            raise EncodeError(
                f"{event_name(event)} needs a saga: pass correlation_id= (a new saga) or "
                "causation=<envelope of the event being handled>"
            )
        return Envelope.new(event, correlation_id=correlation_id, producer=self._producer)

    def _row(self, entry: OutboxEntry, encoded: Encoded) -> dict[str, Any]:
        topic = entry.topic or self._topic_for(entry.event)
        size = record_size(encoded.key, encoded.value, encoded.headers)
        limit = self._record_limit
        if size > limit:
            raise PayloadTooLarge(
                f"{encoded.envelope.event_type} for {topic} is a {size}-byte Kafka record (key "
                f"and headers included), over the producer's message.max.bytes of {limit}: "
                "keep large data out of events, or raise message.max.bytes in "
                "SAGA_KAFKA_OPTIONS (and the topic's max.message.bytes)"
            )
        limit = self._topic_limits.get(topic, size)
        if size > limit:
            raise PayloadTooLarge(
                f"{encoded.envelope.event_type} for {topic} is a {size}-byte Kafka record (key "
                f"and headers included), over the topic's max.message.bytes of {limit}: keep "
                "large data out of events, or raise the topic's max.message.bytes"
            )
        return outbox_row(
            topic=topic,
            key=encoded.key,
            value=encoded.value,
            headers=encoded.headers,
            event_id=encoded.envelope.event_id,
            event_type=encoded.envelope.event_type,
        )

    def _topic_for(self, event: Event) -> str:
        choice = self._topic
        if isinstance(choice, str):
            return choice
        if callable(choice):
            return choice(event)
        name = event_name(event)
        try:
            return choice[name]
        except KeyError:
            raise ConfigError(
                f"no topic is configured for {name}: add it to the Outbox topic mapping"
            ) from None
