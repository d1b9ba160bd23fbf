"""Property test of the order saga under random delivery order, duplicates, deadlines and
cancel signals: no illegal transition, each compensation at most once per step, and every
instance ends terminal once inputs stop and time passes the deadlines."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from saga.definition.saga import definition_of
from saga.engine.instance import COMPENSATING
from saga.testing.harness import Harness
from tests.sagas import shop as s
from tests.sagas.shop import OrderSaga, Shop, placed

DEFINITION = definition_of(OrderSaga)
LEGAL = {(e.source, e.target) for e in DEFINITION.edges()}
UNDO_EVENTS = (s.ReleaseStock, s.VoidPayment)


FINAL = {name for name, state in DEFINITION.states.items() if state.final is not None}


def legal(source: str | None, target: str) -> bool:
    if source in FINAL:
        return target == source  # terminal states are final
    if source == target or target == DEFINITION.failed_state:
        return True  # ignored inputs keep the state; a running instance may park
    return (source, target) in LEGAL


class OrderSagaUnderChaos(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.shop = Shop(stock={"book": 6}, card_limit_cents=5_000)
        self.harness = Harness([OrderSaga], self.shop.participants())
        self.orders: list[str] = []

    @rule(
        quantity=st.integers(min_value=1, max_value=4),
        amount=st.integers(min_value=100, max_value=8_000),
        refuse=st.booleans(),
        capture_failures=st.integers(min_value=0, max_value=3),
    )
    def place_order(self, quantity: int, amount: int, refuse: bool, capture_failures: int) -> None:
        order_id = f"o-{len(self.orders)}"
        self.orders.append(order_id)
        self.shop.refuse_shipping = refuse
        self.shop.capture_failures = capture_failures
        self.harness.publish(placed(order_id, quantity=quantity, amount_cents=amount))

    @precondition(lambda self: bool(self.harness.pending))
    @rule(pick=st.integers(min_value=0))
    def deliver_any(self, pick: int) -> None:
        self.harness.deliver(self.harness.pending.pop(pick % len(self.harness.pending)))

    @precondition(lambda self: bool(self.harness.pending))
    @rule(pick=st.integers(min_value=0))
    def deliver_twice(self, pick: int) -> None:
        delivery = self.harness.pending[pick % len(self.harness.pending)]
        self.harness.deliver(delivery)  # stays pending too: it will come again

    @rule(minutes=st.integers(min_value=1, max_value=90))
    def let_time_pass(self, minutes: int) -> None:
        self.harness.advance(timedelta(minutes=minutes), drain=False)

    @precondition(lambda self: bool(self.orders))
    @rule(pick=st.integers(min_value=0))
    def cancel(self, pick: int) -> None:
        order_id = self.orders[pick % len(self.orders)]
        if self.harness.store.load(DEFINITION.name, order_id) is not None:
            self.harness.signal(OrderSaga, order_id, "cancel")

    @invariant()
    def moves_are_legal_and_undo_happens_at_most_once(self) -> None:
        for instance in self.harness.instances(OrderSaga):
            history = self.harness.history(OrderSaga, instance.instance_id)
            for entry in history:
                assert legal(entry.from_state, entry.to_state), entry
            undone = [step for entry in history for step in entry.compensated]
            assert len(undone) == len(set(undone)), undone
            sent = Counter(
                type(m.event)
                for m in self.harness.published(correlation_id=instance.instance_id)
                if isinstance(m.event, UNDO_EVENTS)
            )
            assert all(n == 1 for n in sent.values()), sent
        assert self.shop.effects["release"] <= self.shop.effects["reserve"]
        assert self.shop.effects["void"] <= self.shop.effects["authorize"]

    def teardown(self) -> None:
        self.harness.drain()
        self.harness.advance(timedelta(hours=3))
        for instance in self.harness.instances(OrderSaga):
            assert instance.finished, instance
            assert instance.state != COMPENSATING
            if instance.status == "compensated":
                assert instance.instance_id not in self.shop.reservations  # stock given back
            if instance.status == "completed":
                assert self.shop.reservations.get(instance.instance_id) is not None
        self.moves_are_legal_and_undo_happens_at_most_once()


OrderSagaUnderChaos.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_order_saga_under_chaos = OrderSagaUnderChaos.TestCase
