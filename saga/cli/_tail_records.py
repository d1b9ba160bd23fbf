"""What ``saga tail`` shows of a Kafka record (:class:`TailRecord`), which records it keeps
(:class:`TailFilter`), and its time syntax.

Pure: no Kafka here, so the filters and the parsing are tested on their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from saga.cli._time import SHOWN_INPUT, duration_of
from saga.errors import ConfigError


def parse_moment(text: str, *, now: datetime, option: str) -> datetime:
    """``10m``, ``2h``, ``1d``, ``1h30m`` (that long before ``now``) or an ISO 8601 time
    (``2024-05-01T12:00:00Z``; without an offset it is UTC, as the tail prints)."""
    text = text.strip()
    ago = duration_of(text)
    if ago is not None:
        try:
            return now - ago
        except OverflowError:
            raise ConfigError(f"{option} {text!r} reaches before year 1: give less") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} {text[:SHOWN_INPUT]!r} is neither a duration (30s, 10m, 2h, 1d, 1w, "
            "1h30m) nor an ISO 8601 time (2024-05-01T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_header(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of a ``--header`` filter (the value may be empty or hold ``=``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(
            f"--header {text[:SHOWN_INPUT]!r} is not NAME=VALUE: write e.g. "
            "--header producer=orders"
        )
    return name, value


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Why a record could not be shown in full, and what its value looks like."""

    reason: str
    size: int
    preview: str
    """Hex of the value's first bytes (its wire-format prefix, mostly)."""


@dataclass(frozen=True, slots=True)
class TailRecord:
    """One Kafka record as the tail shows it; the payload is already redacted."""

    topic: str
    partition: int
    offset: int
    time: datetime | None
    key: str | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    event_type: str | None = None
    version: int | None = None
    event_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    occurred_at: str | None = None
    producer: str | None = None
    traceparent: str | None = None
    extra_headers: dict[str, Any] = field(default_factory=dict)
    """Headers outside the envelope (e.g. ``dead-letter-*``), as text."""
    payload: Any = None
    undecodable: Undecodable | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object (one line of ``--format json``)."""
        return {
            "time": iso_time(self.time),
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "event_type": self.event_type,
            "version": self.version,
            "event_id": self.event_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "occurred_at": self.occurred_at,
            "producer": self.producer,
            "traceparent": self.traceparent,
            "headers": self.extra_headers,
            "payload": self.payload,
            "undecodable": None
            if self.undecodable is None
            else {
                "reason": self.undecodable.reason,
                "size": self.undecodable.size,
                "preview": self.undecodable.preview,
            },
        }


def iso_time(moment: datetime | None) -> str | None:
    """UTC, milliseconds (Kafka's precision), ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class TailFilter:
    """Which records the tail shows: all given criteria hold; a repeated one is any-of."""

    types: frozenset[str] = frozenset()
    """Full names (``shop.orders.OrderPlaced``) or short ones (``OrderPlaced``)."""
    keys: frozenset[str] = frozenset()
    correlation_ids: frozenset[str] = frozenset()
    headers: tuple[tuple[str, str], ...] = ()
    """Every one must be present with that value."""
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(
        cls,
        *,
        types: Iterable[str] = (),
        keys: Iterable[str] = (),
        correlation_ids: Iterable[str] = (),
        headers: Iterable[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> TailFilter:
        """A filter from the command's options; a malformed ``--header`` raises."""
        if since is not None and until is not None and until < since:
            raise ConfigError(
                f"--until {iso_time(until)} is before --since {iso_time(since)}: swap them"
            )
        return cls(
            types=frozenset(types),
            keys=frozenset(keys),
            correlation_ids=frozenset(correlation_ids),
            headers=tuple(parse_header(h) for h in headers),
            since=since,
            until=until,
        )

    def matches(self, record: TailRecord) -> bool:
        if self.types and not _type_matches(record.event_type, self.types):
            return False
        if self.keys and record.key not in self.keys:
            return False
        if self.correlation_ids and record.correlation_id not in self.correlation_ids:
            return False
        for name, value in self.headers:
            wanted = value.encode()
            if not any(n == name and v == wanted for n, v in record.headers):
                return False
        if self.since is not None or self.until is not None:
            if record.time is None:
                return False  # a record without a time cannot be shown to be in the range
            if self.since is not None and record.time < self.since:
                return False
            if self.until is not None and record.time > self.until:
                return False
        return True


def _type_matches(event_type: str | None, wanted: frozenset[str]) -> bool:
    if event_type is None:
        return False
    return event_type in wanted or event_type.rsplit(".", 1)[-1] in wanted
