"""Writing shop events onto real topics and running ``saga tail`` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from saga.contracts.envelope import Envelope
from saga.contracts.events import AvroLong, Event, Record
from saga.contracts.serde import Serializer
from saga.settings import Settings
from tests._saga_cli import ROOT, clean_env, run_saga
from tests._samples import AT, OTHER, order_placed_v1_schema

AVRO = ROOT / "avro"
NO_BROKER = "127.0.0.1:1"  # nothing listens there
ORDER = "6f1f8a36-2a7c-4d0e-9a53-6c1b2f0e7d11"


class OrderLineV1(Record):
    sku: str
    quantity: int
    unit_price_cents: AvroLong


class AddressV1(Record):
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    country: str


class OrderPlacedV1(
    Event, name="shop.orders.OrderPlaced", schema=order_placed_v1_schema(), register=False
):
    """A producer still on contract v1 of OrderPlaced."""

    order_id: UUID
    customer_id: UUID
    placed_at: datetime
    currency: str
    total_cents: AvroLong
    lines: list[OrderLineV1]
    shipping_address: AddressV1


def v1_order(**changes: Any) -> OrderPlacedV1:
    fields: dict[str, Any] = {
        "order_id": UUID(ORDER),
        "customer_id": OTHER,
        "placed_at": AT,
        "currency": "EUR",
        "total_cents": 4_000,
        "lines": [OrderLineV1(sku="SKU-1", quantity=1, unit_price_cents=4_000)],
        "shipping_address": AddressV1(
            line1="1 Old Road", city="Hamburg", postal_code="20095", country="DE"
        ),
    }
    fields.update(changes)
    return OrderPlacedV1(**fields)


def tail_env(tmp_path: Path, bootstrap: str, **settings: str) -> dict[str, str]:
    """The environment of a user who points the CLI at a broker, from the project folder
    (where ``avro/`` is)."""
    return clean_env(tmp_path / "stack", SAGA_KAFKA_BOOTSTRAP=bootstrap, **settings)


def tail(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_saga("tail", *args, env=env, timeout=60)


def tail_json(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    """The records ``saga tail`` prints to a pipe (JSON lines, no ``--format`` needed)."""
    done = tail(env, *args)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


class Writer:
    """Produces events the way the relay does (key = correlation id, envelope in headers),
    and raw records that no serializer would write."""

    def __init__(self, bootstrap: str, **producer: Any) -> None:
        self.serializer = Serializer(Settings(schema_dir=AVRO))
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, **producer})

    def envelope(
        self,
        event: Event,
        correlation_id: str,
        *,
        producer: str = "test",
        event_id: UUID | None = None,
        causation_id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return Envelope.new(
            event,
            correlation_id=correlation_id,
            producer=producer,
            event_id=event_id or uuid.uuid4(),
            causation_id=causation_id,
            occurred_at=occurred_at,
        )

    def send(
        self,
        topic: str,
        event: Event,
        correlation_id: str,
        *,
        partition: int = 0,
        timestamp_ms: int = 0,
        extra_headers: Sequence[tuple[str, bytes]] = (),
        key: bytes | None = None,
        **envelope: Any,
    ) -> Envelope:
        """One event on ``topic``; returns its envelope."""
        encoded = self.serializer.encode(event, self.envelope(event, correlation_id, **envelope))
        self.raw(
            topic,
            encoded.value,
            key=encoded.key if key is None else key,
            headers=[*encoded.headers, *extra_headers],
            partition=partition,
            timestamp_ms=timestamp_ms,
        )
        return encoded.envelope

    def raw(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        partition: int = 0,
        timestamp_ms: int = 0,
    ) -> None:
        self.producer.produce(
            topic,
            value=value,
            key=key,
            headers=list(headers),
            partition=partition,
            timestamp=timestamp_ms,  # 0: the producer's clock
        )

    def flush(self) -> None:
        assert self.producer.flush(30) == 0, "the broker did not take every record"


def millis(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


@contextmanager
def topics(bootstrap: str, *suffixes: str, partitions: int = 3) -> Iterator[list[str]]:
    """New topics ``<unique prefix>.<suffix>``, deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    prefix = f"tail-{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}.{suffix}" for suffix in suffixes]
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    )
    for future in futures.values():
        future.result(30)
    try:
        yield names
    finally:
        for future in admin.delete_topics(names).values():
            future.result(30)
