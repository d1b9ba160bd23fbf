"""Failures: completed steps are undone newest first, each once, including late successes."""

from __future__ import annotations

import pytest

from saga.contracts.events import Event
from tests.contract.runtime import RuntimeFactory, SagaRuntime
from tests.sagas import shop as s
from tests.sagas.shop import OrderSaga, Shop, TripSaga, placed

TRIP_STEPS = [
    (s.BookHotel, s.HotelBooked, s.HotelFull, s.CancelHotel),
    (s.BookFlight, s.FlightBooked, s.FlightFull, s.CancelFlight),
    (s.BookCar, s.CarBooked, s.NoCar, s.CancelCar),
]


def names(rt: SagaRuntime, *types: type[Event], correlation_id: str) -> list[str]:
    wanted = set(types)
    return [
        type(m.event).__name__
        for m in rt.published(correlation_id=correlation_id)
        if type(m.event) in wanted
    ]


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failure_at_each_step_undoes_the_earlier_steps_newest_first(
    runtime: RuntimeFactory, failing: int
) -> None:
    rt = runtime([TripSaga], [])
    rt.publish(s.TripBooked(trip_id="t-1"))
    rt.drain()
    for _, ok, _, _ in TRIP_STEPS[:failing]:
        rt.publish(ok(trip_id="t-1"))
        rt.drain()
    rt.publish(TRIP_STEPS[failing][2](trip_id="t-1"))
    rt.drain()

    instance = rt.instance(TripSaga, "t-1")
    assert instance.status == "compensated"
    undo = [c for *_, c in TRIP_STEPS]
    expected = [c.__name__ for _, _, _, c in reversed(TRIP_STEPS[:failing])]
    assert names(rt, *undo, correlation_id="t-1") == expected
    requests = [r for r, *_ in TRIP_STEPS]
    assert names(rt, *requests, correlation_id="t-1") == [
        r.__name__ for r, *_ in TRIP_STEPS[: failing + 1]
    ]


def test_every_step_succeeding_books_the_trip_without_compensation(runtime: RuntimeFactory) -> None:
    rt = runtime([TripSaga], [])
    rt.publish(s.TripBooked(trip_id="t-2"))
    for _, ok, _, _ in TRIP_STEPS:
        rt.drain()
        rt.publish(ok(trip_id="t-2"))
    rt.drain()
    assert rt.instance(TripSaga, "t-2").status == "completed"
    assert names(rt, *(c for *_, c in TRIP_STEPS), correlation_id="t-2") == []


def test_out_of_stock_voids_the_payment_authorised_beside_it(runtime: RuntimeFactory) -> None:
    shop = Shop(stock={"book": 0})
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-1"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-1").status == "compensated"
    assert shop.effects == {"authorize": 1, "void": 1}
    assert rt.published(s.ReleaseStock) == []


def test_a_declined_payment_releases_the_stock(runtime: RuntimeFactory) -> None:
    shop = Shop(card_limit_cents=100)
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-2", amount_cents=500, quantity=3))
    rt.drain()
    assert rt.instance(OrderSaga, "o-2").status == "compensated"
    assert shop.effects == {"reserve": 1, "release": 1}
    assert shop.stock["book"] == 10


def test_a_refused_shipment_undoes_payment_then_stock(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-3"))
    rt.publish(s.StockReserved(order_id="o-3", reservation_id="r"))
    rt.publish(s.PaymentAuthorized(order_id="o-3", authorization_id="a"))
    rt.drain()
    rt.publish(s.ShipmentRefused(order_id="o-3", reason="no courier"))
    rt.drain()
    instance = rt.instance(OrderSaga, "o-3")
    assert instance.status == "compensated"
    assert names(rt, s.ReleaseStock, s.VoidPayment, correlation_id="o-3") == [
        "VoidPayment",
        "ReleaseStock",
    ]
    last = rt.history(OrderSaga, "o-3")[-1]
    assert last.compensated == ("authorize_payment", "reserve_stock")


def test_a_late_success_after_the_other_branch_failed_is_compensated(
    runtime: RuntimeFactory,
) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-4"))
    rt.drain()
    rt.publish(s.PaymentDeclined(order_id="o-4", reason="card"))
    rt.drain()
    waiting = rt.instance(OrderSaga, "o-4")
    assert (waiting.state, waiting.status) == ("compensating", "compensating")
    assert rt.published(s.ReleaseStock) == []

    rt.publish(s.StockReserved(order_id="o-4", reservation_id="r-late"))
    rt.drain()
    (release,) = rt.published(s.ReleaseStock)
    assert release.event == s.ReleaseStock(order_id="o-4", reservation_id="r-late")
    assert rt.instance(OrderSaga, "o-4").status == "compensated"


def test_a_late_failure_after_the_other_branch_failed_needs_no_undo(
    runtime: RuntimeFactory,
) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-5"))
    rt.publish(s.OutOfStock(order_id="o-5", sku="book"))
    rt.publish(s.PaymentDeclined(order_id="o-5", reason="card"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-5").status == "compensated"
    assert names(rt, s.ReleaseStock, s.VoidPayment, correlation_id="o-5") == []


def test_a_retriable_step_is_retried_then_succeeds(runtime: RuntimeFactory) -> None:
    shop = Shop(capture_failures=2)
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-6"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-6").status == "completed"
    assert len(rt.published(s.CapturePayment)) == 3
    assert rt.instance(OrderSaga, "o-6").steps["capture"].attempts == 3


def test_a_retriable_step_past_the_pivot_parks_when_attempts_run_out(
    runtime: RuntimeFactory,
) -> None:
    shop = Shop(capture_failures=3)
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-7"))
    rt.drain()
    instance = rt.instance(OrderSaga, "o-7")
    assert (instance.state, instance.status) == ("failed", "failed")
    assert instance.parked_reason is not None
    assert "pivot step ship" in instance.parked_reason
    assert shop.effects["void"] == shop.effects["release"] == 0  # nothing undone past the pivot
