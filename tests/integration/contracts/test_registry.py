"""The Confluent wire format against a real schema registry (Apicurio's Confluent-compatible
API) and a real Kafka broker: schemas registered and looked up over HTTP, ids cached, and
registry failures turned into the framework's errors."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Protocol

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from pydantic import SecretStr

from saga.contracts import _registry
from saga.contracts.envelope import Envelope
from saga.contracts.events import Event
from saga.contracts.schemas import load_contracts
from saga.contracts.serde import Encoded, Serializer
from saga.errors import RegistryUnavailable, UnknownSchemaError
from saga.settings import KafkaValue, Settings
from saga.testing import eventually
from services.contracts import OrderApproved, OrderLine, OrderPlaced
from tests._samples import AT, AVRO, ORDER, OTHER, OrderPlacedV1, order_placed, order_placed_v1
from tests.integration._kafka import poll_messages
from tests.integration.contracts._apicurio import CCOMPAT, Registry

pytestmark = pytest.mark.integration

SUBJECT = "shop.orders.OrderPlaced"
# A request the serializer never makes: once the registry has counted it, it has counted
# every request sent before it.
MARKER = ("GET", CCOMPAT + "/subjects")


# The registry tests' order has a single line.
LINES = [OrderLine(sku="SKU-1001", quantity=2, unit_price_cents=6_000)]


def _order_placed() -> OrderPlaced:
    return order_placed(lines=LINES)


def _order_placed_v1() -> OrderPlacedV1:
    return order_placed_v1(lines=LINES)


class MakeSerializer(Protocol):
    def __call__(self, url: str, *events: type[Event]) -> Serializer: ...


@pytest.fixture
def make_serializer() -> Iterator[MakeSerializer]:
    """Makes a service's serializer, with a registry client (and caches) of its own.

    The test owns the clients and closes their HTTP connections afterwards.
    """
    with ExitStack() as clients:

        def make(url: str, *events: type[Event]) -> Serializer:
            settings = Settings(
                schema_dir=AVRO, wire_format="confluent", schema_registry_url=SecretStr(url)
            )
            client = clients.enter_context(_registry.registry_client(url))
            return Serializer(settings, registry=client, events=events)

        yield make


def _encode(serde: Serializer, event: Event) -> Encoded:
    envelope = Envelope.new(event, correlation_id=ORDER, producer="registry-test")
    return serde.encode(event, envelope)


def _schema_id(value: bytes) -> int:
    assert value[:1] == b"\x00", value[:5].hex()
    return int.from_bytes(value[1:5], "big")


def _settled_counts(registry: Registry) -> Counter[tuple[str, str]]:
    """The registry's request counts once it has counted every request made so far."""
    before = registry.request_counts()[MARKER]
    status, _ = registry.get(MARKER[1])
    assert status == 200

    def probe() -> Counter[tuple[str, str]] | None:
        counts = registry.request_counts()
        return counts if counts[MARKER] > before else None

    counts = eventually(probe, timeout=10, what="the registry counting a marker request")
    del counts[MARKER]
    return counts


def test_round_trip_registers_under_the_record_name(
    make_serializer: MakeSerializer, schema_registry: Registry
) -> None:
    event = _order_placed()
    encoded = _encode(make_serializer(schema_registry.url), event)
    schema_id = _schema_id(encoded.value)

    status, body = schema_registry.get(f"{CCOMPAT}/schemas/ids/{schema_id}")
    assert status == 200
    latest = load_contracts(AVRO).latest(SUBJECT)
    assert json.loads(json.loads(body)["schema"]) == latest.schema
    status, body = schema_registry.get(f"{CCOMPAT}/subjects")
    assert SUBJECT in json.loads(body)

    # Another service registers the same contract: the registry hands out the same id.
    assert _schema_id(_encode(make_serializer(schema_registry.url), event).value) == schema_id
    # A consumer that has cached nothing looks the id up and reads the event back.
    decoded = make_serializer(schema_registry.url).decode(encoded.value, encoded.headers)
    assert decoded.event == event
    assert type(decoded.event) is OrderPlaced
    assert decoded.envelope == encoded.envelope
    assert decoded.envelope.schema == f"{SUBJECT}/v2"


def test_v1_writer_reads_as_v2_with_defaults(
    make_serializer: MakeSerializer, schema_registry: Registry
) -> None:
    old = _encode(make_serializer(schema_registry.url, OrderPlacedV1), _order_placed_v1())
    new = _encode(make_serializer(schema_registry.url), _order_placed())
    assert _schema_id(old.value) != _schema_id(new.value)
    assert old.envelope.schema == f"{SUBJECT}/v1"

    event = make_serializer(schema_registry.url).decode(old.value, old.headers).event
    assert isinstance(event, OrderPlaced)
    assert event.channel == "WEB"  # v2 defaults fill what v1 never wrote
    assert event.coupon_code is None
    assert event.model_dump(exclude={"channel", "coupon_code"}) == _order_placed_v1().model_dump()


def test_v2_writer_reads_as_v1(make_serializer: MakeSerializer, schema_registry: Registry) -> None:
    encoded = _encode(make_serializer(schema_registry.url), _order_placed())
    old_consumer = make_serializer(schema_registry.url, OrderPlacedV1)
    event = old_consumer.decode(encoded.value, encoded.headers).event
    assert type(event) is OrderPlacedV1
    assert event == _order_placed_v1()  # the v2-only fields are skipped


def test_schema_ids_are_cached_after_the_first_call(
    make_serializer: MakeSerializer, schema_registry: Registry
) -> None:
    producer = make_serializer(schema_registry.url)
    consumer = make_serializer(schema_registry.url)
    event = _order_placed()
    start = _settled_counts(schema_registry)

    first = _encode(producer, event)
    consumer.decode(first.value, first.headers)
    warmed = _settled_counts(schema_registry)
    asked = warmed - start
    # The producer registered its schema and the consumer looked the id up: both over HTTP.
    assert {method for method, _ in asked} == {"POST", "GET"}, asked

    for _ in range(5):
        again = _encode(producer, event)
        assert consumer.decode(again.value, again.headers).event == event
        assert _schema_id(again.value) == _schema_id(first.value)
    assert _settled_counts(schema_registry) == warmed


def test_unknown_schema_id_is_an_unknown_schema(
    make_serializer: MakeSerializer, schema_registry: Registry
) -> None:
    body = _encode(make_serializer(schema_registry.url), _order_placed()).value[5:]
    missing = 2**31 - 1
    consumer = make_serializer(schema_registry.url)
    with pytest.raises(UnknownSchemaError, match=f"schema id {missing}") as raised:
        consumer.decode_payload(b"\x00" + missing.to_bytes(4, "big") + body)
    assert not raised.value.retriable


def test_a_stopped_registry_is_retriable_and_cached_ids_keep_working(
    make_serializer: MakeSerializer,
    start_schema_registry: Callable[[], Registry],
) -> None:
    registry = start_schema_registry()
    producer = make_serializer(registry.url)
    cached = _encode(producer, _order_placed())
    registry.stop()
    status, _ = registry.get(f"{CCOMPAT}/subjects")
    assert status == 0  # nothing listens on its port any more

    # Ids already known need no registry.
    assert _encode(producer, _order_placed()).value == cached.value
    fresh = make_serializer(registry.url)
    with pytest.raises(RegistryUnavailable, match="unreachable") as on_encode:
        _encode(fresh, _order_placed_v1())
    assert on_encode.value.retriable
    with pytest.raises(RegistryUnavailable, match="unreachable") as on_decode:
        fresh.decode(cached.value, cached.headers)
    assert on_decode.value.retriable


def _headers(msg: Message) -> list[tuple[str, bytes | str | None]]:
    headers = msg.headers()
    assert isinstance(headers, list), headers  # what the consumer hands back for a message
    return headers


def test_events_cross_a_real_broker(
    make_serializer: MakeSerializer,
    schema_registry: Registry,
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    events: list[Event] = [
        _order_placed(),
        OrderApproved(order_id=ORDER, approved_at=AT, payment_id=OTHER, shipment_id=OTHER),
    ]
    producer_serde = make_serializer(schema_registry.url)
    sent = [_encode(producer_serde, event) for event in events]
    settings = Settings()
    producer = Producer(settings.kafka_config(kafka_bootstrap, acks="all"))
    failures: list[object] = []
    for encoded in sent:
        headers: list[tuple[str, str | bytes | None]] = list(encoded.headers)
        producer.produce(
            kafka_topic,
            key=encoded.key,
            value=encoded.value,
            headers=headers,
            on_delivery=lambda err, _msg: failures.append(err) if err else None,
        )
    assert producer.flush(30) == 0
    assert failures == []

    group: dict[str, KafkaValue] = {
        "group.id": f"registry-test-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
    }
    consumer = Consumer(settings.kafka_config(kafka_bootstrap, **group))
    try:
        # Both events share the order's key, so they sit in order on one partition.
        partitions = [TopicPartition(kafka_topic, p, 0) for p in range(3)]
        consumer.assign(partitions)
        received = poll_messages(consumer, len(sent))
    finally:
        consumer.close()
    assert [msg.key() for msg in received] == [encoded.key for encoded in sent]

    consumer_serde = make_serializer(schema_registry.url)
    decoded = [consumer_serde.decode(msg.value() or b"", _headers(msg)) for msg in received]
    assert [d.event for d in decoded] == events
    assert [d.envelope for d in decoded] == [encoded.envelope for encoded in sent]


def test_a_serializer_closes_the_registry_client_it_created(schema_registry: Registry) -> None:
    settings = Settings(
        schema_dir=AVRO,
        wire_format="confluent",
        schema_registry_url=SecretStr(schema_registry.url),
    )
    event = _order_placed()
    with Serializer(settings) as serde:
        encoded = _encode(serde, event)
        assert serde.decode(encoded.value, encoded.headers).event == event
    # Closed: no HTTP connection is left behind (an open one fails the run: warnings are errors).
    assert serde._owned_registry is None
