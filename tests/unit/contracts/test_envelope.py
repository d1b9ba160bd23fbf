"""The envelope in Kafka headers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from saga.contracts.envelope import _FIELDS, Envelope
from saga.errors import DecodeError, EncodeError
from services.contracts import OrderPlaced, StockReserved
from tests._samples import AT, ORDER, TRACEPARENT


def _envelope() -> Envelope:
    return Envelope.new(
        OrderPlaced,
        correlation_id=ORDER,
        producer="orders",
        causation_id=UUID(int=7),
        traceparent=TRACEPARENT,
        occurred_at=AT,
    ).with_schema("shop.orders.OrderPlaced/v2")


def test_headers_round_trip_with_lowercase_names() -> None:
    envelope = _envelope()
    headers = envelope.to_headers()
    assert [name for name, _ in headers] == [
        "event-id",
        "event-type",
        "correlation-id",
        "occurred-at",
        "schema",
        "producer",
        "causation-id",
        "traceparent",
    ]
    assert all(isinstance(value, bytes) for _, value in headers)
    assert Envelope.from_headers(headers) == envelope
    assert dict(headers)["event-type"] == b"shop.orders.OrderPlaced"


def test_the_key_is_the_correlation_id() -> None:
    assert _envelope().key == str(ORDER).encode()


def test_optional_headers_are_left_out_and_other_headers_ignored() -> None:
    envelope = Envelope.new("shop.orders.OrderPlaced", correlation_id="saga-1", producer="orders")
    headers = envelope.with_schema("x/v1").to_headers()
    assert {name for name, _ in headers}.isdisjoint({"causation-id", "traceparent"})
    decoded = Envelope.from_headers([*headers, ("x-other", b"\xff"), ("Event-Id", b"junk")])
    assert decoded.causation_id is None
    assert decoded.traceparent is None
    assert decoded.correlation_id == "saga-1"


def test_a_follow_up_stays_in_the_saga_and_names_its_cause() -> None:
    first = _envelope()
    later = datetime(2024, 5, 2, tzinfo=UTC)
    second = first.follow_up(StockReserved, producer="inventory", occurred_at=later)
    assert second.correlation_id == first.correlation_id
    assert second.causation_id == first.event_id
    assert second.traceparent == first.traceparent
    assert second.event_id != first.event_id
    assert second.event_type == "shop.inventory.StockReserved"
    assert second.occurred_at == later


def test_occurred_at_keeps_its_instant_across_offsets() -> None:
    moment = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    envelope = dataclasses.replace(_envelope(), occurred_at=moment)
    decoded = Envelope.from_headers(envelope.to_headers())
    assert decoded.occurred_at == moment
    assert decoded.occurred_at.tzinfo is not None


def test_the_decoder_fills_every_field() -> None:
    assert tuple(field.name for field in dataclasses.fields(Envelope)) == _FIELDS


def _without(name: str) -> list[tuple[str, bytes | None]]:
    return [(n, v) for n, v in _envelope().to_headers() if n != name]


def _with(name: str, value: bytes | None) -> list[tuple[str, bytes | None]]:
    return [(n, value if n == name else v) for n, v in _envelope().to_headers()]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (None, "lack event-id, event-type, correlation-id, occurred-at, schema, producer"),
        (_without("event-id"), "lack event-id"),
        (_without("schema"), "lack schema"),
        (_with("producer", None), "lack producer"),
        (_with("event-id", b"not-a-uuid"), "'event-id' is not a UUID"),
        (_with("causation-id", b"12"), "'causation-id' is not a UUID"),
        (_with("occurred-at", b"yesterday"), "'occurred-at' is not an ISO 8601"),
        (_with("occurred-at", b"2024-05-01T12:00:00"), "no UTC offset"),
        (_with("correlation-id", b"\xff\xfe"), "'correlation-id' is not UTF-8"),
        (_with("event-type", b"a\nb"), "'event-type' must be non-empty printable"),
        (_with("producer", b"p" * 300), "at most 255"),
        ([*_envelope().to_headers(), ("event-id", str(uuid4()).encode())], "appears twice"),
    ],
)
def test_missing_or_garbled_headers_are_decode_errors(
    headers: list[tuple[str, bytes | None]] | None, message: str
) -> None:
    with pytest.raises(DecodeError, match=message):
        Envelope.from_headers(headers)


def test_a_malformed_traceparent_is_dropped_as_w3c_asks() -> None:
    for bad in (
        b"00-123-456-01",
        b"ff-" + TRACEPARENT[3:].encode(),
        b"00-" + b"0" * 32 + b"-" + b"1" * 16 + b"-01",
    ):
        assert Envelope.from_headers(_with("traceparent", bad)).traceparent is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event_id": "abc"}, "event_id must be a UUID"),
        ({"causation_id": 5}, "causation_id must be a UUID"),
        ({"occurred_at": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"correlation_id": ""}, "correlation_id must be non-empty"),
        ({"producer": "a\x00b"}, "producer must be non-empty printable"),
        ({"traceparent": "00-xyz"}, "not W3C trace context"),
        ({"traceparent": TRACEPARENT + "\n"}, "not W3C trace context"),
    ],
)
def test_building_a_bad_envelope_fails_at_once(changes: dict[str, object], message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        dataclasses.replace(_envelope(), **changes)  # type: ignore[arg-type]


def test_headers_need_the_schema_reference() -> None:
    envelope = Envelope.new(OrderPlaced, correlation_id=ORDER, producer="orders")
    with pytest.raises(EncodeError, match="no schema reference"):
        envelope.to_headers()
    with pytest.raises(EncodeError, match="schema must be non-empty printable"):
        envelope.with_schema("bad\nref")


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",  # not UTF-8
        TRACEPARENT.encode("utf-16"),  # text, but not in UTF-8
        b"\x80" + TRACEPARENT.encode(),
        (TRACEPARENT + "\n").encode(),  # a line break is not part of the value
        "00-ü".encode(),
    ],
)
def test_an_undecodable_traceparent_is_dropped_not_the_event(raw: bytes) -> None:
    headers = _with("traceparent", raw)
    decoded = Envelope.from_headers(headers)
    assert decoded.traceparent is None
    assert str(decoded.event_id).encode() == dict(headers)["event-id"]


def test_a_repeated_traceparent_is_dropped_as_w3c_asks() -> None:
    headers = [*_envelope().to_headers(), ("traceparent", b"\xff")]
    assert Envelope.from_headers(headers).traceparent is None


def test_a_well_formed_traceparent_is_kept() -> None:
    assert Envelope.from_headers(_envelope().to_headers()).traceparent == TRACEPARENT
