"""The demo's orders, drawn from a seed: the same seed places the same orders, and each
order's outcome follows from the order itself (see the services' rules).

About one order in twenty of each kind fails on purpose: a sold-out record (out of stock),
cameras over the card limit (card declined), a country no carrier serves (shipment
failed). One in ten payments times out at its first capture and completes at the second
try (the payments service decides by the order id). A few orders placed while a service
is down are cancelled by their customer.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from services.catalog import PRODUCTS, SOLD_OUT
from services.payments.handlers import CARD_LIMIT_CENTS, capture_times_out_first
from services.shipping.handlers import CARRIERS

Kind = Literal["ok", "out_of_stock", "declined", "unshippable"]

#: What the report calls each outcome; the saga's failure text decides which it is.
OUTCOMES: dict[str, str] = {
    "ok": "completed",
    "out_of_stock": "out of stock",
    "declined": "card declined",
    "unshippable": "shipment failed",
    "cancelled": "cancelled by the customer",
}
_SHARE = {"out_of_stock": 0.05, "declined": 0.05, "unshippable": 0.05}
_CHEAP = ("BOOK-42", "MUG-7", "LAMP-3", "HEADPHONES-9")
_CITIES = {
    "DE": ("Berlin", "10115"),
    "AT": ("Wien", "1010"),
    "FR": ("Lyon", "69001"),
    "NL": ("Utrecht", "3511"),
    "BE": ("Gent", "9000"),
    "IT": ("Torino", "10121"),
    "IS": ("Reykjavik", "101"),
    "NO": ("Bergen", "5003"),
}
_UNSERVED = sorted(set(_CITIES) - set(CARRIERS))


@dataclass
class PlannedOrder:
    index: int
    order_id: uuid.UUID
    kind: Kind
    body: dict[str, Any]
    cancel: bool = False  # the customer will cancel it (chosen when the run kills a service)

    @property
    def expected(self) -> str:
        return OUTCOMES["cancelled" if self.cancel else self.kind]

    @property
    def capture_retried(self) -> bool:
        return self.kind == "ok" and not self.cancel and capture_times_out_first(self.order_id)


@dataclass
class Plan:
    seed: int
    orders: list[PlannedOrder] = field(default_factory=list)

    def mark_cancels(self, after: int, count: int) -> list[PlannedOrder]:
        """The first ``count`` plain orders placed after order ``after`` will be cancelled."""
        chosen = [o for o in self.orders[after + 1 :] if o.kind == "ok"][:count]
        for planned in chosen:
            planned.cancel = True
        return chosen


def make_plan(count: int, seed: int) -> Plan:
    rng = random.Random(seed)  # noqa: S311 (reproducible on purpose, not a secret)
    plan = Plan(seed)
    for index in range(count):
        order_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        draw = rng.random()
        kind: Kind = "ok"
        for name, share in _SHARE.items():
            if draw < share:
                kind = name  # type: ignore[assignment]
                break
            draw -= share
        plan.orders.append(PlannedOrder(index, order_id, kind, _body(rng, order_id, kind)))
    return plan


def _body(rng: random.Random, order_id: uuid.UUID, kind: Kind) -> dict[str, Any]:
    skus = rng.sample(_CHEAP, rng.randint(1, 3))
    lines = {sku: rng.randint(1, 2) for sku in skus}
    if kind == "out_of_stock":
        lines[rng.choice(SOLD_OUT)] = 1
    if kind == "declined":
        lines = {"CAMERA-X": 2}
    country = rng.choice(_UNSERVED if kind == "unshippable" else sorted(CARRIERS))
    city, postal_code = _CITIES[country]
    total = sum(q * PRODUCTS[sku].price_cents for sku, q in lines.items())
    body_lines = [
        {"sku": sku, "quantity": q, "unit_price_cents": PRODUCTS[sku].price_cents}
        for sku, q in lines.items()
    ]
    # Only the declined kind may go over the limit: one reason per failing order.
    assert (total > CARD_LIMIT_CENTS) == (kind == "declined"), (kind, total)
    return {
        "order_id": str(order_id),
        "customer_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "currency": "EUR",
        "lines": body_lines,
        "shipping_address": {
            "line1": f"{rng.randint(1, 200)} Sample Street",
            "city": city,
            "postal_code": postal_code,
            "country": country,
        },
    }
