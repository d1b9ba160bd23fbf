"""Saga inputs handled per second by ``saga worker`` processes, next to the raw limits.

    .venv/bin/python benchmarks/bench_worker.py [--flows 20000] [--workers 1 2]

A topic is pre-filled with the inputs of ``--flows`` instances of a four-step saga
(``benchmarks/_flow.py``): each instance's start and its four answers, 5 inputs per
instance, so 100,000 inputs by default. Then, each on a fresh database and topics:

1. the worker: ``saga worker`` processes (1, then 2) drain the topic; timed from the first
   instance created to the last completed. Each input is decoded, claimed in the inbox,
   decided, and written (instance, history, one outbox row for the next request); the
   embedded relay publishes those requests meanwhile;
2. the raw limit of the database part: the same rows (inbox, instance insert or update by
   version, history, outbox) written by plain batched SQL, 500 inputs per transaction;
3. the raw limit of the decoding part: fastavro ``schemaless_reader`` over the same payloads,
   and the framework's full decode (envelope headers, model) beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from fastavro import schemaless_reader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, endpoints, plain, scratch_database, scratch_topics
from _flow import ANSWERS, EVENTS, Armed

from saga.contracts.schemas import contracts_of
from saga.contracts.serde import Serializer
from saga.engine.messages import Message
from saga.postgres.tables import upgrade_database
from saga.settings import Settings

PARTITIONS = 6


def write_contracts(folder: Path) -> None:
    for version in contracts_of(EVENTS):
        *namespace, short = version.name.split(".")
        path = folder.joinpath(*namespace, f"{short}.v1.avsc")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(version.schema)))


def fill(bootstrap: str, topic: str, flows: int, serializer: Serializer) -> list[bytes]:
    """Produce every flow's five inputs, answer by answer across all flows; returns the
    payloads (for the decoding limits)."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "queue.buffering.max.messages": 500_000}
    )
    payloads: list[bytes] = []
    for answer in ANSWERS:
        for i in range(flows):
            flow_id = f"f{i}"
            message = Message.new(
                answer(flow_id=flow_id, amount=i), correlation_id=flow_id, producer="bench"
            )
            encoded = serializer.encode(message.event, message.envelope)
            payloads.append(encoded.value)
            while True:
                try:
                    producer.produce(
                        topic, key=encoded.key, value=encoded.value, headers=encoded.headers
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
    assert producer.flush(120) == 0
    return payloads


def count(url: str, sql: str) -> int:
    with psycopg.connect(plain(url), autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def worker_rate(
    url: str,
    bootstrap: str,
    prefix: str,
    flows: int,
    processes: int,
    contracts: Path,
    relay_apart: bool,
) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_")}
    env.update(
        SAGA_DATABASE_URL=url, SAGA_KAFKA_BOOTSTRAP=bootstrap, SAGA_SCHEMA_DIR=str(contracts)
    )
    command = [
        str(Path(sys.executable).with_name("saga")),
        "worker",
        "benchmarks._flow:FlowSaga",
        "--name",
        "bench",
        "--topic-prefix",
        prefix,
        *(["--no-relay"] if relay_apart else []),
    ]
    commands = [command] * processes
    if relay_apart:  # the relay in a process of its own instead of a thread of each worker
        commands.append([str(Path(sys.executable).with_name("saga")), "relay"])
    workers = [
        subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c in commands
    ]
    try:
        deadline = time.monotonic() + 900
        while count(url, "SELECT count(*) FROM saga_instance") == 0:
            assert time.monotonic() < deadline, "no instance after 15 minutes"
            assert all(w.poll() is None for w in workers), "a worker exited"
            time.sleep(0.01)
        started = time.perf_counter()
        done = "SELECT count(*) FROM saga_instance WHERE status = 'completed'"
        while count(url, done) < flows:
            assert time.monotonic() < deadline, "not all flows completed in 15 minutes"
            assert all(w.poll() is None for w in workers), "a worker exited"
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(60)
    inputs = flows * len(ANSWERS)
    return {"inputs_per_s": round(inputs / elapsed), "seconds": round(elapsed, 2)}


_INBOX = (
    "INSERT INTO saga_inbox (consumer_group, event_id) SELECT %s, unnest(%s::uuid[]) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
_LOAD = "SELECT instance_id, snapshot FROM saga_instance WHERE saga = %s AND instance_id = ANY(%s)"
_NEW = (
    "INSERT INTO saga_instance (saga, instance_id, version, definition_version, state, status, "
    "snapshot) SELECT %s, t.id, 1, 1, 'one', 'running', t.s::jsonb "
    "FROM unnest(%s::text[], %s::text[]) AS t(id, s)"
)
_UPDATE = (
    "UPDATE saga_instance i SET version = i.version + 1, state = 'next', snapshot = t.s::jsonb, "
    "updated_at = now() FROM unnest(%s::text[], %s::text[]) AS t(id, s) "
    "WHERE i.saga = %s AND i.instance_id = t.id"
)
_HISTORY = (
    "INSERT INTO saga_history (saga, instance_id, seq, at, trigger, input_id, from_state, "
    "to_state, entry) SELECT %s, t.id, t.seq, now(), 'answer', t.input, 'a', 'b', t.e::jsonb "
    "FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[]) AS t(id, seq, input, e)"
)
_OUTBOX = (
    "INSERT INTO saga_outbox (lane, topic, key, value, header_names, header_values, event_id, "
    "event_type) SELECT 0, 'bench.work', t.k, t.v, %s::text[], %s::bytea[], t.e, 'bench.work.Do1' "
    "FROM unnest(%s::bytea[], %s::bytea[], %s::uuid[]) AS t(k, v, e)"
)


def raw_sql_rate(url: str, flows: int, payloads: list[bytes]) -> float:
    """The worker's database work as plain batched SQL: inputs per second."""
    snapshot = json.dumps({"data": {"flow_id": "f", "amount": 1}, "state": "one", "pad": "x" * 300})
    entry = json.dumps({"note": "", "emitted": [["bench.work.Do1", str(uuid.uuid4())]]})
    names = ["event-id", "event-type", "correlation-id", "occurred-at", "schema", "producer"]
    values = [b"x" * 36, b"bench.work.Do1", b"f1", b"2030-01-01T00:00:00+00:00", b"s/v1", b"b"]
    batch = 500
    order = [(step, i) for step in range(len(ANSWERS)) for i in range(flows)]
    with psycopg.connect(plain(url)) as conn:
        started = time.perf_counter()
        for at in range(0, len(order), batch):
            chunk = order[at : at + batch]
            ids = [f"f{i}" for _, i in chunk]
            events = [uuid.uuid4() for _ in chunk]
            conn.execute(_INBOX, ("bench", events))
            conn.execute(_LOAD, ("bench.FlowSaga", ids)).fetchall()
            if chunk[0][0] == 0:
                conn.execute(_NEW, ("bench.FlowSaga", ids, [snapshot] * len(ids)))
            else:
                conn.execute(_UPDATE, (ids, [snapshot] * len(ids), "bench.FlowSaga"))
            conn.execute(
                _HISTORY,
                (
                    "bench.FlowSaga",
                    ids,
                    [s + 1 for s, _ in chunk],
                    [str(e) for e in events],
                    [entry] * len(ids),
                ),
            )
            conn.execute(
                _OUTBOX,
                (
                    names,
                    values,
                    [i.encode() for i in ids],
                    payloads[at : at + len(chunk)],
                    [uuid.uuid4() for _ in chunk],
                ),
            )
            conn.commit()
        return len(order) / (time.perf_counter() - started)


def decode_rates(bootstrap: str, topic: str, serializer: Serializer) -> dict[str, float]:
    """fastavro alone over the payloads, and the framework's decode with its envelope."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"b-{uuid.uuid4().hex}",
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    records: list[tuple[bytes, list[tuple[str, bytes]]]] = []
    ended: set[int] = set()
    while len(ended) < PARTITIONS:
        for msg in consumer.consume(1000, 1.0):
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    ended.add(msg.partition() or 0)
                continue
            records.append((msg.value(), msg.headers() or []))
    consumer.close()
    serializer.decode(*records[0])  # the read plan is built once, not timed
    version = serializer.contracts.latest("bench.flow.Done1")
    started = time.perf_counter()
    for value, _ in records:
        buffer = BytesIO(value)
        buffer.seek(10)  # single-object prefix: 2 marker bytes + 8 fingerprint bytes
        schemaless_reader(buffer, version.parsed, None)
    raw = len(records) / (time.perf_counter() - started)
    started = time.perf_counter()
    for value, headers in records:
        serializer.decode(value, headers)
    full = len(records) / (time.perf_counter() - started)
    return {"raw_fastavro_per_s": round(raw), "framework_decode_per_s": round(full)}


def run(
    url: str,
    bootstrap: str,
    flows: int,
    processes: int,
    contracts: Path,
    serializer: Serializer,
    relay_apart: bool,
) -> dict[str, Any]:
    prefix = f"b{uuid.uuid4().hex[:8]}."
    topics = [f"{prefix}bench.flow", f"{prefix}bench.work", f"{prefix}bench.dead-letters"]
    with scratch_database(url) as db, scratch_topics(bootstrap, topics, PARTITIONS):
        upgrade_database(db)
        payloads = fill(bootstrap, topics[0], flows, serializer)
        result: dict[str, Any] = worker_rate(
            db, bootstrap, prefix, flows, processes, contracts, relay_apart
        )
        result["payloads"] = payloads
        result["topic"] = topics[0]
        if processes == 1:
            result.update(decode_rates(bootstrap, topics[0], serializer))
    return result


def deadline_delays(
    url: str, bootstrap: str, contracts: Path, serializer: Serializer, armed: int
) -> dict[str, float]:
    """``armed`` one-second deadlines armed over ~2 s: how late each fires (ms), from the
    history (the instance's start + 1 s) to the database time of the transaction firing it."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topics = [f"{prefix}bench.timer", f"{prefix}bench.dead-letters"]
    with scratch_database(url) as db, scratch_topics(bootstrap, topics, PARTITIONS):
        upgrade_database(db)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_")}
        env.update(
            SAGA_DATABASE_URL=db, SAGA_KAFKA_BOOTSTRAP=bootstrap, SAGA_SCHEMA_DIR=str(contracts)
        )
        command = [
            str(Path(sys.executable).with_name("saga")),
            "worker",
            "benchmarks._flow:TimerSaga",
            "--name",
            "bench",
            "--topic-prefix",
            prefix,
        ]
        worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            producer = Producer({"bootstrap.servers": bootstrap})
            for i in range(armed):
                event = Armed(flow_id=f"t{i}", amount=i)
                message = Message.new(event, correlation_id=f"t{i}", producer="bench")
                encoded = serializer.encode(message.event, message.envelope)
                producer.produce(
                    topics[0], key=encoded.key, value=encoded.value, headers=encoded.headers
                )
                producer.poll(0)
                time.sleep(2 / armed)  # spread over two seconds
            producer.flush(30)
            deadline = time.monotonic() + 120
            done = "SELECT count(*) FROM saga_instance WHERE status = 'completed'"
            while count(db, done) < armed:
                assert time.monotonic() < deadline, "not every deadline fired in 2 minutes"
                time.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(60)
        with psycopg.connect(plain(db)) as conn:
            rows = conn.execute(
                "SELECT extract(epoch FROM f.at - (s.at + interval '1 second')) * 1000 "
                "FROM saga_history s JOIN saga_history f USING (saga, instance_id) "
                "WHERE s.seq = 1 AND f.trigger LIKE 'deadline:%' ORDER BY 1"
            ).fetchall()
    delays = [float(r[0]) for r in rows]
    return {
        "deadlines": len(delays),
        "delay_ms_p50": round(delays[len(delays) // 2], 1),
        "delay_ms_p99": round(delays[int(len(delays) * 0.99)], 1),
        "delay_ms_max": round(delays[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flows", type=int, default=20_000, help="instances (5 inputs each)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--relay-apart", action="store_true", help="run the relay as its own process"
    )
    args = parser.parse_args()
    url, bootstrap = endpoints()
    contracts = Path(f"/tmp/bench-contracts-{uuid.uuid4().hex[:6]}")
    write_contracts(contracts)
    serializer = Serializer(Settings(schema_dir=contracts))
    report: dict[str, Any] = {"flows": args.flows, "inputs": args.flows * len(ANSWERS)}
    payloads: list[bytes] = []
    for processes in args.workers:
        result = run(url, bootstrap, args.flows, processes, contracts, serializer, args.relay_apart)
        payloads = result.pop("payloads")
        result.pop("topic")
        report[f"worker_{processes}_process"] = result
    with scratch_database(url) as db:
        upgrade_database(db)
        report["raw_sql_inputs_per_s"] = round(raw_sql_rate(db, args.flows, payloads))
    report["deadline_firing"] = deadline_delays(url, bootstrap, contracts, serializer, 500)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
