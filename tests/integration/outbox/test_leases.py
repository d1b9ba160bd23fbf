"""The relay's leases hold while a round blocks (a commit may wait longer than the lease),
kept by a thread of their own while the main loop is alive; its connections carry TCP
keepalives and time out statements that hang."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import Engine

from saga.postgres.relay_store import PendingRow
from saga.relay._lane import BatchResult, LaneProducer
from saga.testing import eventually
from tests.integration.outbox._support import (
    KeyWriter,
    assert_on_topic_exactly,
    pg,
    total_written,
    wait_until_published,
)
from tests.integration.outbox.conftest import RelayFactory

pytestmark = pytest.mark.integration

LEASE = 1.5  # seconds
BLOCK = 3 * LEASE  # one round, blocked in Kafka for longer than the lease


def live_leases(url: str, relay_id: str) -> int:
    with pg(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM saga_relay_lane WHERE owner = %s AND lease_until > now()",
            (relay_id,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_leases_hold_while_a_round_blocks(
    outbox_url: str,
    engine: Engine,
    kafka_topic: str,
    kafka_bootstrap: str,
    running_relay: RelayFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer = KeyWriter(engine, kafka_topic, pad=20)
    writer.write([f"k{i}" for i in range(16)])
    relay = running_relay(outbox_url, lease_seconds=LEASE, poll_interval=0.1)
    wait_until_published(outbox_url, 16, timeout=60)
    held = live_leases(outbox_url, relay.relay_id)
    assert held > 0

    blocking = threading.Event()
    publish = LaneProducer.publish

    def slow(self: LaneProducer, rows: list[PendingRow], *args: Any, **kw: Any) -> BatchResult:
        if not blocking.is_set():
            blocking.set()
            threading.Event().wait(BLOCK)  # a commit that takes its time
        return publish(self, rows, *args, **kw)

    monkeypatch.setattr(LaneProducer, "publish", slow)
    writer.write(["k0"])
    eventually(blocking.is_set, timeout=30, what="a round blocked")
    # Sampled through the block: every lease stays live (each would lapse after 1.5 s).
    samples: list[int] = []
    done = threading.Event()
    while not done.wait(0.25) and len(samples) < int(BLOCK / 0.25) - 2:
        samples.append(live_leases(outbox_url, relay.relay_id))
    assert min(samples) == held, samples
    wait_until_published(outbox_url, 17, timeout=60)
    assert_on_topic_exactly(kafka_bootstrap, kafka_topic, writer)
    assert total_written(writer) == 17


def test_relay_connections_time_out_hung_statements_and_keep_alive(
    outbox_url: str, running_relay: RelayFactory
) -> None:
    relay = running_relay(outbox_url, poll_interval=0.1)
    eventually(lambda: relay.lanes, timeout=60, what="lanes held")
    with psycopg.connect(outbox_url.replace("+psycopg", "", 1)) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    assert rows is not None
    assert rows[0] >= 3  # the relay's reader, marker and listener
    assert relay._db is not None
    settings: dict[str, str] = dict(
        relay._db.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('statement_timeout', 'idle_in_transaction_session_timeout')"
        ).fetchall()
    )
    assert settings["statement_timeout"] == "60000"
    assert settings["idle_in_transaction_session_timeout"] == "60000"
    parameters = relay._db.info.get_parameters()
    assert (parameters["keepalives"], parameters["keepalives_idle"]) == ("1", "30")
