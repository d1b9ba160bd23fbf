"""The first demo: one real Avro event through the real broker, and back.

Run with ``make demo`` (or ``saga stack up`` then ``python -m services.hello``). It encodes an
``OrderPlaced`` with its envelope, produces it with an idempotent producer keyed by the
order id, consumes it back with a consumer group, decodes it and prints each step.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from saga import SagaError, Settings
from saga.contracts.envelope import Envelope
from saga.contracts.serde import Serializer
from saga.settings import redact_url
from saga.stack import resolve_endpoints
from services.contracts import Address, OrderLine, OrderPlaced

TOPIC = "shop.orders"


def main() -> int:
    settings = Settings()
    endpoints = resolve_endpoints(settings)
    print(f"kafka    {endpoints.kafka_bootstrap}")
    print(f"database {redact_url(endpoints.database_url)}")

    order = OrderPlaced(
        order_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        placed_at=datetime.now(UTC),
        currency="EUR",
        total_cents=4_990,
        lines=[OrderLine(sku="BOOK-42", quantity=1, unit_price_cents=4_990)],
        shipping_address=Address(
            line1="1 Main St", city="Berlin", postal_code="10115", country="DE"
        ),
    )
    serializer = Serializer(settings)
    encoded = serializer.encode(
        order, Envelope.new(order, correlation_id=order.order_id, producer="hello")
    )
    print(
        f"encoded  {order.__event_name__}: {len(encoded.value)} bytes Avro, "
        f"{len(encoded.headers)} headers, key={encoded.key.decode()}"
    )

    config = settings.kafka_config(endpoints.kafka_bootstrap)
    producer = Producer({**config, "enable.idempotence": True, "acks": "all"})
    acked: list[TopicPartition] = []

    def on_delivery(err: object, msg: Message) -> None:
        if err is None:
            acked.append(TopicPartition(msg.topic(), msg.partition(), msg.offset()))

    producer.produce(
        TOPIC,
        key=encoded.key,
        value=encoded.value,
        headers=encoded.headers,
        on_delivery=on_delivery,
    )
    producer.flush(30)
    if not acked:
        print("error: the broker did not acknowledge the event", file=sys.stderr)
        return 2
    where = acked[0]
    print(f"produced to {where.topic}[{where.partition}] at offset {where.offset}")

    consumer = Consumer(
        {**config, "group.id": f"hello-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    consumer.assign([where])
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            event, envelope = serializer.decode(msg.value(), msg.headers())
            print(f"consumed {envelope.event_type} id={envelope.event_id} schema={envelope.schema}")
            print(
                f"         order {event.order_id}: {event.total_cents / 100:.2f} {event.currency}"
            )  # type: ignore[attr-defined]
            consumer.commit(message=msg, asynchronous=False)
            print("committed the group offset: hello round trip done")
            return 0 if event == order else 1
    finally:
        consumer.close()
    print("error: the event did not come back within 30s", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SagaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
