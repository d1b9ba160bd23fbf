"""Version 2 of the test app's order saga, hosted beside version 1 during a rolling upgrade.

Version 2 no longer captures the payment after shipping (the payment service does it on
its own now): it completes once shipped.
"""

from __future__ import annotations

from datetime import timedelta

from saga import Saga, Start, State, Step
from tests.integration.worker.app import inventory, payments
from tests.sagas.shop import (
    AuthorizePayment,
    Order,
    OrderPlaced,
    OrderSaga,
    OrderShipped,
    OutOfStock,
    PaymentAuthorized,
    PaymentDeclined,
    ReleaseStock,
    ReserveStock,
    ShipmentRefused,
    ShipOrder,
    StockReserved,
    VoidPayment,
)

__all__ = ["OrderSaga", "OrderSagaV2", "inventory", "payments"]


class OrderSagaV2(Saga[Order], name="test.OrderSaga", version=2, correlation="order_id"):
    reserve_stock = Step(
        ReserveStock, success=StockReserved, failure=OutOfStock, compensation=ReleaseStock
    )
    authorize_payment = Step(
        AuthorizePayment,
        success=PaymentAuthorized,
        failure=PaymentDeclined,
        compensation=VoidPayment,
    )
    ship = Step(ShipOrder, success=OrderShipped, failure=ShipmentRefused, kind="pivot")

    start = Start(OrderPlaced, to="checking_out")
    checking_out = State(
        run=(reserve_stock, authorize_payment), then="shipping", timeout=timedelta(minutes=15)
    )
    shipping = State(run=ship, then="completed")
    completed = State(final="completed")
