"""A handler that keeps failing never blocks its partition: tried a few times with backoff,
then the record goes to the dead-letter topic, once, and the others flow on."""

from __future__ import annotations

import pytest

from saga.testing import eventually
from tests.integration.worker._support import query
from tests.integration.worker.conftest import Scene
from tests.sagas.shop import placed

pytestmark = pytest.mark.integration


def test_a_failing_handler_is_retried_then_dead_lettered_and_the_rest_flows(scene: Scene) -> None:
    worker = scene.start()
    scene.orders.publish(placed("o-poison"), "o-poison")
    scene.place(40)  # behind it on the same partitions
    scene.wait_all_ended()
    dead_letters = f"{scene.prefix}shop.dead-letters"

    def dead() -> list[tuple[object, ...]]:
        return query(
            scene.url,
            "SELECT event_type, published_at IS NOT NULL FROM saga_outbox "
            f"WHERE topic = '{dead_letters}'",
        )

    eventually(lambda: dead() == [("test.shop.ShipOrder", True)], timeout=60, what="dead letter")
    poisoned = query(scene.url, "SELECT state FROM saga_instance WHERE instance_id = 'o-poison'")
    assert poisoned == [("shipping",)]  # waits for an answer that will not come: visible
    log = scene.log(worker)
    assert "shipping failed for" in log
    assert "dead-lettering it" in log
    assert scene.stop(worker) == 0
    statuses = query(
        scene.url,
        "SELECT count(*) FROM saga_instance WHERE status IN ('completed', 'compensated')",
    )
    assert statuses == [(40,)]


def test_events_nobody_here_takes_are_skipped_and_undecodable_ones_dead_lettered(
    scene: Scene,
) -> None:
    worker = scene.start()
    topic = f"{scene.prefix}test.shop"
    producer = scene.orders.producer
    # Another service's event on the shared topic: this process does not even know its class.
    producer.produce(
        topic, key=b"x", value=b"\xc3\x01garbage", headers=[("event-type", b"other.service.Thing")]
    )
    producer.produce(topic, key=b"y", value=b"not avro at all")  # no envelope: undecodable
    scene.place(20)
    scene.wait_all_ended()
    dead_letters = f"{scene.prefix}shop.dead-letters"
    rows = query(scene.url, f"SELECT key FROM saga_outbox WHERE topic = '{dead_letters}'")
    assert rows == [(b"y",)]
    assert scene.stop(worker) == 0
    scene.check()
    # No contract here names it: said once, and counted (saga_events_skipped_total).
    log = scene.log(worker, whole=True)
    assert log.count("other.service.Thing events (first at") == 1, log
    assert "skipping them" in log


def _unknown(scene: Scene) -> None:
    """A record of an event type no contract of the worker names, before 20 orders."""
    scene.orders.producer.produce(
        f"{scene.prefix}test.shop",
        key=b"x",
        value=b"\xc3\x01new",
        headers=[("event-type", b"test.shop.OrderAmended")],
    )
    scene.place(20)


def test_a_worker_told_to_stop_at_unknown_events_stops_and_loses_nothing(scene: Scene) -> None:
    worker = scene.start(options=("--unknown-events", "stop"))
    _unknown(scene)
    code = eventually(worker.poll, timeout=90, what="the worker stopped at the unknown event")
    assert code == 2, scene.log(worker)
    errors = [line for line in scene.log(worker, whole=True).splitlines() if "error:" in line]
    assert len(errors) == 1, errors
    assert "'test.shop.OrderAmended'" in errors[0]
    assert "Traceback" not in scene.log(worker, whole=True)
    # Deployed again with a choice: every order goes through, each effect once.
    again = scene.start()
    scene.wait_all_ended(exits=(2,))
    assert scene.stop(again) == 0
    scene.check()


def test_unknown_events_can_be_dead_lettered_for_a_later_replay(scene: Scene) -> None:
    worker = scene.start(options=("--unknown-events", "dead-letter"))
    _unknown(scene)
    scene.wait_all_ended()
    dead_letters = f"{scene.prefix}shop.dead-letters"
    rows = query(
        scene.url, f"SELECT key, event_type FROM saga_outbox WHERE topic = '{dead_letters}'"
    )
    assert rows == [(b"x", "test.shop.OrderAmended")]
    assert scene.stop(worker) == 0
    scene.check()


def test_an_unknown_choice_is_one_line(scene: Scene) -> None:
    worker = scene.start(options=("--unknown-events", "ignore"))
    assert eventually(worker.poll, timeout=60, what="the worker refused") == 2
    log = scene.log(worker, whole=True)
    assert "--unknown-events 'ignore': choose one of skip, dead-letter, stop" in log
    assert "Traceback" not in log
