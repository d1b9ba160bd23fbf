"""Outages while sagas run: the broker crashed and away for 30 s, PostgreSQL crashed and
restarted.
The worker is never restarted: it waits both out, and every saga ends, every effect once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from saga.testing import eventually
from tests.integration._private_stack import PrivateStack
from tests.integration.worker.conftest import Scene, make_scene, running

pytestmark = pytest.mark.integration

BROKER_DOWN_SECONDS = 30


@pytest.fixture
def outage_scene(private_stack: PrivateStack, tmp_path: Path) -> Iterator[Scene]:
    url = private_stack.new_database()
    with running(make_scene(url, private_stack.bootstrap, tmp_path)) as made:
        yield made


class SteadyOrders:
    """Places orders from a thread at a steady pace until stopped."""

    def __init__(self, scene: Scene, per_second: float) -> None:
        self.scene = scene
        self.pause = 1 / per_second
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="orders")

    def _run(self) -> None:
        while not self.stop.wait(self.pause):  # the load's pace, not a wait for anything
            self.scene.place(1, flush=False)  # through outages, the producer holds them

    def __enter__(self) -> SteadyOrders:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(120)
        self.scene.orders.flush()


def test_the_broker_away_30_seconds_while_sagas_run(
    private_stack: PrivateStack, outage_scene: Scene
) -> None:
    scene = outage_scene
    worker = scene.start()
    with SteadyOrders(scene, per_second=20):
        eventually(lambda: scene.ended() > 40, timeout=90, what="sagas ending")
        # Frozen, not stopped: a single broker that restarts mid-commit can lose the
        # commit's markers (see NativeStack.stop_kafka), which no client can make up for.
        private_stack.stack.freeze_kafka()
        try:
            down_since = time.monotonic()
            eventually(
                lambda: time.monotonic() - down_since >= BROKER_DOWN_SECONDS,
                timeout=BROKER_DOWN_SECONDS + 30,
                interval=0.5,
                what="the outage's length",
            )
            assert worker.poll() is None, scene.log(worker)
        finally:
            private_stack.stack.thaw_kafka()
        ended = scene.ended()
        scene.wait_ended(ended + 40)
    scene.wait_all_ended(timeout=180)
    assert worker.poll() is None, "the worker was never restarted and must still run"
    assert scene.stop(worker) == 0
    scene.check()


def test_postgres_crashed_and_restarted_while_sagas_run(
    private_stack: PrivateStack, outage_scene: Scene
) -> None:
    scene = outage_scene
    worker = scene.start()
    with SteadyOrders(scene, per_second=20):
        eventually(lambda: scene.ended() > 40, timeout=90, what="sagas ending")
        private_stack.restart_postgres()
        ended = scene.ended()
        scene.wait_ended(ended + 40)
    scene.wait_all_ended(timeout=180)
    assert worker.poll() is None, "the worker was never restarted and must still run"
    assert scene.stop(worker) == 0
    scene.check()
