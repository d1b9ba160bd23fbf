"""The order saga: reserve stock and authorize the payment at once, ship (the point of no
return), capture the payment (retried); undo in reverse when something fails.

::

    saga diagram services.orders.saga:OrderSaga

Hosted by the orders service's worker (``saga worker services.orders --name orders``) in
the ``shop_orders`` database. Each request goes to the service that owns the step, on
that service's requests topic (``shop.payments.requests``: its contract is marked
``"role": "request"``); answers come back on the service's own topic (``shop.payments``),
so neither side reads back what it sent. The saga's end is announced by
``OrderApproved`` or ``OrderCancelled``, which the orders service applies to the order row
(:mod:`services.orders.handlers`): the saga never writes the service's tables itself, so
it could move to a process of its own without a change.

Deadlines: two minutes to check out (then everything is undone), ten minutes for the
carrier and for the capture (then the order waits for a person in ``needs_attention``:
after shipping, nothing is undone). The customer may cancel while the order is checking out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel

from saga import COMPENSATE, Saga, Signal, Start, State, Step, transition
from services.contracts import (
    Address,
    AuthorizePayment,
    CaptureFailed,
    CapturePayment,
    DeliveryAddress,
    OrderApproved,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    ReleaseStock,
    ReservationLine,
    ReserveStock,
    ShipmentFailed,
    ShipmentItem,
    ShipmentScheduled,
    ShipOrder,
    StockReservationFailed,
    StockReserved,
    VoidPayment,
)


class Order(BaseModel):
    """The saga's data: the order as placed, and what each step gave back."""

    order_id: UUID
    customer_id: UUID
    currency: str
    total_cents: int
    lines: list[OrderLine]
    shipping_address: Address
    reservation_id: UUID | None = None  # from StockReserved
    payment_id: UUID | None = None  # from PaymentAuthorized
    shipment_id: UUID | None = None  # from ShipmentScheduled
    captured_at: datetime | None = None  # from PaymentCaptured


def reservation_of(order: Order) -> ReserveStock:
    lines = [ReservationLine(sku=line.sku, quantity=line.quantity) for line in order.lines]
    return ReserveStock(order_id=order.order_id, lines=lines)


def release_of(order: Order) -> ReleaseStock:
    assert order.reservation_id is not None  # compensated only after StockReserved
    return ReleaseStock(order_id=order.order_id, reservation_id=order.reservation_id)


def authorization_of(order: Order) -> AuthorizePayment:
    return AuthorizePayment(
        order_id=order.order_id,
        customer_id=order.customer_id,
        amount_cents=order.total_cents,
        currency=order.currency,
    )


def void_of(order: Order) -> VoidPayment:
    assert order.payment_id is not None  # compensated only after PaymentAuthorized
    return VoidPayment(order_id=order.order_id, payment_id=order.payment_id)


def shipment_of(order: Order) -> ShipOrder:
    address = order.shipping_address
    return ShipOrder(
        order_id=order.order_id,
        items=[ShipmentItem(sku=line.sku, quantity=line.quantity) for line in order.lines],
        address=DeliveryAddress(
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            postal_code=address.postal_code,
            country=address.country,
        ),
    )


def capture_of(order: Order) -> CapturePayment:
    assert order.payment_id is not None  # captured only after the payment was authorized
    return CapturePayment(order_id=order.order_id, payment_id=order.payment_id)


def approval_of(order: Order) -> OrderApproved:
    assert order.captured_at is not None, "completed only after PaymentCaptured"
    assert order.payment_id is not None
    assert order.shipment_id is not None
    return OrderApproved(
        order_id=order.order_id,
        approved_at=order.captured_at,
        payment_id=order.payment_id,
        shipment_id=order.shipment_id,
    )


def cancellation_of(order: Order) -> OrderCancelled:
    return OrderCancelled(
        order_id=order.order_id,
        stock_released=order.reservation_id is not None,
        payment_voided=order.payment_id is not None,
    )


class OrderSaga(Saga[Order], name="shop.OrderSaga", correlation="order_id"):
    """Check out (stock and payment at once), ship, capture; undo on failure."""

    reserve_stock = Step(
        reservation_of,
        success=StockReserved,
        failure=StockReservationFailed,
        compensation=release_of,
    )
    authorize_payment = Step(
        authorization_of, success=PaymentAuthorized, failure=PaymentDeclined, compensation=void_of
    )
    ship = Step(shipment_of, success=ShipmentScheduled, failure=ShipmentFailed, kind="pivot")
    capture = Step(
        capture_of, success=PaymentCaptured, failure=CaptureFailed, kind="retriable", attempts=3
    )
    cancel = Signal("the customer cancels the order before it ships")

    start = Start(OrderPlaced, to="checking_out")
    checking_out = State(
        run=(reserve_stock, authorize_payment), then="shipping", timeout=timedelta(minutes=2)
    )
    shipping = State(
        run=ship, then="capturing", timeout=timedelta(minutes=10), on_timeout="needs_attention"
    )
    capturing = State(
        run=capture, then="completed", timeout=timedelta(minutes=10), on_timeout="needs_attention"
    )
    completed = State(final="completed", emit=approval_of)
    cancelled = State(final="compensated", emit=cancellation_of)
    needs_attention = State(final="failed")

    cancelled_by_customer = transition(checking_out, on=cancel, to=COMPENSATE)
