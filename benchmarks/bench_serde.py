"""Encodes and decodes per second of a typical event, ours against plain fastavro.

Run: ``.venv/bin/python benchmarks/bench_serde.py`` (one process, one core).

The event is ``shop.orders.OrderPlaced`` v2: 9 fields with two UUIDs, a timestamp, a long
amount, an array of two line records, a nested address record, an enum and a nullable
string. "saga" rows are :class:`saga.contracts.serde.Serializer` with the envelope (headers built on
encode, parsed and checked on decode, strict encoding, trailing-byte check, model
validation); "fastavro" rows are ``schemaless_writer``/``schemaless_reader`` alone on the
same record and schema: the limit we compare against.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from uuid import UUID

from fastavro import schemaless_reader, schemaless_writer

from saga.contracts.envelope import Envelope
from saga.contracts.schemas import load_contracts
from saga.contracts.serde import Serializer
from saga.settings import Settings
from services.contracts import Address, OrderLine, OrderPlaced

ROOT = Path(__file__).resolve().parent.parent


def sample_event() -> OrderPlaced:
    return OrderPlaced(
        order_id=UUID("6f1f8a36-2a7c-4d0e-9a53-6c1b2f0e7d11"),
        customer_id=UUID("0b9a4f5e-1c2d-4e3f-8a7b-9c0d1e2f3a4b"),
        placed_at=datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        currency="EUR",
        total_cents=12_345,
        lines=[
            OrderLine(sku="SKU-1001", quantity=2, unit_price_cents=4_000),
            OrderLine(sku="SKU-2002", quantity=1, unit_price_cents=4_345),
        ],
        shipping_address=Address(
            line1="1 Main Street", city="Berlin", postal_code="10115", country="DE"
        ),
        channel="MOBILE",
        coupon_code="SPRING24",
    )


def rate(action: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``action``, best of three rounds of about ``seconds`` each."""
    calls = 1_000
    while True:  # size a round to the requested time
        start = time.perf_counter()
        for _ in range(calls):
            action()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 4:
            break
        calls *= 2
    calls = max(1, int(calls * seconds / elapsed))
    best = 0.0
    gc.disable()
    try:
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(calls):
                action()
            best = max(best, calls / (time.perf_counter() - start))
    finally:
        gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    args = parser.parse_args()

    contracts = load_contracts(ROOT / "avro")
    serializer = Serializer(Settings(schema_dir=ROOT / "avro"), contracts=contracts)
    event = sample_event()
    envelope = Envelope.new(
        event,
        correlation_id=event.order_id,
        producer="orders",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    encoded = serializer.encode(event, envelope)
    assert serializer.decode(encoded.value, encoded.headers) == (event, encoded.envelope)

    schema = contracts.latest("shop.orders.OrderPlaced").parsed
    record = event.model_dump()
    raw = BytesIO()
    schemaless_writer(raw, schema, record)
    body = raw.getvalue()
    assert body == encoded.value[10:], "saga and fastavro must write the same Avro body"

    def fastavro_encode() -> bytes:
        buffer = BytesIO()
        schemaless_writer(buffer, schema, record)
        return buffer.getvalue()

    def fastavro_decode() -> object:
        return schemaless_reader(BytesIO(body), schema, None)

    def saga_encode() -> object:
        return serializer.encode(event, envelope)

    def saga_decode() -> object:
        return serializer.decode(encoded.value, encoded.headers)

    print(f"python {platform.python_version()} on {platform.machine()}, one core")
    print(
        f"payload {len(encoded.value)} bytes (Avro body {len(body)}), "
        f"{len(encoded.headers)} headers"
    )
    results = {
        "fastavro encode (schemaless_writer)": rate(fastavro_encode, args.seconds),
        "fastavro decode (schemaless_reader)": rate(fastavro_decode, args.seconds),
        "saga encode (Serializer.encode + envelope)": rate(saga_encode, args.seconds),
        "saga decode (Serializer.decode + envelope)": rate(saga_decode, args.seconds),
    }
    for label, per_second in results.items():
        print(f"{label:<44} {per_second:>10,.0f} /s  {1e6 / per_second:6.1f} µs")
    encode_share = (
        results["saga encode (Serializer.encode + envelope)"]
        / results["fastavro encode (schemaless_writer)"]
    )
    decode_share = (
        results["saga decode (Serializer.decode + envelope)"]
        / results["fastavro decode (schemaless_reader)"]
    )
    print(f"saga/fastavro: encode {encode_share:.0%}, decode {decode_share:.0%}")


if __name__ == "__main__":
    main()
