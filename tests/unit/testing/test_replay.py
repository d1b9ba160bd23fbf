"""Recorded histories replay through the current engine to the same decisions.

The recordings in tests/fixtures/histories/ were made by the in-memory harness. When a
change to the engine or to the sample sagas alters them on purpose, record them again::

    SAGA_RECORD_HISTORIES=1 .venv/bin/pytest tests/unit/testing/test_replay.py
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from saga.testing._replay import recorded_history, replay
from saga.testing.harness import Harness
from tests.contract.recordings import HISTORIES, SCENARIOS
from tests.sagas import shop as s
from tests.sagas.shop import OrderSaga, TripSaga

SAGAS = {"test.OrderSaga": OrderSaga, "test.TripSaga": TripSaga}


def record(name: str) -> dict[str, Any]:
    """What the harness records of a scenario today."""
    scenario = SCENARIOS[name]
    harness = scenario.play(Harness)
    assert isinstance(harness, Harness)
    return harness.recording(scenario.saga, scenario.instance_id)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_recorded_history_replays_identically(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    if os.environ.get("SAGA_RECORD_HISTORIES"):
        path.write_text(json.dumps(record(name), indent=2) + "\n")
    recording = json.loads(path.read_text())
    saga = SAGAS[recording["saga"]]
    assert replay(saga, recording) == recorded_history(recording)


def test_the_recordings_are_what_the_harness_produces_today() -> None:
    for name in SCENARIOS:
        recorded = json.loads((HISTORIES / f"{name}.json").read_text())
        assert recorded == record(name), name


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
