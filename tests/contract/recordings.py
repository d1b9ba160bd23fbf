"""Three scenarios whose histories are recorded in tests/fixtures/histories/.

Each plays on any runtime of the contract suite; the in-memory harness made the recordings,
and every runtime must produce the same histories (times aside: the durable runtime's clock
is the database's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from saga.definition.saga import Saga
from tests.contract.runtime import RuntimeFactory, SagaRuntime
from tests.sagas import shop as s
from tests.sagas.shop import OrderSaga, Shop, TripSaga, placed

HISTORIES = Path(__file__).parents[1] / "fixtures" / "histories"


def order_completed_after_capture_retries(runtime: RuntimeFactory) -> SagaRuntime:
    rt = runtime([OrderSaga], Shop(capture_failures=2).participants())
    rt.publish(placed("o-1"), event_id="00000000-0000-0000-0000-000000000001")
    rt.drain()
    return rt


def order_compensated_after_deadline_and_late_answer(runtime: RuntimeFactory) -> SagaRuntime:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-2"), event_id="00000000-0000-0000-0000-000000000002")
    rt.publish(
        s.StockReserved(order_id="o-2", reservation_id="r-2"),
        event_id="00000000-0000-0000-0000-000000000003",
    )
    rt.advance(timedelta(minutes=15))
    rt.publish(
        s.PaymentAuthorized(order_id="o-2", authorization_id="a-2"),
        event_id="00000000-0000-0000-0000-000000000004",
    )
    rt.drain()
    return rt


def trip_cancelled_at_the_car(runtime: RuntimeFactory) -> SagaRuntime:
    rt = runtime([TripSaga], [])
    ids = iter(f"00000000-0000-0000-0000-00000000001{i}" for i in range(10))
    for event in (s.TripBooked, s.HotelBooked, s.FlightBooked, s.NoCar):
        rt.publish(event(trip_id="t-1"), event_id=next(ids))
        rt.drain()
    return rt


@dataclass(frozen=True)
class Scenario:
    saga: type[Saga[Any]]
    instance_id: str
    play: Callable[[RuntimeFactory], SagaRuntime]


SCENARIOS = {
    "order_completed_after_capture_retries": Scenario(
        OrderSaga, "o-1", order_completed_after_capture_retries
    ),
    "order_compensated_after_deadline_and_late_answer": Scenario(
        OrderSaga, "o-2", order_compensated_after_deadline_and_late_answer
    ),
    "trip_cancelled_at_the_car": Scenario(TripSaga, "t-1", trip_cancelled_at_the_car),
}
