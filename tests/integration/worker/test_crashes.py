"""Workers killed at named points, racing, joining and leaving: every saga ends, every effect
happens once, every history is a path of the definition.

Workers run as ``saga worker`` processes and die at the step ``SAGA_CRASH_AT`` names.
"""

from __future__ import annotations

import signal

import pytest

from saga.testing import eventually
from tests.integration.worker._support import query
from tests.integration.worker.app import TicketOpened
from tests.integration.worker.conftest import APP, Scene

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "crash_at",
    [
        "worker.after_db_commit:12",  # committed in PostgreSQL, offsets not committed
        "worker.in_batch:30",  # inside the transaction, handlers half done
    ],
)
def test_a_worker_killed_at_a_crash_point_loses_nothing_and_repeats_nothing(
    scene: Scene, crash_at: str
) -> None:
    first = scene.start(crash_at=crash_at, batch=20)
    scene.place(150)
    scene.died(first, signal.SIGKILL)
    assert scene.ended() < 150, "the worker died part-way"
    scene.place(50)  # more while no worker runs
    second = scene.start()
    scene.wait_all_ended()
    assert scene.stop(second) == 0
    scene.check()


def _tickets(scene: Scene, count: int) -> None:
    for i in range(count):
        scene.orders.publish(TicketOpened(ticket_id=f"t{i}"), f"t{i}")
    scene.orders.flush()


def _deadlines_fired(scene: Scene) -> list[tuple[object, ...]]:
    """(ticket, how many deadline entries) for every ticket."""
    return query(
        scene.url,
        "SELECT instance_id, count(*) FILTER (WHERE trigger LIKE 'deadline:%') "
        "FROM saga_history WHERE saga = 'test.TicketSaga' GROUP BY 1",
    )


def _expired(scene: Scene) -> int:
    rows = query(
        scene.url,
        "SELECT count(*) FROM saga_instance WHERE saga = 'test.TicketSaga' AND state = 'expired'",
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def test_a_deadline_claimed_by_a_worker_killed_before_its_commit_fires_later_once(
    scene: Scene,
) -> None:
    first = scene.start(f"{APP}:TicketSaga", name="tickets", crash_at="worker.after_claim_deadline")
    _tickets(scene, 20)
    scene.died(first, signal.SIGKILL)  # held the due deadlines, then died
    assert _expired(scene) == 0
    second = scene.start(f"{APP}:TicketSaga", name="tickets")
    eventually(lambda: _expired(scene) == 20, timeout=60, what="every ticket expired")
    assert scene.stop(second) == 0
    assert sorted(n for _, n in _deadlines_fired(scene)) == [1] * 20


def test_two_workers_racing_for_the_same_due_deadlines_fire_each_once(scene: Scene) -> None:
    workers = [scene.start(f"{APP}:TicketSaga", name="tickets") for _ in range(2)]
    _tickets(scene, 300)
    eventually(lambda: _expired(scene) == 300, timeout=90, what="every ticket expired")
    for worker in workers:
        assert scene.stop(worker) == 0
    assert sorted(n for _, n in _deadlines_fired(scene)) == [1] * 300


def test_a_worker_added_and_one_killed_while_a_thousand_sagas_run(scene: Scene) -> None:
    first = scene.start()
    scene.place(300)
    eventually(lambda: scene.ended() > 100, timeout=60, what="the first worker at work")
    second = scene.start()  # joins the group: the partitions are shared out again
    scene.place(400)
    eventually(lambda: scene.ended() > 400, timeout=60, what="both at work")
    first.kill()  # leaves without a word: its partitions move after the session times out
    scene.place(300)
    scene.wait_all_ended(timeout=180)
    assert scene.stop(second) == 0
    scene.check()


def test_sigterm_finishes_the_batch_and_leaves_within_seconds(scene: Scene) -> None:
    worker = scene.start()
    scene.place(100)
    eventually(lambda: scene.ended() > 10, timeout=60, what="the worker at work")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0, scene.log(worker)
    assert "stopped" in scene.log(worker)
    again = scene.start()
    scene.wait_all_ended(exits=(2,))
    assert scene.stop(again) == 0
    scene.check()


def test_a_worker_whose_relay_dies_stops_with_one_line_and_a_restart_publishes_the_rest(
    scene: Scene,
) -> None:
    # A relay thread that died of a bug would leave the worker consuming while nothing it
    # writes is published: every saga would wait for ever. The worker stops instead.
    worker = scene.start(crash_at="relay.after_mark:3:raise")
    scene.place(200)
    eventually(lambda: worker.poll() is not None, timeout=90, what="the worker stopped")
    log = scene.log(worker)
    assert worker.returncode == 2, log
    assert "the worker's relay stopped (crash point relay.after_mark reached)" in log, log
    assert "restart the worker" in log.splitlines()[-1], log
    again = scene.start()
    scene.wait_all_ended(exits=(2,))
    assert scene.stop(again) == 0
    scene.check()
