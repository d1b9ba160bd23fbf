"""``saga sagas retry|compensate|resume|cancel`` on the real stack: queued by the installed
executable, applied by a ``saga worker`` through the processing path, waited for, and kept
in the instance's history with who and why."""

from __future__ import annotations

import getpass

import pytest

from tests._saga_cli import assert_one_line_error
from tests.integration.worker._operators import (
    ORDERS_ONLY,
    effects,
    ok,
    place_waiting,
    repair,
    saga,
    shown,
    wait_dead_lettered,
    wait_for,
)
from tests.integration.worker.conftest import APP, Scene
from tests.integration.worker.test_versions import V1, V2_ONLY
from tests.sagas.shop import placed

pytestmark = pytest.mark.integration


def operator_entries(scene: Scene, instance_id: str) -> list[tuple[str, str, str, str, str]]:
    """(trigger, from, to, by, reason) of the entries operators made."""
    return [
        (e["trigger"], e["from"], e["to"], e["by"], e["reason"])
        for e in shown(scene, instance_id)["history"]
        if "by" in e
    ]


def test_retry_requests_the_failed_step_again_once_the_bug_is_fixed(scene: Scene) -> None:
    worker = scene.start()
    scene.orders.publish(placed("o-flaky"), "o-flaky")
    scene.orders.flush()
    wait_dead_lettered(scene, "o-flaky")  # the shipping service raised: the saga waits
    wait_for(scene, "o-flaky", "shipping", "running")
    repair(scene, "o-flaky")

    done = saga(scene, "sagas", "retry", "o-flaky", "--reason", "shipping fixed", "--by", "ops")
    assert ok(done).strip() == (
        "retry of test.OrderSaga o-flaky applied: shipping → shipping (history #4); "
        "emitted ShipOrder; operator retry by ops"
    )
    wait_for(scene, "o-flaky", "completed", "completed")
    assert effects(scene, "ship", "o-flaky") == 1
    assert operator_entries(scene, "o-flaky") == [
        ("operator:retry", "shipping", "shipping", "ops", "shipping fixed")
    ]
    assert scene.stop(worker) == 0


def test_cancel_and_compensate_roll_back_and_record_who_and_why(scene: Scene) -> None:
    worker = scene.start(ORDERS_ONLY, name="orders")  # nobody answers: orders wait
    place_waiting(scene, "o-cancel", "o-undo", "o-later")

    cancelled = saga(scene, "sagas", "cancel", "o-cancel", "--reason", "customer called")
    assert "signal cancel to test.OrderSaga o-cancel applied: checking_out → compensating" in ok(
        cancelled
    )
    undone = saga(scene, "sagas", "compensate", "o-undo", "--reason", "fraud", "--by", "risk")
    assert "compensate of test.OrderSaga o-undo applied: checking_out → compensating" in ok(undone)
    assert operator_entries(scene, "o-cancel") == [  # --by defaults to the OS user
        ("signal:cancel", "checking_out", "compensating", getpass.getuser(), "customer called")
    ]
    assert operator_entries(scene, "o-undo") == [
        ("operator:compensate", "checking_out", "compensating", "risk", "fraud")
    ]
    assert shown(scene, "o-undo")["failure"] == "operator compensate by risk: fraud"

    # The instance cannot take it any more: refused when sent, nothing queued.
    again = saga(scene, "sagas", "resume", "o-undo", "--reason", "oops")
    assert_one_line_error(
        again, "cannot resume instance 'o-undo' of saga test.OrderSaga: it is compensating"
    )

    # --no-wait returns at once; a worker that comes later applies what was queued.
    assert scene.stop(worker) == 0
    queued = saga(scene, "sagas", "compensate", "o-later", "--reason", "late", "--no-wait")
    assert ok(queued).startswith("queued compensate of test.OrderSaga o-later (id ")
    shown_queued = shown(scene, "o-later")
    assert [(w["kind"], w["name"]) for w in shown_queued["waiting"]] == [
        ("operation", "compensate")
    ]
    timed_out = saga(scene, "sagas", "retry", "o-later", "--reason", "r", "--timeout", "1")
    assert timed_out.returncode == 1
    assert "no worker applied retry of test.OrderSaga o-later within 1s" in timed_out.stderr
    scene.start(ORDERS_ONLY, name="orders")
    wait_for(scene, "o-later", "compensating", "compensating")
    triggers = [e[0] for e in operator_entries(scene, "o-later")]
    assert triggers == ["operator:compensate", "operator:retry"]  # in the order sent
    later = shown(scene, "o-later")["history"][-1]
    assert later["note"].startswith("ignored: operator retry refused: it is compensating")


def test_resume_carries_on_where_a_retired_version_parked_it(scene: Scene) -> None:
    old = scene.start(*V1, name="orders")  # no shipping service yet: waits in shipping
    scene.orders.publish(placed("late-v1"), "late-v1")
    scene.orders.flush()
    wait_for(scene, "late-v1", "shipping", "running")
    assert scene.stop(old) == 0
    new = scene.start(*V2_ONLY, name="orders")
    shipping = scene.start(f"{APP}:shipping", name="shipping")
    wait_for(scene, "late-v1", "failed", "failed")  # version 1 is not hosted any more
    parked = shown(scene, "late-v1")
    assert "run a worker that hosts it, then resume the instance" in parked["parked_reason"]
    assert parked["parked_from"] == "shipping"
    assert scene.stop(new) == 0

    queued = saga(scene, "sagas", "resume", "late-v1", "--reason", "v1 back", "--no-wait")
    ok(queued)
    scene.start(*V1, name="orders")  # version 1 hosted again: it carries on from shipping
    wait_for(scene, "late-v1", "completed", "completed")
    resumed = next(e for e in shown(scene, "late-v1")["history"] if "by" in e)
    assert (resumed["trigger"], resumed["from"], resumed["to"]) == (
        "operator:resume",
        "failed",
        "shipping",
    )
    assert [kind for kind, _ in resumed["emitted"]] == ["test.shop.ShipOrder"]
    assert effects(scene, "capture", "late-v1") == 1
    assert scene.stop(shipping) == 0
