"""The shop's inventory and payments are batch handlers with set-based SQL: a batch of
requests in one unit of work leaves exactly the rows and emits exactly the events that the
same requests leave one per unit of work (the way single handlers applied them: a later
order sees the stock an earlier one took), with a few statements per batch whatever its size.

The scenario mixes what the rules distinguish: orders competing for scarce stock, a SKU on
two lines, an unknown SKU, releases whose stock goes to later orders; declines over the
card limit, first captures that time out and are asked again, voids before and after the
capture (refunds).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from saga.contracts.serde import Serializer
from saga.definition.participant import Participant
from saga.engine.messages import Message, derived_id
from saga.engine.processing import handle_inputs
from saga.postgres.connect import engine_for
from saga.postgres.store import PgStore
from saga.postgres.tables import upgrade_database
from saga.settings import Settings
from services.common import upgrade
from services.contracts import (
    AuthorizePayment,
    CapturePayment,
    ReleaseStock,
    ReservationLine,
    ReserveStock,
    VoidPayment,
)
from services.inventory.handlers import inventory, receive
from services.payments.handlers import payments

pytestmark = pytest.mark.integration

_NS = uuid.UUID("1f0c8e52-7d1a-4a5e-9b0e-3c2d4e5f6a7b")
SKUS = ["A", "B", "C", "D", "E"]
STOCK = {"A": 30, "B": 10, "C": 1000, "D": 0, "E": 5}


@pytest.fixture
def databases(database_url: str) -> Iterator[Callable[[], str]]:
    """Makes fresh databases on demand (each service owns one), dropped afterwards."""
    url = make_url(database_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    made: list[str] = []

    def fresh() -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        made.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield fresh
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in made:
            conn.execute(f'drop database if exists "{name}" with (force)')


def order(i: int) -> uuid.UUID:
    return uuid.uuid5(_NS, f"order-{i}")


def request(event: Any, name: str) -> Message:
    return Message.new(
        event,
        event_id=derived_id("shop-batches", name),
        correlation_id=str(event.order_id),
        producer="test",
    )


def plain(value: Any) -> Any:
    """Rows and payloads without their times (the clock moves between units of work)."""
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value) if isinstance(value, uuid.UUID) else value


@dataclass
class Service:
    """A participant on its own database, fed phase by phase."""

    engine: Engine
    participant: Participant
    batched: bool
    emitted: list[Message] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)  # per unit of work, the handlers'
    _count: int = 0

    def __post_init__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._counted)
        self.store = PgStore(sessionmaker(self.engine), serializer=Serializer(Settings()))

    def _counted(self, *_: Any) -> None:
        self._count += 1

    def feed(self, inputs: list[Message]) -> list[Message]:
        """The inputs in one unit of work (batched) or one each; what they emitted."""
        emitted: list[Message] = []
        for group in [inputs] if self.batched else [[m] for m in inputs]:
            with self.store.unit_of_work() as uow:
                now = uow.now()
                before = self._count  # the handlers' statements (the framework's are apart)
                handled = handle_inputs(uow, self.participant, group, now)
                self.statements.append(self._count - before)
            emitted += [m for h in handled for m in h.emitted]
        self.emitted += emitted
        return emitted

    def rows(self, sql: str) -> list[Any]:
        with self.engine.connect() as conn:
            return [plain(list(r)) for r in conn.execute(text(sql)).all()]


def service(url: str, name: str, participant: Participant, batched: bool) -> Service:
    upgrade_database(url)
    upgrade(name, url)
    return Service(engine_for(url), participant, batched)


def answered(emitted: list[Message], event_type: str) -> list[Any]:
    return [m.event for m in emitted if m.event_type == event_type]


def run_inventory(shop: Service) -> dict[str, Any]:
    with shop.store.sessions() as session, session.begin():
        receive(session, STOCK)
    reserves = []
    for i in range(50):
        lines = [
            ReservationLine(sku=SKUS[(i + k) % 5], quantity=1 + (i * k) % 4)
            for k in range(1 + i % 3)
        ]
        if i % 7 == 0:
            lines.append(ReservationLine(sku=lines[0].sku, quantity=2))  # a SKU on two lines
        if i == 13:
            lines = [ReservationLine(sku="NOPE", quantity=1)]  # no such SKU
        reserves.append(request(ReserveStock(order_id=order(i), lines=lines), f"reserve-{i}"))
    reserved = answered(shop.feed(reserves), "shop.inventory.StockReserved")
    shop.feed(
        [
            request(ReleaseStock(order_id=r.order_id, reservation_id=r.reservation_id), f"rel{n}")
            for n, r in enumerate(reserved)
            if n % 2 == 0
        ]
    )
    later = [ReservationLine(sku="B", quantity=3), ReservationLine(sku="E", quantity=1)]
    shop.feed(
        [
            request(ReserveStock(order_id=order(100 + i), lines=later), f"reserve-later-{i}")
            for i in range(10)
        ]
    )
    return {
        "stock": shop.rows("SELECT sku, received, available, reserved FROM stock ORDER BY 1"),
        "reservation": shop.rows(
            "SELECT reservation_id, order_id, status, released_at IS NULL FROM reservation "
            "ORDER BY 1"
        ),
        "lines": shop.rows("SELECT * FROM reservation_line ORDER BY 1, 2"),
        "effect": shop.rows("SELECT event_id, kind, order_id FROM effect ORDER BY 1, 2"),
    }


def run_payments(shop: Service) -> dict[str, Any]:
    authorizations = [
        AuthorizePayment(
            order_id=order(i),
            customer_id=uuid.uuid5(_NS, f"customer-{i % 7}"),
            amount_cents=(i * 7919) % 60_000 + 100,  # some over the card limit
            currency="EUR",
        )
        for i in range(50)
    ]
    emitted = shop.feed([request(a, f"authorize-{a.order_id}") for a in authorizations])
    authorized = answered(emitted, "shop.payments.PaymentAuthorized")
    captures = [
        CapturePayment(order_id=a.order_id, payment_id=a.payment_id)
        for n, a in enumerate(authorized)
        if n % 3 != 0
    ]
    emitted = shop.feed([request(c, f"capture-{c.order_id}") for c in captures])
    failed = answered(emitted, "shop.payments.CaptureFailed")
    assert failed, "the scenario has first captures that time out"
    shop.feed(
        [
            request(CapturePayment(order_id=f.order_id, payment_id=f.payment_id), f"again{n}")
            for n, f in enumerate(failed)
        ]
    )
    shop.feed(
        [
            request(VoidPayment(order_id=a.order_id, payment_id=a.payment_id), f"void-{n}")
            for n, a in enumerate(authorized)
            if n % 4 == 1 or n % 3 == 0  # some captured (a refund), some only authorized
        ]
    )
    return {
        "payment": shop.rows(
            "SELECT payment_id, order_id, customer_id, amount_cents, currency, status, "
            "capture_attempts FROM payment ORDER BY 1"
        ),
        "decline": shop.rows("SELECT order_id, amount_cents, reason FROM decline ORDER BY 1"),
        "ledger": shop.rows("SELECT payment_id, kind, amount_cents FROM ledger ORDER BY 1, 2"),
        "effect": shop.rows("SELECT event_id, kind, order_id FROM effect ORDER BY 1, 2"),
    }


def wire(emitted: list[Message]) -> list[Any]:
    return [
        (m.event_id, m.event_type, m.correlation_id, m.causation_id, plain(m.event.model_dump()))
        for m in emitted
    ]


def test_the_shop_does_in_batches_what_it_does_one_request_at_a_time(
    databases: Callable[[], str],
) -> None:
    runs = {}
    for batched in (False, True):
        stock = service(databases(), "inventory", inventory, batched)
        money = service(databases(), "payments", payments, batched)
        runs[batched] = (stock, money, run_inventory(stock), run_payments(money))
        stock.engine.dispose()
        money.engine.dispose()
    one, batch = runs[False], runs[True]
    assert batch[2] == one[2]  # inventory: stock, reservations, lines, effects
    assert batch[3] == one[3]  # payments: payments, declines, ledger, effects
    assert wire(batch[0].emitted + batch[1].emitted) == wire(one[0].emitted + one[1].emitted)

    stock_rows = batch[2]["stock"]
    assert all(a + r == received and a >= 0 for _, received, a, r in stock_rows)
    assert {row[0]: row[3] for row in stock_rows}["B"] == 10  # scarce: every unit went out
    kinds = {row[1] for row in batch[3]["effect"]}
    assert kinds == {"authorize", "decline", "capture", "capture-failed", "void", "refund"}
    # A handful of statements per batch, whatever its size (they were 3 to 6 per request).
    assert max(batch[0].statements) <= 5, batch[0].statements
    assert max(batch[1].statements) <= 4, batch[1].statements


def test_two_inventory_processes_reserving_hot_stock_in_batches_never_deadlock(
    databases: Callable[[], str],
) -> None:
    url = databases()
    upgrade_database(url)
    upgrade("inventory", url)
    engine = engine_for(url)
    store = PgStore(sessionmaker(engine), serializer=Serializer(Settings()))
    with store.sessions() as session, session.begin():
        receive(session, dict.fromkeys(SKUS, 1_000_000))
    errors: list[BaseException] = []

    def reserve(worker: int) -> None:
        shuffled = random.Random(worker)  # a reproducible shuffle per worker
        try:
            for batch in range(20):
                requests = []
                for i in range(20):
                    skus = shuffled.sample(SKUS, 3)  # each order names its SKUs in any order
                    lines = [ReservationLine(sku=s, quantity=1) for s in skus]
                    order_id = uuid.uuid5(_NS, f"hot-{worker}-{batch}-{i}")
                    requests.append(
                        request(ReserveStock(order_id=order_id, lines=lines), str(order_id))
                    )
                with store.unit_of_work() as uow:
                    handle_inputs(uow, inventory, requests, uow.now())
        except Exception as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=reserve, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    engine.dispose()
    assert not any(t.is_alive() for t in threads)
    assert errors == []  # a deadlock would be psycopg.errors.DeadlockDetected here
