"""SIGKILL and SIGSTOP at named crash points; then outbox vs topic vs effects.

Relay and consumer run as processes (``_apps``) and die at the exact step named by
``SAGA_CRASH_AT``. At the end: every committed outbox row is on the topic exactly once
(read_committed), in per-key order, and applied exactly once, in per-key order.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from saga.testing import eventually
from tests.integration._kafka import new_topic
from tests.integration.outbox._apps import EFFECT_DDL, dead_letter_topic_of
from tests.integration.outbox._procs import Procs, is_stopped
from tests.integration.outbox._support import (
    KeyWriter,
    Ticked,
    applied_by_key,
    applied_count,
    assert_applied_exactly,
    assert_on_topic_exactly,
    pg,
    serializer,
    total_written,
    wait_until_published,
)
from tests.integration.outbox.conftest import RelayFactory

pytestmark = pytest.mark.integration

KEYS = [f"order-{i}" for i in range(16)]


def write_rounds(writer: KeyWriter, rounds: int) -> None:
    for i in range(rounds):
        writer.write(KEYS[i % 4 :: 3])


@pytest.fixture
def published_backlog(
    outbox_url: str, engine: Engine, kafka_topic: str, running_relay: RelayFactory
) -> KeyWriter:
    """Where the consumer crash tests start: 150 rounds of events written and published by
    a relay that keeps running, and the effect table empty; returns their writer."""
    with pg(outbox_url) as conn:
        conn.execute(EFFECT_DDL)
    writer = KeyWriter(engine, kafka_topic)
    write_rounds(writer, 150)
    running_relay(outbox_url)
    wait_until_published(outbox_url, total_written(writer), timeout=60)
    return writer


def died_with(proc: subprocess.Popen[bytes], sig: signal.Signals, procs: Procs) -> None:
    code = eventually(lambda: proc.poll(), timeout=60, what="process reached its crash point")
    assert code == -sig, procs.log_of(procs.started.index(proc))


def publish_the_rest(procs: Procs, url: str, bootstrap: str, writer: KeyWriter) -> None:
    """A relay started after the crash publishes what is left, then stops."""
    second = procs.start("relay", url, bootstrap, "3")
    wait_until_published(url, total_written(writer), timeout=60)
    procs.stop(second)


def test_relay_killed_after_the_broker_acknowledged_before_marking(
    outbox_url: str, engine: Engine, kafka_topic: str, kafka_bootstrap: str, procs: Procs
) -> None:
    writer = KeyWriter(engine, kafka_topic)
    write_rounds(writer, 200)
    # Small batches: several transactions, the third one killed between commit and mark.
    first = procs.start(
        "relay", outbox_url, kafka_bootstrap, "3", "100", crash_at="relay.after_commit:3"
    )
    died_with(first, signal.SIGKILL, procs)
    write_rounds(writer, 50)
    publish_the_rest(procs, outbox_url, kafka_bootstrap, writer)
    # The restarted relay found rows on Kafka that were never marked, and did not resend them.
    assert re.search(r"marked [1-9]\d* rows that an earlier relay published", procs.log_of(1))
    assert_on_topic_exactly(kafka_bootstrap, kafka_topic, writer)


def test_relay_killed_before_its_commit_publishes_nothing_twice(
    outbox_url: str, engine: Engine, kafka_topic: str, kafka_bootstrap: str, procs: Procs
) -> None:
    writer = KeyWriter(engine, kafka_topic)
    write_rounds(writer, 100)
    first = procs.start(
        "relay", outbox_url, kafka_bootstrap, "3", "100", crash_at="relay.before_commit:2"
    )
    died_with(first, signal.SIGKILL, procs)
    publish_the_rest(procs, outbox_url, kafka_bootstrap, writer)
    assert_on_topic_exactly(kafka_bootstrap, kafka_topic, writer)


@pytest.mark.parametrize("crash_at", ["inbox.after_db_commit:3", "inbox.in_handler:250"])
def test_consumer_killed_applies_every_event_once(
    crash_at: str,
    outbox_url: str,
    kafka_topic: str,
    kafka_bootstrap: str,
    procs: Procs,
    published_backlog: KeyWriter,
) -> None:
    writer = published_backlog
    total = total_written(writer)
    group = f"effects-{kafka_topic}"
    args = ("consume", outbox_url, kafka_bootstrap, kafka_topic, group)
    first = procs.start(*args, crash_at=crash_at)
    died_with(first, signal.SIGKILL, procs)
    with pg(outbox_url) as conn:
        row = conn.execute("SELECT count(*) FROM effect").fetchone()
    assert row is not None
    assert 0 < row[0] < total, "the consumer died part-way"
    write_rounds(writer, 30)  # more while the consumer is down
    total = total_written(writer)
    second = procs.start(*args)

    eventually(lambda: applied_count(outbox_url) >= total, timeout=60, what="all applied")
    procs.stop(second)
    assert_applied_exactly(outbox_url, dict(writer.next_n))


@pytest.mark.parametrize(
    "pause_at",
    [
        "relay.after_commit:2:stop",  # committed, rows not marked
        "relay.before_commit:2:stop",  # records produced, transaction open
    ],
)
def test_a_paused_relay_cannot_publish_after_another_took_its_lanes(
    pause_at: str,
    outbox_url: str,
    engine: Engine,
    kafka_topic: str,
    kafka_bootstrap: str,
    procs: Procs,
) -> None:
    writer = KeyWriter(engine, kafka_topic)
    zombie = procs.start("relay", outbox_url, kafka_bootstrap, "2", "100", crash_at=pause_at)

    def zombie_holds_all() -> bool:
        with pg(outbox_url) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT owner), count(*) FROM saga_relay_lane "
                "WHERE owner IS NOT NULL"
            ).fetchone()
        return row == (1, 8)

    eventually(zombie_holds_all, timeout=60, what="first relay holds every lane")
    done = threading.Event()

    def keep_writing() -> None:
        for i in range(400):
            if done.is_set():
                return
            writer.write(KEYS[i % 4 :: 3])

    background = threading.Thread(target=keep_writing)
    background.start()
    eventually(lambda: zombie.poll() is None and is_stopped(zombie.pid), timeout=60, what="paused")
    other = procs.start("relay", outbox_url, kafka_bootstrap, "2")
    background.join(60)
    total = total_written(writer)
    wait_until_published(outbox_url, total, timeout=60, what="taken over")
    zombie.send_signal(signal.SIGCONT)  # it wakes up believing it still holds its lanes
    write_rounds(writer, 100)
    total = total_written(writer)
    wait_until_published(outbox_url, total, timeout=60)
    assert procs.stop(other) == 0
    # Fenced, the zombie carried on (with the lanes it was given back): it did not crash.
    assert procs.stop(zombie) == 0, procs.log_of(0)[-3000:]
    assert_on_topic_exactly(kafka_bootstrap, kafka_topic, writer)


@pytest.fixture
def dead_letter_topic(kafka_bootstrap: str, kafka_topic: str) -> Iterator[str]:
    """The topic ``_apps consume ... <poison>`` dead-letters to."""
    with new_topic(kafka_bootstrap, dead_letter_topic_of(kafka_topic)) as name:
        yield name


def test_consumer_killed_after_a_dead_letter_writes_it_once(
    outbox_url: str,
    kafka_topic: str,
    kafka_bootstrap: str,
    dead_letter_topic: str,
    procs: Procs,
    published_backlog: KeyWriter,
) -> None:
    writer = published_backlog
    poisoned = KEYS[0]
    poison_n = writer.next_n[poisoned] // 2  # good events of its key before and after it
    group = f"effects-{kafka_topic}"
    args = ("consume", outbox_url, kafka_bootstrap, kafka_topic, group, f"{poisoned}:{poison_n}")
    first = procs.start(*args, crash_at="inbox.after_dead_letter")
    died_with(first, signal.SIGKILL, procs)
    assert len(_dead_letter_rows(outbox_url, dead_letter_topic)) == 1, "committed before the kill"
    write_rounds(writer, 30)  # more while the consumer is down
    second = procs.start(*args)
    expected = {key: list(range(n)) for key, n in writer.next_n.items()}
    expected[poisoned].remove(poison_n)
    good = sum(len(ns) for ns in expected.values())

    eventually(lambda: applied_count(outbox_url) >= good, timeout=60, what="all good applied")
    procs.stop(second)
    assert applied_by_key(outbox_url) == expected
    [(key, value, event_id)] = _dead_letter_rows(outbox_url, dead_letter_topic)
    assert key == poisoned.encode()
    decoded = serializer().decode_payload(value)
    assert isinstance(decoded, Ticked)
    assert (decoded.key, decoded.n) == (poisoned, poison_n)
    with pg(outbox_url) as conn:
        original = conn.execute(
            "SELECT value FROM saga_outbox WHERE topic = %s AND event_id = %s",
            (kafka_topic, event_id),
        ).fetchone()
    assert original is not None
    assert bytes(original[0]) == value


def _dead_letter_rows(url: str, topic: str) -> list[tuple[bytes, bytes, object]]:
    with pg(url) as conn:
        rows = conn.execute(
            "SELECT key, value, event_id FROM saga_outbox WHERE topic = %s", (topic,)
        ).fetchall()
    return [(bytes(r[0]), bytes(r[1]), r[2]) for r in rows]
