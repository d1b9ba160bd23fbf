"""The shop's order saga on the in-memory harness, with stand-ins for the three services
(their real handlers write to their databases: the short demo runs those). Milliseconds
per test, virtual time for the deadlines."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from saga import Participant
from saga.testing import Harness
from services.contracts import (
    Address,
    AuthorizePayment,
    CaptureFailed,
    CapturePayment,
    OrderApproved,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentDeclined,
    ReleaseStock,
    ReserveStock,
    ShipmentFailed,
    ShipmentScheduled,
    ShipOrder,
    StockReservationFailed,
    StockReserved,
    VoidPayment,
)
from services.orders import OrderSaga

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def placed(*, sku: str = "BOOK-42", country: str = "DE") -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        placed_at=NOW,
        currency="EUR",
        total_cents=1_980,
        lines=[OrderLine(sku=sku, quantity=2, unit_price_cents=990)],
        shipping_address=Address(
            line1="1 Sample St", city="Berlin", postal_code="1", country=country
        ),
    )


class StandIns:
    """What the three services answer, and what they were asked to undo."""

    def __init__(self, *, capture_failures: int = 0) -> None:
        self.capture_failures = capture_failures
        self.undone: list[str] = []

    def participants(self) -> list[Participant]:
        inventory, payments, shipping = (
            Participant(n) for n in ("inventory", "payments", "shipping")
        )

        @inventory.handler
        def reserve(request: ReserveStock) -> StockReserved | StockReservationFailed:
            if any(line.sku == "SOLD-OUT" for line in request.lines):
                return StockReservationFailed(
                    order_id=request.order_id, failed_at=NOW, unavailable_skus=["SOLD-OUT"]
                )
            return StockReserved(
                order_id=request.order_id, reservation_id=uuid.uuid4(), reserved_at=NOW, items=[]
            )

        @reserve.compensation
        def release(request: ReleaseStock) -> None:
            self.undone.append("release")

        @payments.handler
        def authorize(request: AuthorizePayment) -> PaymentAuthorized | PaymentDeclined:
            return PaymentAuthorized(
                order_id=request.order_id,
                payment_id=uuid.uuid4(),
                authorized_at=NOW,
                amount_cents=request.amount_cents,
                currency=request.currency,
            )

        @authorize.compensation
        def void(request: VoidPayment) -> None:
            self.undone.append("void")

        @payments.handler
        def capture(request: CapturePayment) -> PaymentCaptured | CaptureFailed:
            if self.capture_failures:
                self.capture_failures -= 1
                return CaptureFailed(
                    order_id=request.order_id,
                    payment_id=request.payment_id,
                    failed_at=NOW,
                    reason="timeout",
                )
            return PaymentCaptured(
                order_id=request.order_id,
                payment_id=request.payment_id,
                captured_at=NOW,
                amount_cents=1_980,
                currency="EUR",
            )

        @shipping.handler
        def ship(request: ShipOrder) -> ShipmentScheduled | ShipmentFailed:
            if request.address.country == "IS":
                return ShipmentFailed(order_id=request.order_id, failed_at=NOW, reason="no carrier")
            return ShipmentScheduled(
                order_id=request.order_id,
                shipment_id=uuid.uuid4(),
                scheduled_at=NOW,
                carrier="DHL",
                estimated_delivery=date(2030, 1, 2),
            )

        return [inventory, payments, shipping]


def run(order: OrderPlaced, services: StandIns | None = None) -> tuple[Harness, StandIns]:
    services = services or StandIns()
    harness = Harness([OrderSaga], services.participants(), start=NOW)
    harness.publish(order)
    harness.drain()
    return harness, services


def test_an_order_completes_and_the_saga_announces_it() -> None:
    order = placed()
    harness, services = run(order, StandIns(capture_failures=2))
    assert harness.state(OrderSaga, str(order.order_id)) == "completed"
    [approved] = harness.published(OrderApproved)
    assert approved.event.order_id == order.order_id
    assert len(harness.published(CapturePayment)) == 3  # retried twice, then captured
    assert services.undone == []
    assert harness.published(OrderCancelled) == []


@pytest.mark.parametrize(
    ("order", "undone", "released", "voided"),
    [
        (placed(sku="SOLD-OUT"), ["void"], False, True),
        (placed(country="IS"), ["void", "release"], True, True),
    ],
    ids=["out of stock", "no carrier"],
)
def test_a_failure_undoes_the_steps_newest_first_then_announces_the_cancel(
    order: OrderPlaced, undone: list[str], released: bool, voided: bool
) -> None:
    harness, services = run(order)
    assert harness.state(OrderSaga, str(order.order_id)) == "cancelled"
    assert sorted(services.undone) == sorted(undone)
    [cancelled] = harness.published(OrderCancelled)
    assert (cancelled.event.stock_released, cancelled.event.payment_voided) == (released, voided)
    assert harness.published(OrderApproved) == []


def test_the_customer_cancels_while_the_stock_answer_is_late() -> None:
    services = StandIns()
    harness = Harness([OrderSaga], services.participants(), start=NOW)
    harness.hold(StockReserved)  # the inventory is slow today
    order = placed()
    harness.publish(order)
    harness.drain()
    assert harness.signal(OrderSaga, str(order.order_id), "cancel")
    harness.drain()
    assert harness.state(OrderSaga, str(order.order_id)) == "compensating"
    harness.release()
    harness.drain()
    assert harness.state(OrderSaga, str(order.order_id)) == "cancelled"
    assert services.undone == ["void", "release"]
    assert len(harness.published(OrderCancelled)) == 1


def test_checking_out_has_two_minutes_then_everything_is_undone() -> None:
    services = StandIns()
    harness = Harness([OrderSaga], services.participants(), start=NOW)
    harness.hold(PaymentAuthorized, PaymentDeclined)  # the payment provider is away
    order = placed()
    harness.publish(order)
    harness.drain()
    harness.advance(timedelta(minutes=2))
    assert harness.state(OrderSaga, str(order.order_id)) == "compensating"
    assert services.undone == ["release"]
    assert not harness.signal(OrderSaga, str(order.order_id), "cancel")  # too late now


def test_a_carrier_that_never_answers_leaves_the_order_for_a_person() -> None:
    harness = Harness([OrderSaga], StandIns().participants(), start=NOW)
    harness.hold(ShipmentScheduled, ShipmentFailed)
    order = placed()
    harness.publish(order)
    harness.drain()
    harness.advance(timedelta(minutes=10))
    assert harness.state(OrderSaga, str(order.order_id)) == "needs_attention"
    assert harness.published(OrderCancelled) == []  # after the pivot nothing is undone
