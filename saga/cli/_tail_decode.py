"""A Kafka record to what ``saga tail`` shows: envelope, writer version, redacted payload.

Nothing a record holds stops the tail: a payload or envelope that cannot be read makes the
record :class:`Undecodable` (reason, size, a hex preview), and the rest is shown as far as
it can be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from saga.cli._tail_records import TailRecord, Undecodable
from saga.contracts.envelope import Envelope
from saga.contracts.redaction import redact
from saga.contracts.schemas import SchemaVersion
from saga.contracts.serde import Serializer
from saga.errors import SagaError

PREVIEW_BYTES = 16
_ENVELOPE = {
    "event-id": "event_id",
    "event-type": "event_type",
    "correlation-id": "correlation_id",
    "causation-id": "causation_id",
    "occurred-at": "occurred_at",
    "producer": "producer",
    "traceparent": "traceparent",
    "schema": "",
}


class RecordDecoder:
    """Decodes records with one serializer and masks sensitive fields and ``redact``."""

    def __init__(self, serializer: Serializer, redact_fields: Sequence[str] = ()) -> None:
        self.serializer = serializer
        self.redact_fields = tuple(redact_fields)
        self._schemas: dict[tuple[str, str], list[SchemaVersion]] = {}

    def record(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        timestamp_ms: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | str | None]],
    ) -> TailRecord:
        raw = tuple((name, _bytes(v)) for name, v in headers)
        problems: list[str] = []
        shown = self._envelope(raw, problems)
        payload: Any = None
        if value is None:
            problems.append("the record has no value (a tombstone)")
        else:
            try:
                writer, datum = self.serializer.decode_raw(value)
            except SagaError as exc:
                problems.append(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # the tail never stops on a record, whatever it holds
                problems.append(f"{type(exc).__name__}: cannot decode the payload")
            else:
                payload = plain(redact(datum, self._schemas_of(writer), self.redact_fields))
                named = shown.get("event_type")
                if named is not None and named != writer.name:
                    problems.append(
                        f"header event-type says {named!r} but the payload is {writer.name!r}"
                    )
                shown["event_type"] = writer.name
                shown["version"] = self._version(writer) or shown.get("version")
        undecodable = None
        if problems:
            data = value or b""
            undecodable = Undecodable(
                reason="; ".join(problems),
                size=len(data),
                preview=data[:PREVIEW_BYTES].hex(" "),
            )
        return TailRecord(
            topic=topic,
            partition=partition,
            offset=offset,
            time=None if timestamp_ms is None else datetime.fromtimestamp(timestamp_ms / 1000, UTC),
            key=None if key is None else key.decode(errors="backslashreplace"),
            headers=raw,
            extra_headers=_extra_headers(raw),
            payload=payload,
            undecodable=undecodable,
            **shown,
        )

    def _envelope(
        self, headers: tuple[tuple[str, bytes | None], ...], problems: list[str]
    ) -> dict[str, Any]:
        try:
            envelope = Envelope.from_headers(headers)
        except SagaError as exc:
            problems.append(f"envelope: {exc}")
            # Show what the headers say anyway: an auditor still wants the ids.
            shown: dict[str, Any] = {
                _ENVELOPE[name]: value.decode(errors="backslashreplace")
                for name, value in headers
                if _ENVELOPE.get(name) and value is not None
            }
            ref = next((v for n, v in headers if n == "schema" and v), None)
            if ref is not None:
                shown["version"] = _version_of_ref(ref.decode(errors="replace"))
            return shown
        return {
            "event_type": envelope.event_type,
            "version": _version_of_ref(envelope.schema),
            "event_id": str(envelope.event_id),
            "correlation_id": envelope.correlation_id,
            "causation_id": None if envelope.causation_id is None else str(envelope.causation_id),
            "occurred_at": envelope.occurred_at.isoformat(),
            "producer": envelope.producer,
            "traceparent": envelope.traceparent,
        }

    def _schemas_of(self, writer: SchemaVersion) -> list[SchemaVersion]:
        # A field marked in any local version is masked, even when the writer's schema (from
        # a registry, say) was registered before the mark.
        # Not by fingerprint: a registry may hold texts that differ in their marks only.
        at = (writer.name, str(writer.path))
        known = self._schemas.get(at)
        if known is None:
            contracts = self.serializer.contracts
            local = contracts.versions(writer.name) if writer.name in contracts.names() else ()
            known = self._schemas[at] = [writer, *local]
        return known

    def _version(self, writer: SchemaVersion) -> int | None:
        if writer.version:
            return writer.version
        for local in self._schemas_of(writer)[1:]:  # a registry's schema: which one is it?
            if local.fingerprint == writer.fingerprint:
                return local.version
        return None


def _version_of_ref(ref: str) -> int | None:
    _, sep, number = ref.rpartition("/v")
    return int(number) if sep and number.isdigit() else None


def _bytes(value: bytes | str | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _extra_headers(headers: tuple[tuple[str, bytes | None], ...]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for name, value in headers:
        if name in _ENVELOPE:
            continue
        text = None if value is None else value.decode(errors="backslashreplace")
        if name in extra:  # a repeated header keeps every value
            previous = extra[name]
            extra[name] = [*previous, text] if isinstance(previous, list) else [previous, text]
        else:
            extra[name] = text
    return extra


def plain(value: Any) -> Any:
    """``value`` as JSON can hold it: uuid, times and decimals as text, bytes as hex."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return repr(value)
