"""Recorded histories replay through the current engine to the same decisions.

The recordings in tests/fixtures/histories/ were made by the in-memory harness. When a
change to the engine or to the sample sagas alters them on purpose, record them again::

    SAGA_RECORD_HISTORIES=1 .venv/bin/pytest tests/unit/sagas/test_replay.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from saga.testing._replay import recorded_history, replay
from saga.testing.harness import Harness
from tests.contract import shop as s
from tests.contract.shop import OrderSaga, Shop, TripSaga, placed

HISTORIES = Path(__file__).parents[2] / "fixtures" / "histories"
SAGAS = {"test.OrderSaga": OrderSaga, "test.TripSaga": TripSaga}


def order_completed_after_capture_retries() -> dict[str, Any]:
    harness = Harness([OrderSaga], Shop(capture_failures=2).participants())
    harness.publish(placed("o-1"), event_id="00000000-0000-0000-0000-000000000001")
    harness.drain()
    return harness.recording(OrderSaga, "o-1")


def order_compensated_after_deadline_and_late_answer() -> dict[str, Any]:
    harness = Harness([OrderSaga], [])
    harness.publish(placed("o-2"), event_id="00000000-0000-0000-0000-000000000002")
    harness.publish(
        s.StockReserved(order_id="o-2", reservation_id="r-2"),
        event_id="00000000-0000-0000-0000-000000000003",
    )
    harness.advance(timedelta(minutes=15))
    harness.publish(
        s.PaymentAuthorized(order_id="o-2", authorization_id="a-2"),
        event_id="00000000-0000-0000-0000-000000000004",
    )
    harness.drain()
    return harness.recording(OrderSaga, "o-2")


def trip_cancelled_at_the_car() -> dict[str, Any]:
    harness = Harness([TripSaga], [])
    ids = iter(f"00000000-0000-0000-0000-00000000001{i}" for i in range(10))
    for event in (s.TripBooked, s.HotelBooked, s.FlightBooked, s.NoCar):
        harness.publish(event(trip_id="t-1"), event_id=next(ids))
        harness.drain()
    return harness.recording(TripSaga, "t-1")


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "order_completed_after_capture_retries": order_completed_after_capture_retries,
    "order_compensated_after_deadline_and_late_answer": (
        order_compensated_after_deadline_and_late_answer
    ),
    "trip_cancelled_at_the_car": trip_cancelled_at_the_car,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_recorded_history_replays_identically(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    if os.environ.get("SAGA_RECORD_HISTORIES"):
        path.write_text(json.dumps(SCENARIOS[name](), indent=2) + "\n")
    recording = json.loads(path.read_text())
    saga = SAGAS[recording["saga"]]
    assert replay(saga, recording) == recorded_history(recording)


def test_the_recordings_are_what_the_harness_produces_today() -> None:
    for name, scenario in SCENARIOS.items():
        recorded = json.loads((HISTORIES / f"{name}.json").read_text())
        assert recorded == scenario(), name


def test_a_definition_change_that_alters_running_instances_is_caught() -> None:
    from saga import Saga, Start, State, Step

    class TripWithoutHotelUndo(Saga[s.Trip], name="test.TripSaga", correlation="trip_id"):
        hotel = Step(s.BookHotel, success=s.HotelBooked, failure=s.HotelFull, kind="retriable")
        flight = Step(
            s.BookFlight, success=s.FlightBooked, failure=s.FlightFull, compensation=s.CancelFlight
        )
        car = Step(s.BookCar, success=s.CarBooked, failure=s.NoCar, compensation=s.CancelCar)

        start = Start(s.TripBooked, to="booking_hotel")
        booking_hotel = State(run=hotel, then="booking_flight")
        booking_flight = State(run=flight, then="booking_car")
        booking_car = State(run=car, then="booked")
        booked = State(final="completed")

    recording = json.loads((HISTORIES / "trip_cancelled_at_the_car.json").read_text())
    expected = recorded_history(recording)
    replayed = replay(TripWithoutHotelUndo, recording)
    assert replayed[:-1] == expected[:-1]
    assert (replayed[-1].compensated, expected[-1].compensated) == (
        ("flight",),
        ("flight", "hotel"),
    )
