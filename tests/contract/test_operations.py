"""Operators' commands (retry, compensate, resume) mean the same on every runtime: each goes
through the processing path as an input, lands in the history with who sent it and why, and
is refused when sent if the instance cannot take it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from saga.errors import OperationRefused, UnknownInstanceError
from tests.contract.runtime import RuntimeFactory
from tests.sagas import shop as s
from tests.sagas.shop import OrderSaga, Shop, placed


def test_retry_requests_a_failed_step_again_after_the_pivot(runtime: RuntimeFactory) -> None:
    shop = Shop(capture_failures=3)  # every capture attempt fails: parked after the pivot
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-1"))
    rt.drain()
    parked = rt.instance(OrderSaga, "o-1")
    assert (parked.status, parked.parked_from) == ("failed", "capturing")
    assert shop.effects["capture"] == 0

    entry = rt.retry(OrderSaga, "o-1", reason="the card provider is back", by="alice")
    assert (entry.trigger, entry.by, entry.reason) == (
        "operator:retry",
        "alice",
        "the card provider is back",
    )
    assert (entry.from_state, entry.to_state) == ("failed", "capturing")
    assert [t for t, _ in entry.emitted] == ["test.shop.CapturePayment"]
    rt.drain()
    done = rt.instance(OrderSaga, "o-1")
    assert (done.status, done.parked_reason, done.parked_from) == ("completed", None, None)
    assert done.steps["capture"].attempts == 4  # one more than the step's own three
    assert shop.effects["capture"] == 1
    assert len(rt.published(s.CapturePayment, correlation_id="o-1")) == 4


def test_resume_carries_on_with_the_rollback_it_was_parked_in(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-2"))
    rt.advance(timedelta(minutes=15))  # checkout deadline: compensating
    rt.advance(timedelta(hours=1))  # nobody answered: parked
    assert rt.instance(OrderSaga, "o-2").parked_from == "compensating"

    entry = rt.resume(OrderSaga, "o-2", reason="inventory is answering again", by="bob")
    assert (entry.trigger, entry.from_state, entry.to_state) == (
        "operator:resume",
        "failed",
        "compensating",
    )
    resumed = rt.instance(OrderSaga, "o-2")
    assert resumed.status == "compensating"
    assert resumed.deadline is not None  # a fresh compensation deadline
    rt.publish(s.StockReserved(order_id="o-2", reservation_id="r-2"))  # late: undone
    rt.publish(s.PaymentDeclined(order_id="o-2", reason="card"))
    rt.drain()
    assert rt.instance(OrderSaga, "o-2").status == "compensated"
    [release] = rt.published(s.ReleaseStock, correlation_id="o-2")
    assert release.event.reservation_id == "r-2"


def test_compensate_forces_the_rollback_of_a_running_saga(runtime: RuntimeFactory) -> None:
    rt = runtime([OrderSaga], [])
    rt.publish(placed("o-3"))
    rt.publish(s.StockReserved(order_id="o-3", reservation_id="r-3"))
    rt.drain()

    entry = rt.compensate(OrderSaga, "o-3", reason="fraud suspected", by="carol")
    assert (entry.trigger, entry.to_state, entry.compensated) == (
        "operator:compensate",
        "compensating",
        ("reserve_stock",),
    )
    assert "operator compensate by carol: fraud suspected" in entry.note
    rt.publish(s.PaymentAuthorized(order_id="o-3", authorization_id="a-3"))  # late: voided
    rt.drain()
    assert rt.instance(OrderSaga, "o-3").status == "compensated"
    assert len(rt.published(s.ReleaseStock, correlation_id="o-3")) == 1
    assert len(rt.published(s.VoidPayment, correlation_id="o-3")) == 1


def test_commands_an_instance_cannot_take_are_refused_when_sent(runtime: RuntimeFactory) -> None:
    shop = Shop(capture_failures=3)
    rt = runtime([OrderSaga], shop.participants())
    rt.publish(placed("o-4"))  # parked after the pivot
    rt.publish(placed("o-5", quantity=99))  # out of stock: compensated
    rt.drain()
    before = len(rt.history(OrderSaga, "o-4"))

    refusals = [
        (lambda: rt.compensate(OrderSaga, "o-4", reason="r"), "pivot step ship succeeded"),
        (lambda: rt.resume(OrderSaga, "o-5", reason="r"), "it ended compensated"),
        (lambda: rt.retry(OrderSaga, "o-4", reason="r", step="nope"), "no step 'nope'"),
        (lambda: rt.retry(OrderSaga, "o-4", reason="r", step="ship"), "not one of state"),
        (lambda: rt.retry(OrderSaga, "o-4", reason=" "), "who sends it and why"),
    ]
    for command, needle in refusals:
        with pytest.raises(OperationRefused, match=needle):
            command()
    with pytest.raises(UnknownInstanceError):
        rt.retry(OrderSaga, "no-such-order", reason="r")
    assert len(rt.history(OrderSaga, "o-4")) == before  # nothing was applied
