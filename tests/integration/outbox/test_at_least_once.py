"""The relay's at-least-once delivery (``SAGA_RELAY_DELIVERY=at-least-once``), on a real
broker and database, with relays as processes killed at named crash points.

What it promises: every committed row reaches the topic at least once; the first copy of
each key's events comes in per-key order; copies appear only after a relay died between
the broker's acknowledgement and the mark; a framework consumer (inbox) applies each event
exactly once, in per-key order.
"""

from __future__ import annotations

import signal

import pytest
from sqlalchemy.engine import Engine

from saga.testing import eventually
from tests.integration.outbox._apps import EFFECT_DDL
from tests.integration.outbox._procs import Procs
from tests.integration.outbox._support import (
    KeyWriter,
    TopicContents,
    applied_count,
    assert_applied_exactly,
    pg,
    read_topic,
    total_written,
    wait_until_published,
)

pytestmark = pytest.mark.integration

KEYS = [f"order-{i}" for i in range(16)]
AT_LEAST_ONCE = {"SAGA_RELAY_DELIVERY": "at-least-once"}


def write_rounds(writer: KeyWriter, rounds: int) -> None:
    for i in range(rounds):
        writer.write(KEYS[i % 4 :: 3])


def first_copies_in_order(contents: TopicContents, expected: dict[str, int]) -> None:
    """Each key's events all there, and their first copies in order 0..n-1."""
    assert set(contents.by_key) == set(expected), "keys differ"
    for key, count in expected.items():
        first = list(dict.fromkeys(contents.by_key[key]))
        assert first == list(range(count)), f"key {key}: {first[:60]}"


def test_at_least_once_publishes_each_row_once_when_nothing_fails(
    outbox_url: str, engine: Engine, kafka_topic: str, kafka_bootstrap: str, procs: Procs
) -> None:
    writer = KeyWriter(engine, kafka_topic)
    write_rounds(writer, 120)
    relay = procs.start("relay", outbox_url, kafka_bootstrap, "3", "100", env=AT_LEAST_ONCE)
    wait_until_published(outbox_url, total_written(writer), timeout=60)
    procs.stop(relay)
    contents = read_topic(kafka_bootstrap, kafka_topic, expect=total_written(writer))
    contents.assert_exactly(dict(writer.next_n))


def test_relay_killed_between_acknowledgement_and_mark_sends_copies_applied_once(
    outbox_url: str, engine: Engine, kafka_topic: str, kafka_bootstrap: str, procs: Procs
) -> None:
    with pg(outbox_url) as conn:
        conn.execute(EFFECT_DDL)
    writer = KeyWriter(engine, kafka_topic)
    write_rounds(writer, 200)
    # Small batches: the third lane batch is acknowledged by the broker, then the relay dies.
    first = procs.start(
        "relay",
        outbox_url,
        kafka_bootstrap,
        "3",
        "100",
        crash_at="relay.after_flush:3",
        env=AT_LEAST_ONCE,
    )
    code = eventually(lambda: first.poll(), timeout=60, what="relay reached its crash point")
    assert code == -signal.SIGKILL, procs.log_of(0)
    write_rounds(writer, 50)
    second = procs.start("relay", outbox_url, kafka_bootstrap, "3", env=AT_LEAST_ONCE)
    total = total_written(writer)
    wait_until_published(outbox_url, total, timeout=60)
    procs.stop(second)

    contents = read_topic(kafka_bootstrap, kafka_topic, expect=total)
    copies = {e: at for e, at in contents.where.items() if len(at) > 1}
    assert copies, "the rows acknowledged but not marked were not published again"
    first_copies_in_order(contents, dict(writer.next_n))

    # A framework consumer drops the copies in its inbox: each effect once, in order.
    group = f"effects-{kafka_topic}"
    consumer = procs.start("consume", outbox_url, kafka_bootstrap, kafka_topic, group)
    eventually(lambda: applied_count(outbox_url) >= total, timeout=60, what="all applied")
    procs.stop(consumer)
    assert_applied_exactly(outbox_url, dict(writer.next_n))
