"""The inventory service: reserve every line of an order or none, release on compensation.

Run it as ``saga worker services.inventory --name inventory`` with ``SAGA_DATABASE_URL``
naming the ``shop_inventory`` database. Both handlers take a poll batch's requests at once
and write them with one statement per table; the stock rows a batch touches are locked
first, in one statement in SKU order, so that two processes never wait for each other in a
cycle over one batch.
"""

from __future__ import annotations

import uuid
from collections import Counter
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from saga import BatchContext, Participant
from services.common import log_effects
from services.contracts import (
    ReleaseStock,
    ReservedItem,
    ReserveStock,
    StockReservationFailed,
    StockReserved,
)
from services.inventory.tables import effect, stock

WAREHOUSE = "BER-1"
_IDS = uuid.UUID("6b1f3f0e-4a4e-4c55-9a43-1d7f2a9b8c01")  # reservation ids derive from events

inventory = Participant("inventory")

# Stock rows are locked in SKU order, all of a batch's in one statement, so that two
# processes never wait for each other in a cycle.
_LOCK_STOCK = """
    SELECT sku, available FROM stock WHERE sku = ANY(CAST(:skus AS text[]))
    ORDER BY sku FOR UPDATE
"""
_MOVE_STOCK = """
    UPDATE stock SET available = stock.available - t.quantity,
                     reserved = stock.reserved + t.quantity
    FROM unnest(CAST(:skus AS text[]), CAST(:quantities AS int[])) AS t(sku, quantity)
    WHERE stock.sku = t.sku
"""
_HOLD = """
    INSERT INTO reservation (reservation_id, order_id, status)
    SELECT r, o, 'held' FROM unnest(CAST(:reservations AS uuid[]), CAST(:orders AS uuid[]))
        AS t(r, o)
"""
_LINES = """
    INSERT INTO reservation_line (reservation_id, sku, quantity)
    SELECT * FROM unnest(CAST(:reservations AS uuid[]), CAST(:skus AS text[]),
                         CAST(:quantities AS int[]))
"""
_RELEASE = """
    UPDATE reservation SET status = 'released', released_at = :now
    WHERE reservation_id = ANY(CAST(:reservations AS uuid[])) AND status = 'held'
    RETURNING reservation_id
"""
_GIVE_BACK = """
    UPDATE stock SET available = stock.available + t.quantity,
                     reserved = stock.reserved - t.quantity
    FROM unnest(CAST(:skus AS text[]), CAST(:quantities AS int[])) AS t(sku, quantity)
    WHERE stock.sku = t.sku
"""
_RELEASED_LINES = """
    SELECT sku, sum(quantity)::int FROM reservation_line
    WHERE reservation_id = ANY(CAST(:reservations AS uuid[])) GROUP BY sku
"""


@inventory.batch_handler
def reserve(
    requests: list[ReserveStock], context: BatchContext
) -> list[StockReserved | StockReservationFailed]:
    """Every line of an order or none, each order in turn: a later order sees the stock an
    earlier one in the batch took."""
    session = context.session
    wanted = [_wanted(r) for r in requests]
    skus = sorted({sku for lines in wanted for sku in lines})
    available = dict(session.execute(text(_LOCK_STOCK), {"skus": skus}).all())
    results: list[StockReserved | StockReservationFailed] = []
    effects: list[tuple[int, str, UUID]] = []
    held: list[tuple[UUID, UUID, Counter[str]]] = []  # reservation, order, lines
    for index, (request, lines) in enumerate(zip(requests, wanted, strict=True)):
        ordered = sorted(lines)
        short = [sku for sku in ordered if available.get(sku, 0) < lines[sku]]
        if short:
            effects.append((index, "refuse", request.order_id))
            results.append(
                StockReservationFailed(
                    order_id=request.order_id, failed_at=context.now, unavailable_skus=short
                )
            )
            continue
        for sku in ordered:
            available[sku] -= lines[sku]
        # The same on a redelivery.
        reservation_id = uuid.uuid5(_IDS, context.per_request[index].event_id)
        held.append((reservation_id, request.order_id, lines))
        effects.append((index, "reserve", request.order_id))
        results.append(
            StockReserved(
                order_id=request.order_id,
                reservation_id=reservation_id,
                reserved_at=context.now,
                items=[
                    ReservedItem(sku=s, quantity=lines[s], warehouse=WAREHOUSE) for s in ordered
                ],
            )
        )
    if held:
        _hold(session, held)
    log_effects(context, effect, effects)
    return results


@reserve.batch_compensation
def release(requests: list[ReleaseStock], context: BatchContext) -> None:
    """Give each reservation's stock back; one not held (released twice, never made) is a
    bug upstream: raising dead-letters its request."""
    session = context.session
    ids = [r.reservation_id for r in requests]
    released = session.execute(text(_RELEASE), {"reservations": ids, "now": context.now})
    done = {row[0] for row in released}
    missing = [i for i in ids if i not in done]
    if missing:
        raise LookupError(f"no held reservation {missing[0]}")
    if len(done) != len(ids):  # two requests for one reservation: alone, the second fails
        raise LookupError("a reservation released twice in one batch")
    lines = dict(session.execute(text(_RELEASED_LINES), {"reservations": ids}).all())
    skus = sorted(lines)
    session.execute(text(_LOCK_STOCK), {"skus": skus})
    session.execute(text(_GIVE_BACK), {"skus": skus, "quantities": [lines[s] for s in skus]})
    log_effects(context, effect, [(i, "release", r.order_id) for i, r in enumerate(requests)])


def _wanted(request: ReserveStock) -> Counter[str]:
    """Quantities by SKU (an order may name a SKU on several lines)."""
    wanted = Counter[str]()
    for line in request.lines:
        wanted[line.sku] += line.quantity
    return wanted


def _hold(session: Session, held: list[tuple[UUID, UUID, Counter[str]]]) -> None:
    """Write the reservations, their lines and the stock they take: a statement each."""
    session.execute(
        text(_HOLD),
        {"reservations": [r for r, _, _ in held], "orders": [o for _, o, _ in held]},
    )
    taken = Counter[str]()
    for _, _, lines in held:
        taken.update(lines)
    skus = sorted(taken)
    session.execute(text(_MOVE_STOCK), {"skus": skus, "quantities": [taken[s] for s in skus]})
    rows = [(r, sku, lines[sku]) for r, _, lines in held for sku in sorted(lines)]
    session.execute(
        text(_LINES),
        {
            "reservations": [r for r, _, _ in rows],
            "skus": [s for _, s, _ in rows],
            "quantities": [q for _, _, q in rows],
        },
    )


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
