"""The in-memory harness: delivery faults, holding answers back, virtual time, recordings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from saga.definition.participant import Participant
from saga.errors import ConfigError, DefinitionError, SagaError, UnknownInstanceError
from saga.testing._replay import recorded_history, replay
from saga.testing.harness import EPOCH, Faults, Harness
from tests.sagas import shop as s
from tests.sagas.jobs import Ask, Yes
from tests.sagas.shop import OrderSaga, Shop, placed

ORDERS = [("o-1", 1, 500), ("o-2", 20, 500), ("o-3", 2, 50_000), ("o-4", 3, 900)]


def run(faults: Faults | None) -> tuple[dict[str, str], Shop]:
    shop = Shop()
    harness = Harness([OrderSaga], shop.participants(), faults=faults)
    for order_id, quantity, amount in ORDERS:
        harness.publish(placed(order_id, quantity=quantity, amount_cents=amount))
    harness.drain()
    return {o: harness.state(OrderSaga, o) for o, _, _ in ORDERS}, shop


@pytest.mark.parametrize("seed", range(8))
def test_duplicates_reordering_and_redelivery_change_nothing(seed: int) -> None:
    expected, clean = run(None)
    assert expected == {
        "o-1": "completed",
        "o-2": "compensated",
        "o-3": "compensated",
        "o-4": "completed",
    }
    outcome, shop = run(Faults(duplicate=0.3, reorder=0.5, redeliver=0.2, seed=seed))
    assert outcome == expected
    assert shop.effects == clean.effects
    assert shop.stock == clean.stock


def test_faults_really_duplicate_deliveries() -> None:
    shop = Shop()
    harness = Harness([OrderSaga], shop.participants(), faults=Faults(duplicate=0.5, seed=3))
    harness.publish(placed("o-1"))
    harness.drain()
    deliveries_without_faults = sum(
        len(harness.subscriptions.consumers(m)) for m in harness.published()
    )
    assert harness.deliveries > deliveries_without_faults
    assert shop.effects["reserve"] == 1


def test_held_answers_arrive_late() -> None:
    harness = Harness([OrderSaga], Shop(card_limit_cents=0).participants())
    harness.hold(s.StockReserved)
    harness.publish(placed("o-1"))
    harness.drain()
    assert harness.state(OrderSaga, "o-1") == "compensating"
    harness.release()
    harness.drain()
    assert harness.state(OrderSaga, "o-1") == "compensated"
    assert len(harness.published(s.ReleaseStock)) == 1


def test_a_deadline_can_fire_before_a_pending_answer() -> None:
    harness = Harness([OrderSaga], Shop().participants())
    harness.publish(placed("o-1"))
    harness.deliver(harness.pending.pop(0))  # only the start; the requests wait on the bus
    assert len(harness.pending) == 2
    harness.advance(timedelta(minutes=15), drain=False)
    entry = harness.history(OrderSaga, "o-1")[-1]
    assert entry.trigger == "deadline:checking_out"
    assert entry.at == EPOCH + timedelta(minutes=15)
    harness.drain()
    assert harness.state(OrderSaga, "o-1") == "compensated"
    assert harness.clock.now() == EPOCH + timedelta(minutes=15)


def test_a_never_ending_conversation_is_reported() -> None:
    ping = Participant("ping")

    @ping.handler
    def answer(request: Ask) -> Yes:
        return Yes(job_id=request.job_id)

    pong = Participant("pong")

    @pong.handler
    def ask(answer: Yes) -> Ask:
        return Ask(job_id=answer.job_id + "+")

    harness = Harness([], [ping, pong])
    harness.publish(Ask(job_id="j"))
    with pytest.raises(SagaError, match="still busy after 50 deliveries"):
        harness.drain(limit=50)


def test_inspection_names_what_is_missing() -> None:
    harness = Harness([OrderSaga], [])
    with pytest.raises(UnknownInstanceError, match="no instance 'nope'"):
        harness.state(OrderSaga, "nope")
    with pytest.raises(DefinitionError, match="declares no signal 'stop'"):
        harness.signal(OrderSaga, "nope", "stop")
    with pytest.raises(ConfigError, match="not part of this harness"):
        harness.state(s.TripSaga, "t")


def test_a_recording_replays_to_the_same_history() -> None:
    harness = Harness([OrderSaga], Shop(refuse_shipping=True).participants())
    harness.publish(placed("o-1"))
    harness.drain()
    recording = harness.recording(OrderSaga, "o-1")
    assert replay(OrderSaga, recording) == recorded_history(recording)
    assert recorded_history(recording) == harness.history(OrderSaga, "o-1")
