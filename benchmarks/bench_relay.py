"""Relay throughput and commit-to-visible latency, next to the raw limits, in one run.

    .venv/bin/python benchmarks/bench_relay.py [--rows 200000] [--rate 1000] [--seconds 20]

Uses SAGA_DATABASE_URL / SAGA_KAFKA_BOOTSTRAP, else the stack of `saga stack up`. Creates a
scratch database and topics and removes them afterwards. Measures:

1. raw batched INSERT rate of outbox rows (psycopg executemany, 1000 rows per transaction);
2. raw confluent-kafka producer rate (idempotent, acks=all) for the same messages;
3. relay throughput draining a backlog of --rows rows (relay in its own process);
4. latency at a steady --rate events/s, one event per transaction: from the writer's
   commit returning to the event being readable by a read_committed consumer (this
   includes the relay's Kafka transaction commit, so it bounds commit -> broker ack);
5. the raw limit for 4: a plain transactional producer, one record per Kafka transaction at
   the same rate, timed from its commit returning to the same consumer seeing the record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy.engine import make_url

from saga.postgres.tables import create_tables, lane_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, endpoints, plain

INSERT = (
    "INSERT INTO saga_outbox (lane, topic, key, value, header_names, header_values, event_id,"
    " event_type) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


def message(i: int, topic: str) -> tuple[Any, ...]:
    key = f"saga-{i % 1000}".encode()
    event_id = uuid.uuid4()
    headers = [
        ("event-id", str(event_id).encode()),
        ("event-type", b"bench.Ticked"),
        ("correlation-id", key),
        ("occurred-at", b"2025-01-01T00:00:00+00:00"),
        ("schema", b"bench.Ticked/v1"),
        ("producer", b"bench"),
    ]
    value = b"\xc3\x01" + bytes(8) + (b"v" * 120)  # with headers and key: ~300 bytes
    names = [h[0] for h in headers]
    values = [h[1] for h in headers]
    return (lane_of(key), topic, key, value, names, values, event_id, "bench.Ticked")


def raw_inserts(url: str, rows: list[tuple[Any, ...]]) -> float:
    # executemany (psycopg pipelines the statements) is the fastest plain batched INSERT
    # here: one multi-row INSERT of the same 1000 rows measured ~25% slower; COPY, ~1.5x faster.
    started = time.perf_counter()
    with psycopg.connect(plain(url)) as conn:
        for start in range(0, len(rows), 1000):
            with conn.cursor() as cur:
                cur.executemany(INSERT, rows[start : start + 1000])
            conn.commit()
    return len(rows) / (time.perf_counter() - started)


def raw_producer(bootstrap: str, topic: str, rows: list[tuple[Any, ...]]) -> float:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "queue.buffering.max.messages": 500_000,
        }
    )
    started = time.perf_counter()
    for row in rows:
        while True:
            try:
                producer.produce(
                    topic, value=row[3], key=row[2], headers=list(zip(row[4], row[5], strict=True))
                )
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(120)
    return len(rows) / (time.perf_counter() - started)


def start_relay(url: str, bootstrap: str, batch: int) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from saga.relay.relay import Relay; "
        "Relay(sys.argv[1], sys.argv[2], batch_size=int(sys.argv[3])).run()"
    )
    return subprocess.Popen([sys.executable, "-c", code, url, bootstrap, str(batch)], cwd=ROOT)


def lane_ends(conn: psycopg.Connection) -> tuple[list[int], list[int]]:
    """The first and last outbox id of every lane of the backlog."""
    rows = conn.execute("SELECT min(id), max(id) FROM saga_outbox GROUP BY lane").fetchall()
    return [int(r[0]) for r in rows], [int(r[1]) for r in rows]


def marked(conn: psycopg.Connection, ids: list[int]) -> int:
    # Primary-key lookups only: counting the backlog instead would compete with the relay
    # for the database (it measurably slowed the relay down).
    row = conn.execute(
        "SELECT count(*) FROM saga_outbox WHERE id = ANY(%s) AND published_at IS NOT NULL",
        (ids,),
    ).fetchone()
    return int(row[0]) if row else 0


def relay_throughput(
    url: str, bootstrap: str, total: int, batch: int
) -> tuple[float, subprocess.Popen[bytes]]:
    """Rows per second from the first rows marked to the last row of every lane marked.

    A lane publishes its rows in id order, so its last row marked means the lane is done.
    """
    relay = start_relay(url, bootstrap, batch)
    with psycopg.connect(plain(url), autocommit=True) as conn:
        firsts, lasts = lane_ends(conn)
        deadline = time.monotonic() + 600
        while marked(conn, firsts) == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.perf_counter()
        row = conn.execute(
            "SELECT count(*) FROM saga_outbox WHERE published_at IS NOT NULL"
        ).fetchone()
        before = int(row[0]) if row else 0  # one count at the start: those are not timed
        while marked(conn, lasts) < len(lasts) and time.monotonic() < deadline:
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        row = conn.execute(
            "SELECT count(*) FROM saga_outbox WHERE published_at IS NOT NULL"
        ).fetchone()
        done = int(row[0]) if row else 0
        if done != total:
            raise SystemExit(f"relay published {done} of {total} rows")
        return (total - before) / elapsed, relay


def visible_latency(
    bootstrap: str, topic: str, rate: int, seconds: float, send: Callable[[int], bytes]
) -> dict[str, float]:
    """Call ``send(i)`` at ``rate`` per second; time from its return until a read_committed
    consumer sees the record whose ``event-id`` header it returned."""
    sent: dict[bytes, float] = {}
    seen: dict[bytes, float] = {}
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 2,
            "enable.auto.commit": False,
        }
    )
    parts = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    lows = [consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in parts]
    consumer.assign([TopicPartition(topic, p, lows[i]) for i, p in enumerate(parts)])
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            msg = consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                eid = dict(msg.headers() or []).get("event-id")
                if isinstance(eid, bytes):
                    seen[eid] = time.perf_counter()

    reader = threading.Thread(target=consume)
    reader.start()
    count = int(rate * seconds)
    next_at = time.perf_counter()
    for i in range(count):
        sent[send(i)] = time.perf_counter()
        next_at += 1 / rate
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the load generator, not waiting for a result
    deadline = time.monotonic() + 60
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    reader.join()
    consumer.close()
    lat = sorted((seen[k] - t) * 1000 for k, t in sent.items() if k in seen)
    q = statistics.quantiles(lat, n=100)
    return {"events": len(lat), "p50_ms": q[49], "p99_ms": q[98], "max_ms": lat[-1]}


def relay_latency(
    url: str, bootstrap: str, topic: str, rate: int, seconds: float
) -> dict[str, float]:
    """Writer commits one outbox row per transaction; the relay (running) publishes it."""
    with psycopg.connect(plain(url)) as conn:

        def commit(i: int) -> bytes:
            row = message(i, topic)
            conn.execute(INSERT, row)
            conn.commit()
            return str(row[6]).encode()

        return visible_latency(bootstrap, topic, rate, seconds, commit)


def raw_transaction_latency(
    bootstrap: str, topic: str, rate: int, seconds: float
) -> dict[str, float]:
    """The raw limit: a plain transactional producer, one record per Kafka transaction."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": f"bench-raw-{uuid.uuid4().hex}",
            "linger.ms": 0,
        }
    )
    producer.init_transactions(30)

    def produce(i: int) -> bytes:
        row = message(i, topic)
        producer.begin_transaction()
        producer.produce(
            topic, value=row[3], key=row[2], headers=list(zip(row[4], row[5], strict=True))
        )
        producer.commit_transaction(30)
        return str(row[6]).encode()

    return visible_latency(bootstrap, topic, rate, seconds, produce)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=5000, help="relay batch size")
    args = parser.parse_args()
    url, bootstrap = endpoints()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    base = make_url(url)
    admin_url = plain(base.set(database="postgres").render_as_string(hide_password=False))
    db_url = base.set(database=name).render_as_string(hide_password=False)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic, raw_topic = f"{name}-events", f"{name}-raw"
    for t in (topic, raw_topic):
        admin.create_topics([NewTopic(t, num_partitions=8, replication_factor=1)])[t].result(30)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    relay = None
    try:
        create_tables(db_url)
        rows = [message(i, topic) for i in range(args.rows)]
        size = (
            len(rows[0][2])
            + len(rows[0][3])
            + sum(len(n) + len(v) for n, v in zip(rows[0][4], rows[0][5], strict=True))
        )
        insert_rate = raw_inserts(db_url, rows)
        producer_rate = raw_producer(bootstrap, raw_topic, rows)
        relay_rate, relay = relay_throughput(db_url, bootstrap, args.rows, args.batch)
        lat = relay_latency(db_url, bootstrap, topic, args.rate, args.seconds)
        raw_lat = raw_transaction_latency(bootstrap, raw_topic, args.rate, args.seconds)
        print(
            json.dumps(
                {
                    "event_bytes": size,
                    "backlog_rows": args.rows,
                    "raw_insert_rows_per_s": round(insert_rate),
                    "raw_producer_msgs_per_s": round(producer_rate),
                    "relay_events_per_s": round(relay_rate),
                    "latency_at_rate": args.rate,
                    **{k: round(v, 2) for k, v in lat.items()},
                    "raw_transaction_latency": {k: round(v, 2) for k, v in raw_lat.items()},
                },
                indent=2,
            )
        )
    finally:
        if relay is not None:
            relay.terminate()
            relay.wait(30)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for t in (topic, raw_topic, f"saga-relay.{name}.progress"):
            admin.delete_topics([t])


if __name__ == "__main__":
    main()
