"""A small shop for the worker's process tests: the contract suite's order saga, services
that write their effects in the worker's transaction, and a saga with a one-second deadline.

    saga worker tests.integration.worker.app --name N --topic-prefix P

Effects go to the ``effect`` table (:data:`EFFECT_DDL`), which has no unique constraint: an
effect applied twice shows as two rows. Outcomes follow from the order itself: ``sku="none"``
is out of stock, an amount of 1,000,000 cents or more is declined, an order id ending in
``-fragile`` cannot be shipped, one ending in ``-poison`` makes the shipping handler raise
(a bug), one ending in ``-flaky`` too until a ``repaired`` effect names the order (the bug
fixed, for the operators' tests); everything else completes.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import text

from saga import Context, Event, Participant, Saga, Start, State, transition
from tests.sagas import avro
from tests.sagas.shop import (
    AuthorizePayment,
    CapturePayment,
    OrderSaga,
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

__all__ = ["OrderSaga", "TicketSaga", "inventory", "payments", "shipping"]

EFFECT_DDL = (
    "CREATE TABLE IF NOT EXISTS effect (seq bigserial PRIMARY KEY, kind text NOT NULL, "
    "order_id text NOT NULL, event_id uuid NOT NULL)"
)

inventory = Participant("inventory")
payments = Participant("payments")
shipping = Participant("shipping")


def effect(context: Context, kind: str, order_id: str) -> None:
    """The service's own write, in the transaction that claims the event in its inbox."""
    context.session.execute(
        text("INSERT INTO effect (kind, order_id, event_id) VALUES (:k, :o, :e)"),
        {"k": kind, "o": order_id, "e": context.event_id},
    )


def repaired(context: Context, order_id: str) -> bool:
    found = context.session.execute(
        text("SELECT 1 FROM effect WHERE kind = 'repaired' AND order_id = :o"), {"o": order_id}
    )
    return found.first() is not None


@inventory.handler
def reserve(request: ReserveStock, context: Context) -> StockReserved | OutOfStock:
    if request.sku == "none":
        return OutOfStock(order_id=request.order_id, sku=request.sku)
    effect(context, "reserve", request.order_id)
    return StockReserved(order_id=request.order_id, reservation_id=f"r-{request.order_id}")


@reserve.compensation
def release(request: ReleaseStock, context: Context) -> None:
    effect(context, "release", request.order_id)


@payments.handler
def authorize(request: AuthorizePayment, context: Context) -> PaymentAuthorized | PaymentDeclined:
    if request.amount_cents >= 1_000_000:
        return PaymentDeclined(order_id=request.order_id, reason="over the limit")
    effect(context, "authorize", request.order_id)
    return PaymentAuthorized(order_id=request.order_id, authorization_id=f"a-{request.order_id}")


@authorize.compensation
def void(request: VoidPayment, context: Context) -> None:
    effect(context, "void", request.order_id)


@payments.handler
def capture(request: CapturePayment, context: Context) -> PaymentCaptured:
    effect(context, "capture", request.order_id)
    return PaymentCaptured(order_id=request.order_id)


@shipping.handler
def ship(request: ShipOrder, context: Context) -> OrderShipped | ShipmentRefused:
    if request.order_id.endswith("-poison"):
        raise RuntimeError(f"cannot handle {request.order_id}")  # every time: a bug
    if request.order_id.endswith("-flaky") and not repaired(context, request.order_id):
        raise RuntimeError(f"cannot handle {request.order_id} yet")
    if request.order_id.endswith("-fragile"):
        return ShipmentRefused(order_id=request.order_id, reason="too fragile")
    effect(context, "ship", request.order_id)
    return OrderShipped(order_id=request.order_id, tracking=f"t-{request.order_id}")


# -- a saga with a short deadline ----------------------------------------------------------

_T = "test.tickets."


class TicketOpened(Event, schema=avro(_T + "TicketOpened", ticket_id="string")):
    ticket_id: str


class TicketAnswered(Event, schema=avro(_T + "TicketAnswered", ticket_id="string")):
    ticket_id: str


class Ticket(BaseModel):
    ticket_id: str


class TicketSaga(Saga[Ticket], name="test.TicketSaga", correlation="ticket_id"):
    """Waits a second for an answer; the deadline closes it as expired."""

    start = Start(TicketOpened, to="waiting")
    waiting = State(timeout=timedelta(seconds=1), on_timeout="expired")
    answered = State(final="completed")
    expired = State(final="failed")
    answer = transition(waiting, on=TicketAnswered, to=answered)
