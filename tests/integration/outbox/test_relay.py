"""The relay against real Kafka and PostgreSQL, in-process."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from saga.operators.outbox import discard_refused
from saga.postgres.maintenance import outbox_lag
from saga.postgres.relay_store import PendingRow
from saga.relay._lane import LaneOutcome, LaneProducer
from saga.relay.relay import Relay
from saga.testing import eventually
from tests.integration._kafka import read_committed_messages
from tests.integration.outbox._support import (
    KeyWriter,
    assert_on_topic_exactly,
    outbox_counts,
    pg,
    read_topic,
    total_written,
    wait_until_published,
)
from tests.integration.outbox.conftest import RelayFactory

OUTBOX = uuid.uuid4()  # the identity the lane tests' progress records carry

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
    total = total_written(writer)
    wait_until_published(outbox_url, total, timeout=30)
    assert_on_topic_exactly(kafka_bootstrap, kafka_topic, writer)


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


def test_a_row_the_broker_refuses_is_marked_refused_and_its_key_waits(
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
    relay = running_relay(outbox_url)
    eventually(lambda: outbox_counts(outbox_url) == (6, 4, 1), timeout=30, what="4 sent, 1 refused")
    # The refused batch's transaction was aborted after its records went out: the lane
    # went on with a new producer (a new epoch), never the one whose requests may linger.
    assert relay.renewals >= 1
    with pg(outbox_url) as conn:
        refused = conn.execute(
            "SELECT id, error FROM saga_outbox WHERE refused_at IS NOT NULL"
        ).fetchall()
        assert "MSG_SIZE_TOO_LARGE" in refused[0][1]
    with engine.begin() as admin_conn:
        assert outbox_lag(admin_conn).refused == 1
        assert outbox_lag(admin_conn).backlog == 1
        assert discard_refused(admin_conn, [refused[0][0]], by="t", reason="too big") == [
            refused[0][0]
        ]
    eventually(lambda: outbox_counts(outbox_url) == (5, 5, 0), timeout=30, what="rest sent")
    contents = read_topic(kafka_bootstrap, topic, expect=5)
    assert contents.by_key == {"ok1": [0, 1], "ok2": [0, 1], "poison": [1]}
    admin.delete_topics([topic])[topic].result(30)


def test_a_fenced_lane_producer_resets_and_closes_quietly(
    kafka_topic: str, kafka_bootstrap: str
) -> None:
    """A lane taken over while its relay slept: the old producer cannot publish any more,
    and giving it up does not raise (it re-raised the fatal error and killed the relay)."""
    progress = f"progress-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(progress, num_partitions=8, replication_factor=1)])[
        progress
    ].result(30)
    config = {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "acks": "all"}
    tid = f"lane-test-{uuid.uuid4().hex[:8]}"
    row = PendingRow(1, 3, kafka_topic, b"k", b"v1", [("event-id", b"1")])
    old = LaneProducer(config, tid, 3, progress, outbox=OUTBOX)
    old.init(30)
    assert old.publish([row], 30).outcome is LaneOutcome.COMMITTED
    paused = LaneProducer(config, tid, 3, progress, outbox=OUTBOX)
    paused.init(30)  # fences ``old``; then it sleeps inside a transaction of its own
    paused._producer.begin_transaction()
    paused._producer.produce(kafka_topic, key=b"k", value=b"v2")
    paused._producer.flush(30)
    result = old.publish([row._replace(id=2, value=b"v2")], 30)
    assert result.outcome is LaneOutcome.RESET
    assert "fenced" in result.error.lower()
    old.close()
    new = LaneProducer(config, tid, 3, progress, outbox=OUTBOX)
    new.init(30)  # fences ``paused`` in the middle of its transaction
    with pytest.raises(KafkaException, match="fenced"):
        paused._producer.commit_transaction(30)
    paused.close()  # must not raise
    assert new.publish([row._replace(id=3, value=b"v3")], 30).outcome is LaneOutcome.COMMITTED
    new.close()
    assert committed_values(kafka_bootstrap, kafka_topic, expect=2) == [b"v1", b"v3"]
    admin.delete_topics([progress])[progress].result(30)


def committed_values(bootstrap: str, topic: str, *, expect: int) -> list[bytes]:
    """Values a read_committed reader finds in ``topic`` once ``expect`` arrived (in order
    within a partition; these tests use one key)."""
    messages = read_committed_messages(bootstrap, topic, expect=expect)
    return [bytes(message.value() or b"") for message in messages]


def test_outbox_rows_are_written_in_the_callers_transaction_only(
    outbox_url: str, engine: Engine
) -> None:
    writer = KeyWriter(engine, "t")
    with Session(engine) as session:
        session.begin()
        writer.outbox.add_all(session, writer.entries(["a", "b"]))
        assert outbox_counts(outbox_url) == (0, 0, 0)  # not committed: nobody sees them
        session.rollback()
    assert outbox_counts(outbox_url) == (0, 0, 0)  # rolled back with the caller
    with Session(engine) as session, session.begin():
        writer.outbox.add_all(session, writer.entries(["a", "b"]))
    assert outbox_counts(outbox_url) == (2, 0, 0)  # committed by the caller, not by add_all
