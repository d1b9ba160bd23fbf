"""The soak's checker fails when it should: fed a clean run's evidence it finds nothing, and
each planted fault (a doubled effect, a lost event, a duplicate record, a reordered key, a
missing inbox claim, an illegal history) is named with its order. Also: a seed's schedule
is the same every time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest.mock import patch

from saga.contracts.events import event_name
from services.demo.plan import make_plan
from services.demo.report import OrderRow, Report
from services.orders.saga import OrderSaga
from services.soak import check
from services.soak.check import Effect, Evidence, OutboxRow, Record, Step
from services.soak.run import _as_planned
from services.soak.schedule import fingerprint, make_schedule

ORDER = uuid.UUID(int=7, version=4)
KEY = str(ORDER)
PLACED = event_name(OrderSaga.__saga__.starts[next(iter(OrderSaga.__saga__.starts))].event)


def clean() -> Evidence:
    """One order's start: placed, published once, claimed by the saga; a reservation."""
    placed = uuid.UUID(int=1, version=4)
    reserve = uuid.UUID(int=2, version=4)
    return Evidence(
        outbox=[
            OutboxRow("orders", 1, placed, "t.shop.orders", KEY, PLACED, published=True),
            OutboxRow("orders", 2, reserve, "t.shop.inventory", KEY, "x.ReserveStock", True),
        ],
        records=[
            Record("t.shop.orders", 0, 0, KEY, placed, PLACED),
            Record("t.shop.inventory", 0, 0, KEY, reserve, "x.ReserveStock"),
        ],
        inbox={("orders", OrderSaga.__saga__.name, placed), ("inventory", "inventory", reserve)},
        effects=[Effect("inventory", reserve, "reserve", ORDER)],
        histories={KEY: [Step(1, PLACED, None, "checking_out")]},
        instances={KEY: ("checking_out", "running")},
    )


def flat(evidence: Evidence) -> list[str]:
    return [str(v) for vs in check.check_all(evidence).values() for v in vs]


def test_a_clean_run_has_no_violation() -> None:
    evidence = clean()
    assert flat(evidence) == []
    assert check.expected_claims(evidence, check.hosted()) == 1  # the saga consumes OrderPlaced


def test_a_doubled_effect_is_named_with_its_order() -> None:
    evidence = clean()
    evidence.effects.append(evidence.effects[0])  # the same event applied twice
    found = check.check_all(evidence)["every effect applied exactly once"]
    assert [v.order for v in found] == [KEY, KEY]
    assert "inventory applied event" in found[0].what
    assert "2 times" in found[0].what
    assert found[1].what == "inventory: reserve applied 2 times"


def test_two_answers_to_one_request_are_named() -> None:
    evidence = clean()
    evidence.effects.append(Effect("inventory", uuid.uuid4(), "refuse", ORDER))
    evidence.inbox.add(("inventory", "inventory", evidence.effects[-1].event_id))
    assert flat(evidence) == [f"order {KEY}: inventory: both refuse and reserve"]


def test_a_lost_event_is_named() -> None:
    evidence = clean()
    evidence.records.pop(0)  # marked published, never in the topic
    found = flat(evidence)
    assert len(found) == 1
    assert found[0].startswith(f"order {KEY}: ")
    assert "is marked published but not in t.shop.orders" in found[0]

    unpublished = clean()
    row = unpublished.outbox[1]
    unpublished.outbox[1] = OutboxRow(**{**row.__dict__, "published": False})
    assert any("was never published" in v for v in flat(unpublished))


def test_a_duplicated_record_and_a_stranger_are_named() -> None:
    evidence = clean()
    evidence.records.append(
        Record("t.shop.orders", 0, 5, KEY, evidence.records[0].event_id, PLACED)
    )
    evidence.records.append(Record("t.shop.orders", 1, 0, "k", uuid.uuid4(), PLACED))
    found = check.check_all(evidence)["every event published exactly once"]
    assert "is in the topics 2 times" in str(found[0])
    assert str(found[1]).startswith("order k: t.shop.orders[1]@0")


def test_a_key_published_out_of_order_is_named() -> None:
    evidence = clean()
    later = uuid.UUID(int=3, version=4)
    evidence.outbox.append(OutboxRow("orders", 3, later, "t.shop.orders", KEY, "x.B", True))
    # Row 3 reaches the topic before row 1 of the same key and outbox.
    evidence.records[0] = Record("t.shop.orders", 0, 1, KEY, evidence.outbox[0].event_id, PLACED)
    evidence.records.append(Record("t.shop.orders", 0, 0, KEY, later, "x.B"))
    found = check.check_all(evidence)["per-key order kept in the topics"]
    assert len(found) == 1
    assert found[0].order == KEY
    assert "written first, published second" in found[0].what


def test_an_event_nobody_consumed_is_named() -> None:
    evidence = clean()
    evidence.inbox.discard(("orders", OrderSaga.__saga__.name, evidence.outbox[0].event_id))
    found = flat(evidence)
    assert found == [
        f"order {KEY}: OrderPlaced {evidence.outbox[0].event_id} never consumed by "
        f"{OrderSaga.__saga__.name} (orders)"
    ]


def test_an_illegal_history_is_named() -> None:
    evidence = clean()
    evidence.histories[KEY].append(Step(2, "x.ShipmentFailed", "checking_out", "capturing"))
    evidence.instances[KEY] = ("capturing", "running")
    assert flat(evidence) == [
        f"order {KEY}: entry 2: checking_out → capturing on x.ShipmentFailed is no edge"
    ]
    evidence.histories[KEY][1] = Step(2, "x.Ok", "shipping", "shipping")
    assert "leaves shipping, but it was in checking_out" in flat(evidence)[0]


def test_the_same_seed_draws_the_same_schedule() -> None:
    first = make_schedule(3, 100, 400, outages=True)
    assert make_schedule(3, 100, 400, outages=True) == first
    assert fingerprint(make_schedule(4, 100, 400, outages=True)) != fingerprint(first)
    kinds = {f.kind for f in first}
    assert kinds == {"kill", "pause", "storm", "broker", "postgres"}
    assert sum(f.kind == "kill" for f in first) == 100
    assert {f.target for f in first if f.kind == "kill"} == {
        "orders",
        "inventory",
        "payments",
        "shipping",
        "api",
    }
    assert all(40 <= f.at <= 340 for f in first)
    assert {f.kind for f in make_schedule(3, 20, 30, outages=False)} == {"kill", "pause", "storm"}


def test_an_order_timed_out_at_checkout_ended_legally_any_other_surprise_fails() -> None:
    plan = make_plan(5, 1)
    orders = [
        OrderRow(p.order_id, "x", 0, datetime.now(UTC), None, None, None, None, None)
        for p in plan.orders
    ]
    outcomes = {p.order_id: p.expected for p in plan.orders}
    outcomes[plan.orders[0].order_id] = "timed out"
    result = Report([], [], {}, 0, 0.0, {})
    result.orders = orders
    with patch.object(OrderRow, "outcome", property(lambda o: outcomes[o.order_id])):
        late = _as_planned(result, plan)
        assert late.ok
        assert "1 timed out at checkout" in late.detail
        outcomes[plan.orders[1].order_id] = "still running"
        wrong = _as_planned(result, plan)
    assert not wrong.ok
    assert wrong.detail.startswith(f"1 differ, e.g. {plan.orders[1].order_id}: expected ")
