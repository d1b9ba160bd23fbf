"""Round trips and schema evolution through the serializer, in both wire formats."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from saga.contracts import _single_object
from saga.contracts.envelope import Envelope
from saga.contracts.events import Event
from saga.contracts.schemas import load_contracts
from saga.contracts.serde import Serializer
from saga.errors import ConfigError, DecodeError, EncodeError, UnknownSchemaError
from saga.settings import Settings
from services.contracts import Address, OrderLine, OrderPlaced
from tests._samples import (
    AVRO,
    ORDER,
    TRACEPARENT,
    OrderPlacedV1,
    one_of_each,
    order_placed,
    order_placed_v1,
    order_placed_v1_schema,
)

SETTINGS = Settings(schema_dir=AVRO)


def _v1_event() -> OrderPlacedV1:
    return order_placed_v1(
        customer_id=ORDER,
        total_cents=100,
        lines=[OrderLine(sku="A", quantity=1, unit_price_cents=100)],
        shipping_address=Address(line1="x", city="y", postal_code="z", country="DE"),
    )


@pytest.fixture(params=["single-object", "confluent"])
def wire_format(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def registry() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": "mock://contracts-test"})


def _serializer(
    wire_format: str, registry: SchemaRegistryClient, events: tuple[type[Event], ...] = ()
) -> Serializer:
    settings = SETTINGS.model_copy(update={"wire_format": wire_format})
    contracts = load_contracts(AVRO)
    return Serializer(settings, contracts=contracts, registry=registry, events=events)


def _envelope(event: Event) -> Envelope:
    return Envelope.new(event, correlation_id=ORDER, producer="test", traceparent=TRACEPARENT)


@pytest.mark.parametrize("event", one_of_each(), ids=lambda e: type(e).__name__)
def test_every_event_round_trips(
    event: Event, wire_format: str, registry: SchemaRegistryClient
) -> None:
    serializer = _serializer(wire_format, registry)
    envelope = _envelope(event)
    encoded = serializer.encode(event, envelope)
    assert encoded.key == str(ORDER).encode()
    marker = _single_object.MARKER if wire_format == "single-object" else b"\x00"
    assert encoded.value.startswith(marker)
    assert (
        encoded.envelope.schema
        == f"{type(event).__event_name__}/v{2 if isinstance(event, OrderPlaced) else 1}"
    )
    decoded = serializer.decode(encoded.value, encoded.headers)
    assert decoded.event == event
    assert type(decoded.event) is type(event)
    assert decoded.envelope == encoded.envelope
    assert serializer.decode_payload(serializer.encode_payload(event)) == event


def test_single_object_payload_is_marker_fingerprint_body() -> None:
    serializer = Serializer(SETTINGS)
    value = serializer.encode_payload(order_placed())
    latest = load_contracts(AVRO).latest("shop.orders.OrderPlaced")
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == latest.fingerprint


def test_confluent_payload_carries_the_registered_id(registry: SchemaRegistryClient) -> None:
    serializer = _serializer("confluent", registry)
    value = serializer.encode_payload(order_placed())
    schema_id = int.from_bytes(value[1:5], "big")
    assert value[0] == 0
    assert registry.get_schema(schema_id).schema_str is not None
    assert registry.get_subjects() == ["shop.orders.OrderPlaced"]


def test_a_consumer_reads_both_wire_formats(registry: SchemaRegistryClient) -> None:
    event = order_placed()
    confluent = _serializer("confluent", registry).encode(event, _envelope(event))
    single = _serializer("single-object", registry).encode(event, _envelope(event))
    consumer = _serializer("single-object", registry)
    assert consumer.decode(confluent.value, confluent.headers).event == event
    assert consumer.decode(single.value, single.headers).event == event


def test_v1_data_reads_as_v2_with_defaults(
    wire_format: str, registry: SchemaRegistryClient
) -> None:
    old_producer = _serializer(wire_format, registry, events=(OrderPlacedV1,))
    encoded = old_producer.encode(_v1_event(), _envelope(_v1_event()))
    assert encoded.envelope.schema == "shop.orders.OrderPlaced/v1"
    event = _serializer(wire_format, registry).decode(encoded.value, encoded.headers).event
    assert isinstance(event, OrderPlaced)
    assert event.channel == "WEB"
    assert event.coupon_code is None
    assert event.lines[0].sku == "A"
    assert event.total_cents == 100


def test_v2_data_reads_as_v1_dropping_new_fields(
    wire_format: str, registry: SchemaRegistryClient
) -> None:
    encoded = _serializer(wire_format, registry).encode(order_placed(), _envelope(order_placed()))
    old_consumer = _serializer(wire_format, registry, events=(OrderPlacedV1,))
    event = old_consumer.decode(encoded.value, encoded.headers).event
    assert isinstance(event, OrderPlacedV1)
    assert event.total_cents == order_placed().total_cents
    assert event.shipping_address.city == "Berlin"
    assert set(type(event).model_fields) == {f["name"] for f in order_placed_v1_schema()["fields"]}


def test_an_unresolvable_reader_is_a_decode_error(tmp_path: Path) -> None:
    schema = order_placed_v1_schema()
    schema["fields"].append({"name": "required_later", "type": "string"})  # no default

    class OrderPlacedStrict(Event, name="shop.orders.OrderPlaced", schema=schema, register=False):
        order_id: UUID

    encoded = Serializer(SETTINGS).encode(order_placed(), _envelope(order_placed()))
    reader = Serializer(SETTINGS, events=(OrderPlacedStrict,))
    with pytest.raises(DecodeError, match="not valid Avro for its schema"):
        reader.decode(encoded.value, encoded.headers)


def test_an_event_whose_schema_is_not_published_cannot_be_sent() -> None:
    schema = order_placed_v1_schema()
    schema["doc"] = "edited by hand"

    class Drifted(Event, name="shop.orders.OrderPlaced", schema=schema, register=False):
        order_id: UUID

    with pytest.raises(EncodeError, match=r"not published in .*saga schemas generate"):
        Serializer(SETTINGS).encode_payload(Drifted(order_id=ORDER))


def test_the_envelope_must_name_the_event() -> None:
    event = order_placed()
    wrong = Envelope.new("shop.orders.OrderApproved", correlation_id=ORDER, producer="x")
    with pytest.raises(EncodeError, match=r"Envelope.new"):
        Serializer(SETTINGS).encode(event, wrong)


def test_the_event_type_header_must_match_the_payload() -> None:
    serializer = Serializer(SETTINGS)
    encoded = serializer.encode(order_placed(), _envelope(order_placed()))
    headers = [
        (n, b"shop.orders.OrderApproved" if n == "event-type" else v) for n, v in encoded.headers
    ]
    with pytest.raises(DecodeError, match="mislabels"):
        serializer.decode(encoded.value, headers)


def test_confluent_format_needs_a_registry() -> None:
    with pytest.raises(ConfigError, match="SAGA_SCHEMA_REGISTRY_URL"):
        Serializer(SETTINGS.model_copy(update={"wire_format": "confluent"}))


def test_confluent_payload_without_a_registry_is_unknown(registry: SchemaRegistryClient) -> None:
    value = _serializer("confluent", registry).encode_payload(order_placed())
    with pytest.raises(UnknownSchemaError, match="no schema registry is configured"):
        Serializer(SETTINGS).decode_payload(value)


def test_settings_build_the_registry_client_and_hide_its_url() -> None:
    settings = Settings(
        schema_dir=AVRO,
        wire_format="confluent",
        schema_registry_url="mock://user:hunter2@settings-test",
    )
    assert "hunter2" not in repr(settings)
    value = Serializer(settings).encode_payload(order_placed())
    assert value[0] == 0


def test_decode_raw_gives_the_record_as_its_writer_wrote_it(
    wire_format: str, registry: SchemaRegistryClient
) -> None:
    v1 = _serializer(wire_format, registry, events=(OrderPlacedV1,)).encode_payload(_v1_event())
    v2 = _serializer(wire_format, registry).encode_payload(order_placed())
    reader = _serializer(wire_format, registry)

    writer, record = reader.decode_raw(v1)
    assert writer.name == "shop.orders.OrderPlaced"
    assert writer.schema == order_placed_v1_schema()
    assert "channel" not in record  # no resolution to v2: no defaults filled in
    assert record["shipping_address"]["city"] == "y"
    writer, record = reader.decode_raw(v2)
    assert writer.schema == load_contracts(AVRO).latest("shop.orders.OrderPlaced").schema
    assert record["channel"] == "MOBILE"
    assert record["order_id"] == ORDER


def test_decode_raw_fails_as_decoding_does() -> None:
    serializer = Serializer(SETTINGS)
    value = serializer.encode_payload(order_placed())
    with pytest.raises(DecodeError, match="neither Avro single-object"):
        serializer.decode_raw(b"garbage")
    with pytest.raises(DecodeError, match="unexpected bytes after the Avro record"):
        serializer.decode_raw(value + b"\x00")
    with pytest.raises(DecodeError, match="not valid Avro"):
        serializer.decode_raw(value[:20])
    with pytest.raises(UnknownSchemaError, match="fingerprint"):
        serializer.decode_raw(b"\xc3\x01" + b"\x00" * 8 + value[10:])
