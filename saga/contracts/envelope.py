"""The envelope: what every event carries next to its payload, in Kafka headers.

=================  =====================================================  ========
header             value (UTF-8)                                          required
=================  =====================================================  ========
``event-id``       UUID of this event (the inbox deduplicates on it)      yes
``event-type``     Avro full name, e.g. ``shop.orders.OrderPlaced``       yes
``correlation-id`` the saga this event belongs to; also the message key   yes
``causation-id``   UUID of the event that caused this one                 no
``occurred-at``    ISO 8601 timestamp with offset, microseconds           yes
``schema``         contract version written, ``shop.orders.OrderPlaced/v2``  yes
``producer``       name of the service that emitted the event             yes
``traceparent``    W3C trace context of the producing span                no
=================  =====================================================  ========

The Kafka message key is the correlation id, so one saga's events stay in order on one
partition. A ``traceparent`` that cannot be read (malformed, not UTF-8, or repeated) is dropped
on read, as W3C Trace Context asks (the consumer starts a new trace); any other missing or
malformed header is a :class:`DecodeError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID, uuid4

from saga.errors import DecodeError, EncodeError

if TYPE_CHECKING:
    from saga.contracts.events import Event

__all__ = ["Decoded", "Envelope", "Headers"]

#: Kafka headers as confluent-kafka hands them over (it gives ``None`` for no headers).
Headers = Iterable[tuple[str, bytes | str | None]] | None

# Used with fullmatch: "$" alone would let a trailing line break through.
_TRACEPARENT = re.compile(
    r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
)
_MAX_TEXT = 255
_REQUIRED = ("event-id", "event-type", "correlation-id", "occurred-at", "schema", "producer")
_NAMES = frozenset((*_REQUIRED, "causation-id", "traceparent"))
_LABELS = ("event-type", "correlation-id", "producer", "schema")
_FIELDS = (
    "event_id",
    "event_type",
    "correlation_id",
    "occurred_at",
    "producer",
    "causation_id",
    "schema",
    "traceparent",
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Identity, causality and tracing of one event; travels as Kafka headers."""

    event_id: UUID
    event_type: str
    correlation_id: str
    occurred_at: datetime
    producer: str
    causation_id: UUID | None = None
    schema: str = ""
    """Contract version of the payload (``name/vN``); the serializer fills it in."""
    traceparent: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.event_id, UUID):
            raise EncodeError(f"envelope event_id must be a UUID, not {self.event_id!r}")
        if self.causation_id is not None and not isinstance(self.causation_id, UUID):
            raise EncodeError(f"envelope causation_id must be a UUID, not {self.causation_id!r}")
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.tzinfo is None:
            raise EncodeError(
                f"envelope occurred_at must be a timezone-aware datetime, not "
                f"{self.occurred_at!r}: use datetime.now(UTC)"
            )
        for label, text in (
            ("event_type", self.event_type),
            ("correlation_id", self.correlation_id),
            ("producer", self.producer),
        ):
            _check_text(label, text)
        if self.schema:
            _check_text("schema", self.schema)
        if self.traceparent is not None and not _TRACEPARENT.fullmatch(self.traceparent):
            raise EncodeError(
                f"envelope traceparent {self.traceparent!r} is not W3C trace context "
                "(00-<32 hex trace id>-<16 hex span id>-<2 hex flags>)"
            )

    @classmethod
    def new(
        cls,
        event: type[Event] | Event | str,
        *,
        correlation_id: str | UUID,
        producer: str,
        causation_id: UUID | None = None,
        traceparent: str | None = None,
        occurred_at: datetime | None = None,
        event_id: UUID | None = None,
    ) -> Envelope:
        """An envelope for a new event (a fresh event id, occurred now unless given)."""
        return cls(
            event_id=uuid4() if event_id is None else event_id,
            event_type=event if isinstance(event, str) else event.__event_name__,
            correlation_id=str(correlation_id),
            occurred_at=datetime.now(UTC) if occurred_at is None else occurred_at,
            producer=producer,
            causation_id=causation_id,
            traceparent=traceparent,
        )

    def follow_up(
        self,
        event: type[Event] | Event | str,
        *,
        producer: str,
        traceparent: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        """An envelope for an event caused by this one: same saga, causation = this event."""
        return Envelope.new(
            event,
            correlation_id=self.correlation_id,
            producer=producer,
            causation_id=self.event_id,
            traceparent=self.traceparent if traceparent is None else traceparent,
            occurred_at=occurred_at,
        )

    def with_schema(self, schema: str) -> Envelope:
        """The same envelope naming the contract version of its payload."""
        if schema == self.schema:
            return self
        _check_text("schema", schema)
        copy = object.__new__(Envelope)  # the other fields were checked when self was built
        for name in _FIELDS:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "schema", schema)
        return copy

    @property
    def key(self) -> bytes:
        """The Kafka message key: the correlation id."""
        return self.correlation_id.encode()

    def to_headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers, lowercase names, UTF-8 values; optional ones only when set."""
        if not self.schema:
            raise EncodeError(
                "envelope has no schema reference: encode the event with a Serializer, "
                "which fills it in"
            )
        headers = [
            ("event-id", str(self.event_id).encode()),
            ("event-type", self.event_type.encode()),
            ("correlation-id", self.correlation_id.encode()),
            ("occurred-at", self.occurred_at.isoformat().encode()),
            ("schema", self.schema.encode()),
            ("producer", self.producer.encode()),
        ]
        if self.causation_id is not None:
            headers.append(("causation-id", str(self.causation_id).encode()))
        if self.traceparent is not None:
            headers.append(("traceparent", self.traceparent.encode()))
        return headers

    @classmethod
    def from_headers(cls, headers: Headers) -> Envelope:
        """The envelope carried by Kafka headers; other headers are ignored.

        Names are matched as sent, lowercase (Kafka header names are case-sensitive).
        """
        texts: dict[str, str] = {}
        traceparents: list[bytes | str | None] = []
        for name, value in headers or ():
            if name == "traceparent":  # read apart: tracing never costs the event
                traceparents.append(value)
            elif name in _NAMES:
                if name in texts:
                    raise DecodeError(f"header {name!r} appears twice: refusing to guess")
                texts[name] = _header_text(name, value)
        missing = [name for name in _REQUIRED if not texts.get(name)]
        if missing:
            raise DecodeError(
                f"event headers lack {', '.join(missing)}: the producer must send the "
                "saga envelope (encode with saga.contracts.serde.Serializer)"
            )
        for name in _LABELS:
            _check_label(name, texts[name])
        causation = texts.get("causation-id")
        values = (
            _header_uuid("event-id", texts["event-id"]),
            texts["event-type"],
            texts["correlation-id"],
            _header_time(texts["occurred-at"]),
            texts["producer"],
            _header_uuid("causation-id", causation) if causation else None,
            texts["schema"],
            _header_traceparent(traceparents),
        )
        envelope = object.__new__(cls)  # every field was checked above, as __post_init__ does
        for name, field_value in zip(_FIELDS, values, strict=True):
            object.__setattr__(envelope, name, field_value)
        return envelope


def _check_label(name: str, text: str) -> None:
    if not text or len(text) > _MAX_TEXT or not text.isprintable():
        raise DecodeError(
            f"header {name!r} must be non-empty printable text of at most {_MAX_TEXT} "
            f"characters, not {text[:80]!r}"
        )


def _check_text(label: str, text: object) -> None:
    if not isinstance(text, str) or not text or len(text) > _MAX_TEXT or not text.isprintable():
        raise EncodeError(
            f"envelope {label} must be non-empty printable text of at most {_MAX_TEXT} "
            f"characters, not {text!r}"
        )


def _header_text(name: str, raw: bytes | str | None) -> str:
    try:
        return raw.decode() if isinstance(raw, bytes) else (raw or "")
    except UnicodeDecodeError:
        raise DecodeError(f"header {name!r} is not UTF-8 text: {raw!r:.80}") from None


def _header_traceparent(values: list[bytes | str | None]) -> str | None:
    """W3C: a traceparent that cannot be read (not UTF-8, malformed, repeated) is ignored and
    the consumer starts a new trace."""
    if len(values) != 1:
        return None
    raw = values[0]
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return None
    return text if text and _TRACEPARENT.fullmatch(text) else None


def _header_uuid(name: str, text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise DecodeError(f"header {name!r} is not a UUID: {text[:80]!r}") from None


def _header_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DecodeError(f"header 'occurred-at' is not an ISO 8601 time: {text[:80]!r}") from None
    if moment.tzinfo is None:
        raise DecodeError(f"header 'occurred-at' has no UTC offset: {text[:80]!r}")
    return moment


class Decoded(NamedTuple):
    """An event with the envelope it travels in (what the serializer reads off a message)."""

    event: Event
    envelope: Envelope
