"""At-least-once delivery: duplicates have no second effect, order does not change the
outcome, and events for no instance follow the saga's policy."""

from __future__ import annotations

import pytest

from saga.errors import UnknownInstanceError
from tests.contract.runtime import RuntimeFactory
from tests.sagas import shop as s
from tests.sagas.shop import OrderSaga, Shop, TripSaga, placed


def test_a_redelivered_event_has_no_second_effect(runtime: RuntimeFactory) -> None:
    shop = Shop()
    rt = runtime([OrderSaga], shop.participants())
    first = rt.publish(placed("o-1"))
    rt.publish(placed("o-1"), event_id=first.event_id)
    rt.drain()
    reserve = rt.published(s.ReserveStock)[0]
    rt.publish(reserve.event, event_id=reserve.event_id, correlation_id=reserve.correlation_id)
    rt.drain()

    assert shop.effects == {"reserve": 1, "authorize": 1, "ship": 1, "capture": 1}
    assert rt.instance(OrderSaga, "o-1").status == "completed"
    assert len(rt.published(s.ReserveStock)) == 2  # the redelivery itself, handled once
    assert len(rt.history(OrderSaga, "o-1")) == 5


def test_the_same_answer_under_a_new_id_is_ignored_by_the_saga(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-2"))
    rt.publish(s.StockReserved(order_id="o-2", reservation_id="r"))
    rt.publish(s.StockReserved(order_id="o-2", reservation_id="r"))
    rt.publish(s.PaymentDeclined(order_id="o-2", reason="card"))
    rt.publish(s.PaymentDeclined(order_id="o-2", reason="card"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-2").status == "compensated"
    assert len(rt.published(s.ReleaseStock)) == 1
    assert sum("ignored" in e.note for e in rt.history(OrderSaga, "o-2")) == 2


@pytest.mark.parametrize("stock_first", [True, False])
def test_answers_in_either_order_join_the_same_way(
    runtime: RuntimeFactory, stock_first: bool
) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-3"))
    rt.drain()
    answers = [
        s.StockReserved(order_id="o-3", reservation_id="r"),
        s.PaymentAuthorized(order_id="o-3", authorization_id="a"),
    ]
    for answer in answers if stock_first else reversed(answers):
        rt.publish(answer)
    rt.drain()
    instance = rt.instance(OrderSaga, "o-3")
    assert instance.state == "shipping"
    assert (instance.data["reservation_id"], instance.data["authorization_id"]) == ("r", "a")
    rt.publish(s.ShipmentRefused(order_id="o-3", reason="x"))
    rt.drain()
    undone = [type(m.event).__name__ for m in rt.published(correlation_id="o-3")][-2:]
    # newest first: the order the answers arrived in decides the order of the undo
    assert undone == (
        ["VoidPayment", "ReleaseStock"] if stock_first else ["ReleaseStock", "VoidPayment"]
    )


def test_an_answer_for_no_instance_is_parked_under_the_park_policy(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    stray = rt.publish(s.StockReserved(order_id="nobody", reservation_id="r"))
    rt.drain()
    (orphan,) = rt.orphans
    assert orphan.message.event_id == stray.event_id
    assert "nobody" in orphan.reason
    with pytest.raises(UnknownInstanceError):
        rt.instance(OrderSaga, "nobody")


def test_an_answer_for_no_instance_is_dropped_under_the_ignore_policy(
    runtime: RuntimeFactory,
) -> None:
    rt = runtime([TripSaga], [])
    rt.publish(s.HotelBooked(trip_id="nobody"))
    rt.drain()
    assert rt.orphans == []
    with pytest.raises(UnknownInstanceError):
        rt.instance(TripSaga, "nobody")


def test_an_answer_for_no_instance_raises_under_the_error_policy(runtime: RuntimeFactory) -> None:
    from tests.contract.strict import Ping, StrictSaga

    rt = runtime([StrictSaga], [])
    rt.publish(Ping(ping_id="nobody"))
    with pytest.raises(UnknownInstanceError, match="orphans='error'"):
        rt.drain()


def test_events_that_arrive_before_their_start_apply_once_the_instance_exists(
    runtime: RuntimeFactory,
) -> None:
    # Choreography gives no order across topics: the answers overtake the order itself.
    rt = runtime([OrderSaga], [])
    rt.publish(s.StockReserved(order_id="o-9", reservation_id="r"))
    rt.publish(s.PaymentAuthorized(order_id="o-9", authorization_id="a"))
    rt.drain()
    assert len(rt.orphans) == 2
    with pytest.raises(UnknownInstanceError):
        rt.instance(OrderSaga, "o-9")

    rt.publish(placed("o-9"))
    rt.drain()
    assert rt.orphans == []
    instance = rt.instance(OrderSaga, "o-9")
    assert instance.state == "shipping"
    assert (instance.data["reservation_id"], instance.data["authorization_id"]) == ("r", "a")
    triggers = [e.trigger for e in rt.history(OrderSaga, "o-9")]
    assert triggers == [s.OrderPlaced.__event_name__, s.StockReserved.__event_name__,
                        s.PaymentAuthorized.__event_name__]  # fmt: skip
