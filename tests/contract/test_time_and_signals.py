"""Deadlines fire through the engine as inputs; signals are accepted only where declared."""

from __future__ import annotations

from datetime import timedelta

from tests.contract.runtime import RuntimeFactory
from tests.sagas import shop as s
from tests.sagas.shop import OrderSaga, Shop, placed


def test_the_checkout_deadline_compensates_what_succeeded(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-1"))
    rt.publish(s.StockReserved(order_id="o-1", reservation_id="r"))
    rt.drain()
    rt.advance(timedelta(minutes=14))
    assert rt.instance(OrderSaga, "o-1").state == "checking_out"

    rt.advance(timedelta(minutes=1))
    instance = rt.instance(OrderSaga, "o-1")
    assert instance.state == "compensating"  # the payment answer is still awaited
    assert len(rt.published(s.ReleaseStock)) == 1
    assert rt.history(OrderSaga, "o-1")[-1].trigger == "deadline:checking_out"

    rt.publish(s.PaymentAuthorized(order_id="o-1", authorization_id="a"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-1").status == "compensated"
    assert len(rt.published(s.VoidPayment)) == 1


def test_a_compensating_saga_parks_when_a_step_never_answers(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-2"))
    rt.advance(timedelta(minutes=15))
    assert rt.instance(OrderSaga, "o-2").state == "compensating"
    rt.advance(timedelta(hours=1))
    instance = rt.instance(OrderSaga, "o-2")
    assert (instance.state, instance.status) == ("failed", "failed")
    assert instance.parked_reason is not None
    assert "reserve_stock" in instance.parked_reason
    assert "authorize_payment" in instance.parked_reason


def test_leaving_a_state_cancels_its_deadline(runtime: RuntimeFactory) -> None:
    shop = Shop()
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-3"))
    rt.drain()
    rt.advance(timedelta(days=1))
    assert rt.instance(OrderSaga, "o-3").status == "completed"
    assert all(not e.trigger.startswith("deadline") for e in rt.history(OrderSaga, "o-3"))
    assert rt.instance(OrderSaga, "o-3").deadline is None


def test_a_cancel_signal_in_checkout_compensates(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-4"))
    rt.publish(s.StockReserved(order_id="o-4", reservation_id="r"))
    rt.publish(s.PaymentAuthorized(order_id="o-4", authorization_id="a"))
    rt.publish(placed("o-5"))
    rt.publish(s.StockReserved(order_id="o-5", reservation_id="r5"))
    rt.publish(s.PaymentDeclined(order_id="o-5", reason="card"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-4").state == "shipping"
    assert rt.signal(OrderSaga, "o-4", "cancel") is False  # not accepted after checkout
    assert rt.instance(OrderSaga, "o-4").state == "shipping"

    rt.publish(placed("o-6"))
    rt.publish(s.StockReserved(order_id="o-6", reservation_id="r6"))
    rt.drain()
    assert rt.signal(OrderSaga, "o-6", "cancel") is True
    rt.drain()
    instance = rt.instance(OrderSaga, "o-6")
    assert instance.state == "compensating"
    assert [m.event for m in rt.published(s.ReleaseStock, correlation_id="o-6")] == [
        s.ReleaseStock(order_id="o-6", reservation_id="r6")
    ]
    rt.publish(s.PaymentDeclined(order_id="o-6", reason="card"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-6").status == "compensated"
