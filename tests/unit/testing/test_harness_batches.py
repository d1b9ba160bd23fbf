"""The in-memory harness runs batch handlers: a participant gets its pending deliveries at
once (``batch_size``), and a batch that raises is handled again one delivery at a time."""

from __future__ import annotations

import pytest

from saga.definition.participant import Participant
from saga.engine.messages import Message, derived_id
from saga.errors import ConfigError
from saga.testing.harness import Faults, Harness
from tests.sagas.jobs import Ask, Yes
from tests.sagas.shop import OrderSaga, Shop, placed

ORDERS = [("o-1", 1, 500), ("o-2", 20, 500), ("o-3", 2, 50_000), ("o-4", 3, 900)]


def wire(messages: list[Message]) -> list[tuple[str, str, str, str | None, object]]:
    """What went on the bus, in an order that does not depend on delivery order."""
    return sorted(
        (m.event_id, m.event_type, m.correlation_id, m.causation_id, m.event) for m in messages
    )


def run(
    shop: Shop, participants: list[Participant], batch_size: int, faults: Faults | None = None
) -> Harness:
    harness = Harness([OrderSaga], participants, batch_size=batch_size, faults=faults)
    for order_id, quantity, amount in ORDERS:
        harness.publish(
            placed(order_id, quantity=quantity, amount_cents=amount),
            event_id=derived_id("placed", order_id),
        )
    harness.drain()
    return harness


@pytest.mark.parametrize("batch_size", [1, 50])
def test_batch_handlers_end_the_shop_as_single_handlers_do(batch_size: int) -> None:
    single_shop, batch_shop = Shop(), Shop()
    single = run(single_shop, single_shop.participants(), 1)
    batch = run(batch_shop, batch_shop.batch_participants(), batch_size)
    for order_id, _, _ in ORDERS:
        assert batch.state(OrderSaga, order_id) == single.state(OrderSaga, order_id)
    assert batch_shop.effects == single_shop.effects
    assert batch_shop.stock == single_shop.stock
    assert wire(batch.published()) == wire(single.published())  # the same ids on the wire
    sizes = {size for _, size in batch_shop.calls}
    if batch_size == 1:
        assert sizes == {1}
    else:
        assert max(sizes) > 1, batch_shop.calls  # requests really came together


@pytest.mark.parametrize("seed", range(4))
def test_faults_change_nothing_with_batches_either(seed: int) -> None:
    clean_shop, faulty_shop = Shop(), Shop()
    clean = run(clean_shop, clean_shop.participants(), 1)
    faults = Faults(duplicate=0.3, reorder=0.5, redeliver=0.2, seed=seed)
    faulty = run(faulty_shop, faulty_shop.batch_participants(), 3, faults)
    for order_id, _, _ in ORDERS:
        assert faulty.state(OrderSaga, order_id) == clean.state(OrderSaga, order_id)
    assert faulty_shop.effects == clean_shop.effects  # duplicates dropped before the handlers
    assert faulty_shop.stock == clean_shop.stock


def test_a_failing_request_in_a_batch_raises_alone_and_the_others_go_through() -> None:
    worker = Participant("worker")
    calls: list[list[str]] = []

    @worker.batch_handler
    def answer(requests: list[Ask]) -> list[Yes]:
        calls.append([r.job_id for r in requests])
        if any(r.job_id == "bad" for r in requests):
            raise RuntimeError("cannot answer bad")
        return [Yes(job_id=r.job_id) for r in requests]

    harness = Harness(participants=[worker], batch_size=10)
    for job_id in ("a", "b", "bad", "c"):
        harness.publish(Ask(job_id=job_id))
    with pytest.raises(RuntimeError, match="cannot answer bad"):
        harness.drain()
    assert calls == [["a", "b", "bad", "c"], ["a"], ["b"], ["bad"]]
    assert [m.event.job_id for m in harness.published(Yes)] == ["a", "b"]  # type: ignore[attr-defined]
    assert [d.message.event for d in harness.pending] == [Ask(job_id="c")]  # still to come
    harness.drain()
    assert [m.event.job_id for m in harness.published(Yes)] == ["a", "b", "c"]  # type: ignore[attr-defined]


def test_batch_size_is_a_whole_number() -> None:
    with pytest.raises(ConfigError, match="batch_size=0: give a whole number, 1 or more"):
        Harness(batch_size=0)
