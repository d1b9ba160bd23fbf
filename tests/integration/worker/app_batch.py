"""The worker's test shop (:mod:`tests.integration.worker.app`) with batch handlers:

    saga worker tests.integration.worker.app_batch --name N --topic-prefix P

The same saga, the same participants' names and rules, the same ``effect`` rows; each
batch handler writes its batch's effects with one statement and notes the call's size in
``batch_call`` (:data:`BATCH_CALL_DDL`). ``void`` stays a single handler (a batch
handler's compensation may be one). After a batch's writes, before the worker commits, the
handler passes the crash point ``app.batch_written`` (``SAGA_CRASH_AT``), so that a test
can kill the worker there. ``ship`` logs how many requests it had when one was poisoned.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import text

from saga import BatchContext, Context, Participant
from saga._crashpoints import crash_point
from tests.integration.worker.app import OrderSaga, effect, repaired
from tests.sagas.shop import (
    AuthorizePayment,
    CapturePayment,
    OrderShipped,
    OutOfStock,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    ReleaseStock,
    ReserveStock,
    ShipmentRefused,
    ShipOrder,
    StockReserved,
    VoidPayment,
)

__all__ = ["OrderSaga", "inventory", "payments", "shipping"]

BATCH_CALL_DDL = (
    "CREATE TABLE IF NOT EXISTS batch_call (seq bigserial PRIMARY KEY, handler text NOT NULL, "
    "size int NOT NULL)"
)

log = logging.getLogger(__name__)

inventory = Participant("inventory")
payments = Participant("payments")
shipping = Participant("shipping")


def effects(context: BatchContext, kind: str, done: Sequence[tuple[int, str]]) -> None:
    """The effects of a batch (request index, order id) in one statement, and the call."""
    session = context.session
    session.execute(
        text(
            "INSERT INTO effect (kind, order_id, event_id) "
            "SELECT :kind, o, e FROM unnest(CAST(:orders AS text[]), CAST(:events AS uuid[])) "
            "AS t(o, e)"
        ),
        {
            "kind": kind,
            "orders": [order_id for _, order_id in done],
            "events": [context.per_request[i].event_id for i, _ in done],
        },
    )
    session.execute(
        text("INSERT INTO batch_call (handler, size) VALUES (:h, :n)"),
        {"h": kind, "n": len(context.per_request)},
    )
    crash_point("app.batch_written")


@inventory.batch_handler
def reserve(
    requests: list[ReserveStock], context: BatchContext
) -> list[StockReserved | OutOfStock]:
    effects(
        context, "reserve", [(i, r.order_id) for i, r in enumerate(requests) if r.sku != "none"]
    )
    return [
        OutOfStock(order_id=r.order_id, sku=r.sku)
        if r.sku == "none"
        else StockReserved(order_id=r.order_id, reservation_id=f"r-{r.order_id}")
        for r in requests
    ]


@reserve.batch_compensation
def release(requests: list[ReleaseStock], context: BatchContext) -> None:
    effects(context, "release", [(i, r.order_id) for i, r in enumerate(requests)])


@payments.batch_handler
def authorize(
    requests: list[AuthorizePayment], context: BatchContext
) -> list[PaymentAuthorized | PaymentDeclined]:
    limit = 1_000_000
    effects(
        context,
        "authorize",
        [(i, r.order_id) for i, r in enumerate(requests) if r.amount_cents < limit],
    )
    return [
        PaymentDeclined(order_id=r.order_id, reason="over the limit")
        if r.amount_cents >= limit
        else PaymentAuthorized(order_id=r.order_id, authorization_id=f"a-{r.order_id}")
        for r in requests
    ]


@authorize.compensation
def void(request: VoidPayment, context: Context) -> None:
    effect(context, "void", request.order_id)


@payments.batch_handler
def capture(requests: list[CapturePayment], context: BatchContext) -> list[PaymentCaptured]:
    effects(context, "capture", [(i, r.order_id) for i, r in enumerate(requests)])
    return [PaymentCaptured(order_id=r.order_id) for r in requests]


@shipping.batch_handler
def ship(requests: list[ShipOrder], context: BatchContext) -> list[OrderShipped | ShipmentRefused]:
    for request, one in zip(requests, context.per_request, strict=True):
        if request.order_id.endswith("-poison"):
            log.warning("ship: %d requests, %s among them", len(requests), request.order_id)
            raise RuntimeError(f"cannot handle {request.order_id}")  # every time: a bug
        if request.order_id.endswith("-flaky") and not repaired(one, request.order_id):
            raise RuntimeError(f"cannot handle {request.order_id} yet")
    shipped = [
        (i, r.order_id) for i, r in enumerate(requests) if not r.order_id.endswith("-fragile")
    ]
    effects(context, "ship", shipped)
    return [
        ShipmentRefused(order_id=r.order_id, reason="too fragile")
        if r.order_id.endswith("-fragile")
        else OrderShipped(order_id=r.order_id, tracking=f"t-{r.order_id}")
        for r in requests
    ]
