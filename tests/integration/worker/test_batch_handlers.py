"""The worker's shop with batch handlers (:mod:`tests.integration.worker.app_batch`): killed
inside a batch handler after its writes, a worker leaves nothing of the batch (its writes,
inbox claims and events are one transaction), and a restarted one applies every effect
once; a request that fails in a batch is dead-lettered alone while the others go through."""

from __future__ import annotations

import re
import signal
from collections import Counter

import pytest
from sqlalchemy import text

from saga.postgres.connect import engine_for
from saga.testing import eventually
from tests.integration.worker._support import effects_twice, query
from tests.integration.worker.app_batch import BATCH_CALL_DDL
from tests.integration.worker.conftest import Scene, order_id_of
from tests.sagas.shop import ShipOrder

pytestmark = pytest.mark.integration

APP_BATCH = "tests.integration.worker.app_batch"


def prepare(scene: Scene) -> None:
    engine = engine_for(scene.url)
    try:
        with engine.begin() as conn:
            conn.execute(text(BATCH_CALL_DDL))
    finally:
        engine.dispose()


def expected_effects(count: int) -> Counter[str]:
    """Each effect the first ``count`` orders make (see ``outcome_of``): every one reserves;
    a declined one (every tenth from 5) is released; a fragile one (from 3) is refused
    shipment, then released and voided; the others ship and are captured."""
    effects: Counter[str] = Counter()
    for i in range(count):
        effects["reserve"] += 1
        if i % 10 == 5:
            effects["release"] += 1
            continue
        effects["authorize"] += 1
        if order_id_of(i).endswith("-fragile"):
            effects.update(["release", "void"])
        else:
            effects.update(["ship", "capture"])
    return effects


def effect_counts(scene: Scene) -> Counter[str]:
    rows = query(scene.url, "SELECT kind, count(*) FROM effect GROUP BY kind")
    return Counter({str(kind): int(n) for kind, n in rows})  # type: ignore[call-overload]


def largest_batches(scene: Scene) -> dict[str, int]:
    rows = query(scene.url, "SELECT handler, max(size) FROM batch_call GROUP BY handler")
    return {str(handler): int(size) for handler, size in rows}  # type: ignore[call-overload]


def test_a_worker_killed_inside_a_batch_handler_leaves_nothing_of_the_batch(
    scene: Scene,
) -> None:
    prepare(scene)
    # Killed the 5th time a batch handler has written its batch, before the commit.
    first = scene.start(APP_BATCH, crash_at="app.batch_written:5", batch=20)
    scene.place(150)
    scene.died(first, signal.SIGKILL)
    assert scene.ended() < 150, "the worker died part-way"
    scene.place(50)  # more while no worker runs
    second = scene.start(APP_BATCH)
    scene.wait_all_ended()
    assert scene.stop(second) == 0
    scene.check()  # every saga ended as its order says, no effect twice, legal histories
    assert effect_counts(scene) == expected_effects(200)  # and none missing
    batches = largest_batches(scene)
    assert batches["reserve"] > 1, batches  # requests really came in batches
    assert batches["authorize"] > 1, batches


def test_a_request_failing_in_a_batch_is_dead_lettered_alone(scene: Scene) -> None:
    prepare(scene)
    orders = [f"s{i}" + ("-poison" if i == 7 else "") for i in range(20)]
    for order_id in orders:  # one key, one partition: the worker's first poll takes them all
        scene.orders.publish(ShipOrder(order_id=order_id, sku="book", quantity=1), "one-key")
    scene.orders.flush()
    worker = scene.start(f"{APP_BATCH}:shipping")  # the shipping service alone

    def shipped() -> list[str] | None:
        dead = query(
            scene.url,
            "SELECT count(*) FROM saga_outbox WHERE topic = :topic",
            topic=f"{scene.prefix}shop.dead-letters",
        )
        rows = query(scene.url, "SELECT order_id FROM effect WHERE kind = 'ship' ORDER BY seq")
        return [str(r[0]) for r in rows] if dead == [(1,)] and len(rows) == 19 else None

    done = eventually(shipped, timeout=60, what="19 shipped, 1 dead letter")
    assert sorted(done) == sorted(o for o in orders if o != "s7-poison")
    assert effects_twice(scene.url) == []
    log = scene.log(worker, whole=True)
    # The first try was the whole batch; none of it was blamed for the failure.
    first = re.search(r"ship: (\d+) requests, s7-poison among them", log)
    assert first is not None, log
    assert int(first.group(1)) > 1, log
    blamed = set(re.findall(r"shipping failed (?:for|\d+ times for) ([^\s;]+)", log))
    assert len(blamed) == 1, log  # one record, the poisoned one, and no other
    assert "dead-lettering it" in log
    # Then one request at a time: each of the others in a call of its own.
    sizes = query(scene.url, "SELECT size FROM batch_call WHERE handler = 'ship'")
    assert sizes == [(1,)] * 19
    assert scene.stop(worker) == 0
