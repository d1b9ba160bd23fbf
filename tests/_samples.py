"""Sample events and contract folders shared by the contract tests, unit and integration:
one order as contract v2 has it and as a service still on v1 writes it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from saga.contracts.events import AvroLong, Event, Record
from services.contracts import (
    Address,
    OrderApproved,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentRefunded,
    ReservedItem,
    ShipmentFailed,
    ShipmentScheduled,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)

ROOT = Path(__file__).resolve().parents[1]
AVRO = ROOT / "avro"
FIXTURES = ROOT / "tests" / "fixtures" / "schemas"
ORDER = UUID("6f1f8a36-2a7c-4d0e-9a53-6c1b2f0e7d11")
OTHER = UUID("0b9a4f5e-1c2d-4e3f-8a7b-9c0d1e2f3a4b")
AT = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def order_placed(**changes: Any) -> OrderPlaced:
    fields: dict[str, Any] = {
        "order_id": ORDER,
        "customer_id": OTHER,
        "placed_at": AT,
        "currency": "EUR",
        "total_cents": 12_345,
        "lines": [
            OrderLine(sku="SKU-1001", quantity=2, unit_price_cents=4_000),
            OrderLine(sku="SKU-2002", quantity=1, unit_price_cents=4_345),
        ],
        "shipping_address": Address(
            line1="1 Main Street", city="Berlin", postal_code="10115", country="DE"
        ),
        "channel": "MOBILE",
        "coupon_code": "SPRING24",
    }
    fields.update(changes)
    return OrderPlaced(**fields)


def one_of_each() -> list[Event]:
    """One instance of every event in the example domain."""
    return [
        order_placed(),
        OrderApproved(order_id=ORDER, approved_at=AT, payment_id=OTHER, shipment_id=OTHER),
        OrderRejected(order_id=ORDER, rejected_at=AT, reason="PAYMENT_DECLINED"),
        StockReserved(
            order_id=ORDER,
            reservation_id=OTHER,
            reserved_at=AT,
            items=[ReservedItem(sku="SKU-1001", quantity=2, warehouse="BER-1")],
        ),
        StockReservationFailed(order_id=ORDER, failed_at=AT, unavailable_skus=["SKU-2002"]),
        StockReleased(
            order_id=ORDER, reservation_id=OTHER, released_at=AT, reason="payment declined"
        ),
        PaymentAuthorized(
            order_id=ORDER, payment_id=OTHER, authorized_at=AT, amount_cents=12_345, currency="EUR"
        ),
        PaymentDeclined(order_id=ORDER, declined_at=AT, reason="CARD_EXPIRED"),
        PaymentRefunded(
            order_id=ORDER, payment_id=OTHER, refunded_at=AT, amount_cents=12_345, currency="EUR"
        ),
        ShipmentScheduled(
            order_id=ORDER,
            shipment_id=OTHER,
            scheduled_at=AT,
            carrier="DHL",
            estimated_delivery=date(2024, 5, 3),
        ),
        ShipmentFailed(order_id=ORDER, failed_at=AT, reason="address not served"),
    ]


def write_contract(root: Path, schema: dict[str, Any], version: int = 1) -> Path:
    """Write ``schema`` into a contract folder at its namespaced place."""
    folder = root.joinpath(*str(schema.get("namespace", "")).split("."))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{schema['name']}.v{version}.avsc"
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def order_placed_v1_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (AVRO / "shop/orders/OrderPlaced.v1.avsc").read_text(encoding="utf-8")
    )
    return schema


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


class OrderPlacedV1(Event, schema=order_placed_v1_schema(), register=False):
    """A service still on contract v1 of OrderPlaced (no channel, no coupon code)."""

    order_id: UUID
    customer_id: UUID
    placed_at: datetime
    currency: str
    total_cents: AvroLong
    lines: list[OrderLineV1]
    shipping_address: AddressV1


def order_placed_v1(**changes: Any) -> OrderPlacedV1:
    """``order_placed(**changes)`` as a service on contract v1 writes it: the same order
    without the fields v2 added."""
    v2 = order_placed(**changes)
    return OrderPlacedV1(
        **v2.model_dump(
            include={"order_id", "customer_id", "placed_at", "currency", "total_cents"}
        ),
        lines=[OrderLineV1(**line.model_dump()) for line in v2.lines],
        shipping_address=AddressV1(**v2.shipping_address.model_dump()),
    )
