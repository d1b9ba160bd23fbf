"""``saga orphans ...`` and ``saga dead-letters ...`` on the real stack: an orphan event and a
dead letter go back to their topic through the outbox with the consumer's inbox claim
released, so that the worker handles them again, once; a discarded event is gone. Each
action is recorded with who did it and why."""

from __future__ import annotations

import pytest

from saga.testing import eventually
from tests._saga_cli import assert_one_line_error
from tests.integration.worker._operators import (
    dead_letters,
    effects,
    json_lines,
    ok,
    repair,
    saga,
    wait_dead_lettered,
    wait_for,
)
from tests.integration.worker._support import query
from tests.integration.worker.conftest import Scene
from tests.sagas.shop import StockReserved, placed

pytestmark = pytest.mark.integration


def test_a_dead_letter_goes_back_to_its_topic_once_and_is_handled_again(scene: Scene) -> None:
    worker = scene.start()
    scene.orders.publish(placed("o-flaky"), "o-flaky")
    scene.place(3)  # others flow past it
    dead = wait_dead_lettered(scene, "o-flaky")
    assert dead["dead_letter"].startswith(f"{scene.prefix}shop.dead-letters[")
    assert dead["source"].startswith(f"{scene.prefix}test.shop[")
    assert (dead["event_type"], dead["group"], dead["replayed_at"]) == (
        "test.shop.ShipOrder",
        "shipping",  # the inbox its claim is under
        None,
    )
    assert dead["error"] == "RuntimeError: cannot handle o-flaky yet"
    view = ok(saga(scene, "dead-letters", "list", f"{scene.prefix}shop.dead-letters"))
    assert dead["dead_letter"] in view  # whole, on one line
    assert "consumer shipping" in view
    repair(scene, "o-flaky")

    sent = saga(
        scene, "dead-letters", "replay", dead["dead_letter"], "--reason", "fixed", "--by", "ana"
    )
    assert ok(sent).strip() == (
        f"{dead['dead_letter']} (test.shop.ShipOrder) sent back to {scene.prefix}test.shop; "
        "released the inbox claim of shipping"
    )
    wait_for(scene, "o-flaky", "completed", "completed")
    assert effects(scene, "ship", "o-flaky") == 1
    [listed] = [d for d in dead_letters(scene) if d["dead_letter"] == dead["dead_letter"]]
    assert listed["replayed_at"] is not None
    assert len(dead_letters(scene)) == 1  # it did not fail again

    twice = saga(scene, "dead-letters", "replay", dead["dead_letter"], "--reason", "again")
    assert_one_line_error(twice, "was sent back already", "--again")
    wait_for(scene, "o-flaky", "completed", "completed")
    assert effects(scene, "ship", "o-flaky") == 1
    assert actions(scene) == [("dead-letters.replay", dead["dead_letter"], "ana", "fixed")]
    assert scene.stop(worker) == 0


def actions(scene: Scene) -> list[tuple[object, ...]]:
    return query(
        scene.url, "SELECT action, target, by, reason FROM saga_operator_action ORDER BY id"
    )


def orphans(scene: Scene) -> list[dict[str, object]]:
    return json_lines(saga(scene, "orphans", "list", "--json"))


def test_an_orphan_event_is_sent_back_or_discarded(scene: Scene) -> None:
    worker = scene.start()
    scene.orders.publish(StockReserved(order_id="ghost", reservation_id="r"), "ghost")
    scene.orders.flush()
    [first] = eventually(lambda: orphans(scene), timeout=60, what="the event kept")
    assert (first["saga"], first["instance_id"], first["event_type"]) == (
        "test.OrderSaga",
        "ghost",
        "test.shop.StockReserved",
    )
    assert "no instance 'ghost'" in str(first["reason"])
    assert f"#{first['id']}  test.OrderSaga ghost  StockReserved" in ok(
        saga(scene, "orphans", "list")
    )

    sent = saga(scene, "orphans", "replay", str(first["id"]), "--reason", "try", "--by", "bo")
    assert "sent back to" in ok(sent)
    # The saga handled it again (its claim was released): still no instance, kept anew.
    [again] = eventually(
        lambda: [p for p in orphans(scene) if p["id"] != first["id"]],
        timeout=60,
        what="the event handled again and kept anew",
    )
    assert again["event_id"] == first["event_id"]
    assert_one_line_error(
        saga(scene, "orphans", "replay", str(first["id"]), "--reason", "r"),
        f"no orphan event with id {first['id']}",
    )

    gone = saga(scene, "orphans", "discard", str(again["id"]), "--reason", "ghost", "--by", "bo")
    assert "discarded" in ok(gone)
    assert orphans(scene) == []
    assert actions(scene) == [
        ("orphans.replay", str(first["id"]), "bo", "try"),
        ("orphans.discard", str(again["id"]), "bo", "ghost"),
    ]
    claims = query(
        scene.url,
        f"SELECT count(*) FROM saga_inbox WHERE event_id = '{again['event_id']}' "
        "AND consumer_group = 'test.OrderSaga'",
    )
    assert claims == [(1,)]  # kept: a redelivery is never applied
    assert scene.stop(worker) == 0
