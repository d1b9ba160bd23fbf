"""The relay against real Kafka and PostgreSQL, in-process."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from saga.relay import Relay, discard_parked, outbox_lag
from saga.testing import eventually
from tests.integration.outbox._support import (
    KeyWriter,
    outbox_counts,
    pg,
    read_topic,
)
from tests.integration.outbox.conftest import RelayFactory

pytestmark = pytest.mark.integration


def test_publishes_every_committed_row_once_in_key_order(
    outbox_url: str,
    engine: Engine,
    kafka_topic: str,
    kafka_bootstrap: str,
    running_relay: RelayFactory,
) -> None:
    writer = KeyWriter(engine, kafka_topic)
    keys = [f"k{i}" for i in range(12)]
    for round_ in range(40):
        writer.write(keys[round_ % 3 :: 2])
    running_relay(outbox_url)
    for _ in range(40):  # more rows while it runs: woken by NOTIFY
        writer.write(keys[1::3])
    total = sum(writer.next_n.values())
    eventually(lambda: outbox_counts(outbox_url)[1] == total, timeout=30, what="all published")
    read_topic(kafka_bootstrap, kafka_topic, expect=total).assert_exactly(dict(writer.next_n))


def test_rows_committing_out_of_order_around_a_poll_are_not_skipped(
    outbox_url: str, engine: Engine, kafka_topic: str, kafka_bootstrap: str
) -> None:
    writer = KeyWriter(engine, kafka_topic)
    relay = Relay(outbox_url, kafka_bootstrap, poll_interval=0.1)
    try:
        eventually(lambda: relay.step() or relay.lanes, what="relay holds its lanes")
        with Session(engine) as early:
            early.begin()
            writer.outbox.add_all(early, writer.entries(["a"]))  # smaller id, commits last
            early_id = early.execute(text("SELECT max(id) FROM saga_outbox")).scalar_one()
            writer.write(["b"])  # larger id, commits first
            assert relay.step() == 1  # the poll between the two commits sees b only
            with pg(outbox_url) as conn:
                visible = conn.execute(
                    "SELECT id, published_at IS NOT NULL FROM saga_outbox"
                ).fetchall()
            assert len(visible) == 1
            assert visible[0][0] > early_id
            assert visible[0][1]
            early.commit()
        # No cursor went past a's id: the next poll finds it.
        assert eventually(lambda: relay.step(), what="a published") == 1
        assert outbox_counts(outbox_url) == (2, 2, 0)
    finally:
        relay.close()
    read_topic(kafka_bootstrap, kafka_topic, expect=2).assert_exactly({"a": 1, "b": 1})


def test_a_row_the_broker_refuses_is_parked_and_its_key_waits(
    outbox_url: str, engine: Engine, kafka_bootstrap: str, running_relay: RelayFactory
) -> None:
    topic = f"small-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    new = NewTopic(
        topic, num_partitions=3, replication_factor=1, config={"max.message.bytes": "4000"}
    )
    admin.create_topics([new])[topic].result(30)
    writer = KeyWriter(engine, topic, pad=100)
    writer.write(["ok1", "ok2"])
    big = KeyWriter(engine, topic, pad=8000)
    big.next_n = writer.next_n
    big.write(["poison"])  # n=0, too large for the topic
    writer.write(["poison", "ok1", "ok2"])  # poison n=1 must wait behind n=0
    running_relay(outbox_url)
    eventually(lambda: outbox_counts(outbox_url) == (6, 4, 1), timeout=30, what="4 sent, 1 parked")
    with pg(outbox_url) as conn:
        parked = conn.execute(
            "SELECT id, error FROM saga_outbox WHERE parked_at IS NOT NULL"
        ).fetchall()
        assert "MSG_SIZE_TOO_LARGE" in parked[0][1]
        assert outbox_lag(conn).parked == 1
        assert outbox_lag(conn).backlog == 1
        discard_parked(conn, [parked[0][0]])
    eventually(lambda: outbox_counts(outbox_url) == (5, 5, 0), timeout=30, what="rest sent")
    contents = read_topic(kafka_bootstrap, topic, expect=5)
    assert contents.by_key == {"ok1": [0, 1], "ok2": [0, 1], "poison": [1]}
    admin.delete_topics([topic])[topic].result(30)
