"""Outages under load: the broker unreachable for a while; PostgreSQL crashed and restarted.

Writers keep committing outbox rows while the relay and an inbox consumer run as processes
(``_apps``) against a private stack. Neither process is restarted: they must get through the
outage by themselves. At the end every committed outbox row is on the topic exactly once
(read_committed) in per-key order, and applied exactly once, in per-key order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from saga.postgres.connect import engine_for
from saga.testing import eventually
from tests._saga_cli import (
    assert_sigterm_exits_0,
    env_with_endpoints,
    saga_process,
    wait_until_logged,
)
from tests.integration._private_stack import PrivateStack
from tests.integration.outbox._apps import EFFECT_DDL
from tests.integration.outbox._procs import Procs, processes
from tests.integration.outbox._support import (
    KeyWriter,
    SteadyWriter,
    applied_count,
    assert_applied_exactly,
    assert_on_topic_exactly,
    outbox_counts,
    pg,
    read_topic,
    total_written,
    wait_until_published,
)

pytestmark = pytest.mark.integration

BROKER_DOWN_SECONDS = 30
WRITERS = 2
KEYS_PER_WRITER = 6
PACE = 0.03  # seconds between one writer's transactions: a steady load, not a flood


class Scene:
    """One database and topic on the private stack, with writers, relay and consumer."""

    def __init__(self, stack: PrivateStack, procs: Procs) -> None:
        self.stack = stack
        self.procs = procs
        self.url = stack.new_database()
        self.topic = stack.new_topic()
        with pg(self.url) as conn:
            conn.execute(EFFECT_DDL)
        self.engine: Engine = engine_for(self.url, pool_pre_ping=True)
        self.writer = KeyWriter(self.engine, self.topic, pad=100)
        self.writers = [
            SteadyWriter(
                self.writer,
                self.url,
                [f"order-{w}-{k}" for k in range(KEYS_PER_WRITER)],
                pace=PACE,
            )
            for w in range(WRITERS)
        ]
        bootstrap = stack.bootstrap
        self.relay = procs.start("relay", self.url, bootstrap, "6")
        group = f"effects-{self.topic}"
        self.consumer = procs.start("consume", self.url, bootstrap, self.topic, group)

    def start_writing(self) -> None:
        for writer in self.writers:
            writer.start()

    def stop_writing(self) -> int:
        for writer in self.writers:
            writer.stop()
        return total_written(self.writer)

    def assert_alive(self) -> None:
        """Neither the relay nor the consumer died (they are never restarted here)."""
        for proc in (self.relay, self.consumer):
            assert proc.poll() is None, self.procs.log_of(self.procs.started.index(proc))[-3000:]

    def flowing(self, beyond: int) -> None:
        """Wait until more than ``beyond`` events were published and applied."""

        def both() -> bool:
            self.assert_alive()
            return outbox_counts(self.url)[1] > beyond and applied_count(self.url) > beyond

        with self.explained():
            eventually(
                both, timeout=90, interval=0.2, what=f"more than {beyond} published and applied"
            )

    def caught_up(self, total: int) -> None:
        """Wait until all ``total`` events are published and applied."""

        def done() -> bool:
            self.assert_alive()
            return outbox_counts(self.url)[1] == total and applied_count(self.url) >= total

        with self.explained():
            eventually(done, timeout=90, interval=0.2, what=f"all {total} published and applied")

    @contextmanager
    def explained(self) -> Iterator[None]:
        """A check failing inside also prints what the run looks like (see ``where``)."""
        try:
            yield
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.where()}") from None

    def where(self) -> str:
        """What a stalled run looks like: rows left per lane, events applied."""
        with pg(self.url) as conn:
            left = conn.execute(
                "SELECT lane, count(*) FROM saga_outbox WHERE published_at IS NULL "
                "GROUP BY lane ORDER BY lane"
            ).fetchall()
        logs = "\n".join(
            f"--- {name} log, last lines:\n{self.procs.log_of(index)[-2500:]}"
            for index, name in enumerate(("relay", "consumer"))
        )
        return (
            f"unpublished per lane {left}, applied {applied_count(self.url)}, "
            f"topic watermarks {self.stack.watermarks(self.topic)}\n{logs}"
        )

    def abandon(self) -> None:
        """After a failure: stop the writers without judging them; free the engine."""
        for writer in self.writers:
            writer.abandon()
        self.engine.dispose()

    def settle_and_check(self) -> None:
        total = total_written(self.writer)
        expected = dict(self.writer.next_n)
        rows, _, refused = outbox_counts(self.url)
        assert rows == total, "the outbox holds rows no writer counted as committed"
        assert refused == 0
        self.caught_up(total)
        # Both got through the outage on their own: neither died nor was restarted.
        self.assert_alive()
        for proc in (self.relay, self.consumer):
            assert self.procs.stop(proc) == 0
        contents = read_topic(self.stack.bootstrap, self.topic, expect=total)
        with self.explained():
            contents.assert_exactly(expected)
        assert_applied_exactly(self.url, expected)


@pytest.fixture
def scene(private_stack: PrivateStack, tmp_path: Path) -> Iterator[Scene]:
    with processes(tmp_path) as procs:
        made = Scene(private_stack, procs)
        try:
            yield made
        finally:
            made.abandon()


def test_broker_unreachable_while_writers_commit(private_stack: PrivateStack, scene: Scene) -> None:
    scene.start_writing()
    scene.flowing(beyond=50)

    # Frozen, not stopped: a single broker that restarts mid-commit can lose the commit's
    # markers (see NativeStack.stop_kafka), which no client can make up for.
    private_stack.stack.freeze_kafka()
    at_stop = total_written(scene.writer)
    down_since = time.monotonic()

    def outage_over() -> bool:
        # The outage lasts its full length, and the writers must keep committing through it.
        return (
            time.monotonic() - down_since >= BROKER_DOWN_SECONDS
            and total_written(scene.writer) - at_stop > 100
        )

    try:
        eventually(outage_over, timeout=BROKER_DOWN_SECONDS + 30, interval=0.5, what="outage")
        during = total_written(scene.writer) - at_stop
        backlog = total_written(scene.writer) - outbox_counts(scene.url)[1]
        assert backlog >= during, "rows counted as published while no broker was there"
    finally:
        private_stack.stack.thaw_kafka()
    scene.flowing(beyond=at_stop + during)  # still writing while the relay finds the broker
    scene.stop_writing()
    scene.settle_and_check()


def test_postgres_restarted_immediately_under_load(
    private_stack: PrivateStack, scene: Scene
) -> None:
    scene.start_writing()
    scene.flowing(beyond=50)

    private_stack.restart_postgres()
    after_restart = total_written(scene.writer)
    scene.flowing(beyond=after_restart)
    scene.stop_writing()
    failed = sum(w.failed + w.unsure for w in scene.writers)
    assert failed > 0, "no writer noticed the restart"

    # Once more with nothing to do: the relay then sits in LISTEN and the consumer in poll.
    total = total_written(scene.writer)
    scene.caught_up(total)
    private_stack.restart_postgres()
    scene.writer.write([f"order-0-{k}" for k in range(KEYS_PER_WRITER)])
    scene.settle_and_check()


def test_relay_started_while_the_broker_is_down_publishes_once_it_is_back(
    private_stack: PrivateStack, tmp_path: Path
) -> None:
    url = private_stack.new_database()
    topic = private_stack.new_topic()
    engine = engine_for(url)
    writer = KeyWriter(engine, topic, pad=20)
    for i in range(20):
        writer.write([f"k{i % 4}", f"k{(i + 1) % 4}"])
    engine.dispose()
    total = total_written(writer)
    env = env_with_endpoints(tmp_path / "stack", url, private_stack.bootstrap)
    log = tmp_path / "relay.log"
    private_stack.stack.stop_kafka()
    broker_down = True
    try:
        with saga_process("relay", env=env, log=log) as relay:
            wait_until_logged(relay, log, "did not answer", what="relay reports the broker away")
            private_stack.stack.start_kafka()
            broker_down = False
            wait_until_published(url, total, timeout=120, what="published")
            assert_sigterm_exits_0(relay, log)
    finally:
        if broker_down:  # the other tests of the module need it
            private_stack.stack.start_kafka()
    assert_on_topic_exactly(private_stack.bootstrap, topic, writer)
