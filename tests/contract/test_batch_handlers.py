"""Services written with batch handlers put on the wire exactly what the same services with
single handlers do: the same events with the same ids, correlation and causation ids, and
the same effects, on every runtime."""

from __future__ import annotations

from saga.engine.messages import Message, derived_id
from saga.testing.harness import Harness
from tests.contract.runtime import RuntimeFactory
from tests.sagas.shop import OrderSaga, Shop, placed

# Completed, out of stock, declined, completed: outcomes that no delivery order can change.
ORDERS = [("o-1", 1, 500), ("o-2", 20, 500), ("o-3", 2, 50_000), ("o-4", 3, 900)]


def wire(messages: list[Message]) -> list[tuple[str, str, str, str | None, object]]:
    return sorted(
        (m.event_id, m.event_type, m.correlation_id, m.causation_id, m.event) for m in messages
    )


def test_batch_handlers_emit_what_single_handlers_emit(runtime: RuntimeFactory) -> None:
    single_shop = Shop()
    single = Harness([OrderSaga], single_shop.participants())
    batch_shop = Shop()
    batch = runtime([OrderSaga], batch_shop.batch_participants())
    for order_id, quantity, amount in ORDERS:
        event = placed(order_id, quantity=quantity, amount_cents=amount)
        for rt in (single, batch):
            rt.publish(event, event_id=derived_id("contract", order_id))
    single.drain()
    batch.drain()

    for order_id, _, _ in ORDERS:
        ended = batch.instance(OrderSaga, order_id)
        expected = single.instance(OrderSaga, order_id)
        assert (ended.state, ended.status) == (expected.state, expected.status)
    assert wire(batch.published()) == wire(single.published())
    assert batch_shop.effects == single_shop.effects
    assert batch_shop.stock == single_shop.stock
    every = {"reserve", "release", "authorize", "ship", "capture"}
    assert {name for name, _ in batch_shop.calls} == every
