"""A saga that meets no failure runs every step once and completes."""

from __future__ import annotations

from tests.contract.runtime import RuntimeFactory
from tests.sagas.shop import (
    AuthorizePayment,
    CapturePayment,
    NotifyCustomer,
    OrderSaga,
    OrderShipped,
    PaymentAuthorized,
    PaymentCaptured,
    ReserveStock,
    ShipmentDelayed,
    ShipOrder,
    Shop,
    StockReserved,
    placed,
)


def test_the_order_completes_with_every_service_answering(runtime: RuntimeFactory) -> None:
    shop = Shop()
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-1", quantity=2))
    rt.drain()

    instance = rt.instance(OrderSaga, "o-1")
    assert (instance.state, instance.status) == ("completed", "completed")
    assert instance.data["reservation_id"] == "r-o-1"
    assert instance.data["tracking"] == "t-o-1"
    assert shop.effects == {"reserve": 1, "authorize": 1, "ship": 1, "capture": 1}
    assert shop.stock["book"] == 8
    moves = [(e.from_state, e.to_state) for e in rt.history(OrderSaga, "o-1")]
    assert moves[0] == (None, "checking_out")
    assert moves[-3:] == [
        ("checking_out", "shipping"),
        ("shipping", "capturing"),
        ("capturing", "completed"),
    ]


def test_parallel_requests_go_out_together_and_the_saga_joins(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-2"))
    rt.drain()
    first = rt.history(OrderSaga, "o-2")[0]
    assert [t.rsplit(".", 1)[1] for t, _ in first.emitted] == ["ReserveStock", "AuthorizePayment"]

    rt.publish(StockReserved(order_id="o-2", reservation_id="r"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-2").state == "checking_out"  # waits for the payment
    assert rt.published(ShipOrder) == []

    rt.publish(PaymentAuthorized(order_id="o-2", authorization_id="a"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-2").state == "shipping"
    (ship,) = rt.published(ShipOrder)
    assert ship.correlation_id == "o-2"
    assert ship.causation_id is not None


def test_emitted_events_carry_correlation_and_causation(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    start = rt.publish(placed("o-3"))
    rt.drain()
    for message in rt.published(ReserveStock) + rt.published(AuthorizePayment):
        assert message.correlation_id == "o-3"
        assert message.causation_id == start.event_id
    ids = [m.event_id for m in rt.published()]
    assert len(ids) == len(set(ids))


def test_a_guarded_transition_runs_its_action_only_when_the_guard_holds(
    runtime: RuntimeFactory,
) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-4"))
    rt.publish(StockReserved(order_id="o-4", reservation_id="r"))
    rt.publish(PaymentAuthorized(order_id="o-4", authorization_id="a"))
    rt.drain()
    rt.publish(ShipmentDelayed(order_id="o-4", days=1))  # guard false: ignored
    rt.publish(ShipmentDelayed(order_id="o-4", days=5))
    rt.drain()

    (notice,) = rt.published(NotifyCustomer)
    assert notice.event == NotifyCustomer(order_id="o-4", text="delayed by 5 days")
    instance = rt.instance(OrderSaga, "o-4")
    assert (instance.state, instance.data["delays"]) == ("shipping", 1)
    notes = [e.note for e in rt.history(OrderSaga, "o-4")]
    assert any("no guard held" in n for n in notes)

    rt.publish(OrderShipped(order_id="o-4", tracking="t"))
    rt.drain()
    (capture,) = rt.published(CapturePayment)
    assert capture.event.authorization_id == "a"
    rt.publish(PaymentCaptured(order_id="o-4"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-4").status == "completed"
