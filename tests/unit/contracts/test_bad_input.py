"""Bad input gives one typed error, never a crash, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient, SchemaRegistryError
from pydantic import ValidationError

from saga.contracts import _registry
from saga.contracts.envelope import Envelope
from saga.contracts.schemas import load_contracts
from saga.contracts.serde import Serializer
from saga.errors import (
    CompatibilityError,
    ConfigError,
    DecodeError,
    EncodeError,
    PayloadTooLarge,
    RegistryUnavailable,
    SagaError,
    UnknownSchemaError,
)
from saga.settings import Settings
from services.contracts import OrderLine, OrderPlaced
from tests._saga_cli import closed_port
from tests._samples import AVRO, ORDER, order_placed

SETTINGS = Settings(schema_dir=AVRO)


@pytest.fixture
def serializer() -> Serializer:
    return Serializer(SETTINGS)


@pytest.fixture
def value(serializer: Serializer) -> bytes:
    return serializer.encode_payload(order_placed())


def test_trailing_bytes_are_detected(serializer: Serializer, value: bytes) -> None:
    with pytest.raises(DecodeError, match="3 unexpected bytes after the Avro record"):
        serializer.decode_payload(value + b"\x00\x00\x00")


@pytest.mark.parametrize("cut", [1, 5, 9, 11, 40, -1])
def test_truncated_payloads_are_decode_errors(
    serializer: Serializer, value: bytes, cut: int
) -> None:
    with pytest.raises(DecodeError):
        serializer.decode_payload(value[:cut])


@pytest.mark.parametrize("payload", [b"", b"\x01\x02\x03", b'{"json": true}', b"\xc3"])
def test_foreign_bytes_are_decode_errors(serializer: Serializer, payload: bytes) -> None:
    with pytest.raises(DecodeError, match=r"wire format|truncated"):
        serializer.decode_payload(payload)


def test_corrupt_body_is_a_decode_error(serializer: Serializer, value: bytes) -> None:
    corrupt = value[:10] + b"\x09" + value[11:]  # the first UUID's length no longer fits
    with pytest.raises(DecodeError, match=r"shop.orders.OrderPlaced: payload is not valid Avro"):
        serializer.decode_payload(corrupt)


def test_an_unknown_fingerprint_is_named(serializer: Serializer, value: bytes) -> None:
    unknown = b"\xc3\x01" + b"\x11" * 8 + value[10:]
    with pytest.raises(UnknownSchemaError, match="fingerprint 1111111111111111"):
        serializer.decode_payload(unknown)


def test_oversize_payload_is_refused_before_decoding(value: bytes) -> None:
    small = Serializer(SETTINGS.model_copy(update={"max_payload_bytes": 64}))
    garbage = b"\xff" * 65  # would be a DecodeError if anything looked at it
    with pytest.raises(PayloadTooLarge, match="65 bytes is over the cap of 64"):
        small.decode_payload(garbage)
    with pytest.raises(PayloadTooLarge, match="SAGA_MAX_PAYLOAD_BYTES"):
        small.decode(garbage, None)
    with pytest.raises(PayloadTooLarge, match="over the cap of 64"):
        small.encode_payload(order_placed())


def test_wrong_types_and_extra_fields_are_refused_when_the_event_is_built() -> None:
    with pytest.raises(ValidationError, match="total_cents"):
        order_placed(total_cents="12")  # strict: no string → int coercion
    with pytest.raises(ValidationError, match="total_cents"):
        order_placed(total_cents=2**63)  # Avro long range
    with pytest.raises(ValidationError, match="quantity"):
        OrderLine(sku="A", quantity=2**31, unit_price_cents=1)  # Avro int range
    with pytest.raises(ValidationError, match="channel"):
        order_placed(channel="FAX")
    with pytest.raises(ValidationError, match="placed_at"):
        order_placed(placed_at=order_placed().placed_at.replace(tzinfo=None))
    with pytest.raises(ValidationError, match="surprise"):
        order_placed(surprise=1)
    with pytest.raises(ValidationError, match="total_cents"):
        order_placed().model_copy(update={"total_cents": "12"})


def test_an_unvalidated_event_is_refused_before_anything_is_written(
    serializer: Serializer,
) -> None:
    fields: dict[str, Any] = dict(order_placed())
    fields["total_cents"] = "a lot"
    unchecked = OrderPlaced.model_construct(**fields)
    envelope = Envelope.new(OrderPlaced, correlation_id=ORDER, producer="test")
    with pytest.raises(EncodeError, match=r"does not fit its contract shop.orders.OrderPlaced/v2"):
        serializer.encode(unchecked, envelope)
    only_id: dict[str, Any] = {"order_id": ORDER}
    missing = OrderPlaced.model_construct(**only_id)
    with pytest.raises(EncodeError):
        serializer.encode(missing, envelope)


def test_only_events_can_be_encoded(serializer: Serializer) -> None:
    envelope = Envelope.new("shop.orders.OrderPlaced", correlation_id=ORDER, producer="test")
    with pytest.raises(EncodeError, match=r"only saga.contracts.events.Event"):
        serializer.encode({"order_id": ORDER}, envelope)  # type: ignore[arg-type]


# -- the schema registry ------------------------------------------------------------------


def test_registry_down_is_retriable() -> None:
    client = _registry.registry_client(
        f"http://127.0.0.1:{closed_port()}", {"max.retries": 0, "timeout": 2}
    )
    serializer = Serializer(
        SETTINGS.model_copy(update={"wire_format": "confluent"}),
        contracts=load_contracts(AVRO),
        registry=client,
    )
    with pytest.raises(RegistryUnavailable, match=r"unreachable.*retry later") as raised:
        serializer.encode_payload(order_placed())
    assert raised.value.retriable
    with pytest.raises(RegistryUnavailable) as raised:
        serializer.decode_payload(b"\x00\x00\x00\x00\x07" + b"\x02")
    assert raised.value.retriable


def test_an_unknown_schema_id_is_permanent() -> None:
    client = SchemaRegistryClient.new_client({"url": "mock://unknown-id"})
    serializer = Serializer(SETTINGS, registry=client)
    with pytest.raises(UnknownSchemaError, match="schema id 4242: not found") as raised:
        serializer.decode_payload(b"\x00" + (4242).to_bytes(4, "big") + b"\x02")
    assert not raised.value.retriable


class _FailingRegistry:
    """Stands in for the registry client: every call answers one HTTP status."""

    def __init__(self, status: int) -> None:
        self.status = status

    def _fail(self, *args: object) -> Any:
        raise SchemaRegistryError(self.status, -1, f"answered {self.status}")

    register_schema = lookup_schema = get_schema = _fail


@pytest.mark.parametrize(
    ("status", "error", "retriable"),
    [
        (503, RegistryUnavailable, True),
        (429, RegistryUnavailable, True),
        (404, UnknownSchemaError, False),
        (401, ConfigError, False),
        (409, CompatibilityError, False),
        (422, EncodeError, False),
    ],
)
def test_registry_answers_map_to_typed_errors(
    status: int, error: type[SagaError], retriable: bool
) -> None:
    schemas = _registry.RegistrySchemas(_FailingRegistry(status))  # type: ignore[arg-type]
    version = load_contracts(AVRO).latest("shop.orders.OrderPlaced")
    with pytest.raises(error) as raised:
        schemas.id_for(version)
    assert raised.value.retriable is retriable


def test_registry_ids_are_cached() -> None:
    client = SchemaRegistryClient.new_client({"url": "mock://cache"})
    schemas = _registry.RegistrySchemas(client)
    version = load_contracts(AVRO).latest("shop.orders.OrderPlaced")
    first = schemas.id_for(version)
    assert schemas.version_for_id(first).fingerprint == version.fingerprint
    schemas.client = _FailingRegistry(503)  # type: ignore[assignment]
    assert schemas.id_for(version) == first  # no second call to the registry
    assert schemas.version_for_id(first).name == "shop.orders.OrderPlaced"


def test_lookup_only_mode_does_not_register() -> None:
    client = SchemaRegistryClient.new_client({"url": "mock://lookup-only"})
    serializer = Serializer(
        SETTINGS.model_copy(update={"wire_format": "confluent"}),
        registry=client,
        register_schemas=False,
    )
    with pytest.raises(UnknownSchemaError, match="not found in the schema registry"):
        serializer.encode_payload(order_placed())
    assert client.get_subjects() == []
