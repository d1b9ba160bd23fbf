"""The inventory service: reserve every line of an order or none, release on compensation.

Run it as ``saga worker services.inventory --name inventory`` with ``SAGA_DATABASE_URL``
naming the ``shop_inventory`` database.
"""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from saga import Context, Participant
from services.common import log_effect
from services.contracts import (
    ReleaseStock,
    ReservedItem,
    ReserveStock,
    StockReservationFailed,
    StockReserved,
)
from services.inventory.tables import effect, reservation, reservation_line, stock

WAREHOUSE = "BER-1"
_IDS = uuid.UUID("6b1f3f0e-4a4e-4c55-9a43-1d7f2a9b8c01")  # reservation ids derive from events

inventory = Participant("inventory")


@inventory.handler
def reserve(request: ReserveStock, context: Context) -> StockReserved | StockReservationFailed:
    session = context.session
    wanted = Counter[str]()
    for line in request.lines:
        wanted[line.sku] += line.quantity
    skus = sorted(wanted)
    # Rows locked in SKU order: two reservations never wait for each other in a cycle.
    available = dict(
        session.execute(
            select(stock.c.sku, stock.c.available)
            .where(stock.c.sku.in_(skus))
            .order_by(stock.c.sku)
            .with_for_update()
        ).all()
    )
    short = [sku for sku in skus if available.get(sku, 0) < wanted[sku]]
    if short:
        log_effect(context, effect, "refuse", request.order_id)
        return StockReservationFailed(
            order_id=request.order_id, failed_at=context.now, unavailable_skus=short
        )
    reservation_id = uuid.uuid5(_IDS, context.event_id)  # the same on a redelivery
    session.execute(
        reservation.insert().values(
            reservation_id=reservation_id, order_id=request.order_id, status="held"
        )
    )
    for sku in skus:
        session.execute(
            update(stock)
            .where(stock.c.sku == sku)
            .values(
                available=stock.c.available - wanted[sku],
                reserved=stock.c.reserved + wanted[sku],
            )
        )
    session.execute(
        reservation_line.insert(),
        [{"reservation_id": reservation_id, "sku": s, "quantity": wanted[s]} for s in skus],
    )
    log_effect(context, effect, "reserve", request.order_id)
    return StockReserved(
        order_id=request.order_id,
        reservation_id=reservation_id,
        reserved_at=context.now,
        items=[ReservedItem(sku=s, quantity=wanted[s], warehouse=WAREHOUSE) for s in skus],
    )


@reserve.compensation
def release(request: ReleaseStock, context: Context) -> None:
    session = context.session
    released = session.execute(
        update(reservation)
        .where(
            reservation.c.reservation_id == request.reservation_id,
            reservation.c.status == "held",
        )
        .values(status="released", released_at=context.now)
    )
    if released.rowcount != 1:
        # Released twice or never made: a bug upstream. Raising dead-letters the request.
        raise LookupError(f"no held reservation {request.reservation_id}")
    lines = session.execute(
        select(reservation_line.c.sku, reservation_line.c.quantity)
        .where(reservation_line.c.reservation_id == request.reservation_id)
        .order_by(reservation_line.c.sku)
    ).all()
    for sku, quantity in lines:
        session.execute(
            update(stock)
            .where(stock.c.sku == sku)
            .values(available=stock.c.available + quantity, reserved=stock.c.reserved - quantity)
        )
    log_effect(context, effect, "release", request.order_id)


def receive(session: Session, quantities: dict[str, int]) -> None:
    """Goods in: add to the stock of each SKU (the demo's delivery to the warehouse)."""
    rows = [{"sku": s, "received": q, "available": q, "reserved": 0} for s, q in quantities.items()]
    statement = insert(stock).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["sku"],
            set_={
                "received": stock.c.received + statement.excluded.received,
                "available": stock.c.available + statement.excluded.available,
            },
        )
    )
