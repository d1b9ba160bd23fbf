"""Shared pieces of the outbox tests: a test event, writers, topic and effect checks."""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from saga.contracts.envelope import Envelope
from saga.contracts.events import AvroLong, Event
from saga.contracts.serde import Serializer
from saga.postgres.connect import engine_for  # noqa: F401  (the tests import it from here)
from saga.postgres.outbox import Outbox, OutboxEntry
from saga.settings import Settings
from saga.testing import eventually

AVRO = Path(__file__).parent / "avro"
SCHEMA: dict[str, Any] = json.loads((AVRO / "test/outbox/Ticked.v1.avsc").read_text())


class Ticked(Event, name="test.outbox.Ticked", schema=SCHEMA):
    key: str
    n: AvroLong
    pad: str


def serializer() -> Serializer:
    return Serializer(Settings(schema_dir=AVRO))


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class KeyWriter:
    """Writes Ticked events with per-key sequence numbers, several per transaction."""

    def __init__(self, engine: Engine, topic: str, *, pad: int = 200) -> None:
        self.engine = engine
        self.outbox = Outbox(serializer(), producer="test-writer", topic=topic)
        self.pad = "x" * pad
        self.next_n: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def entries(self, keys: list[str]) -> list[OutboxEntry]:
        out = []
        with self.lock:
            for key in keys:
                n = self.next_n[key]
                self.next_n[key] = n + 1
                event = Ticked(key=key, n=n, pad=self.pad)
                envelope = Envelope.new(event, correlation_id=key, producer="test-writer")
                out.append(OutboxEntry(event, envelope))
        return out

    def write(self, keys: list[str]) -> None:
        with Session(self.engine) as session, session.begin():
            self.outbox.add_all(session, self.entries(keys))


@dataclass
class TopicContents:
    """Every committed event on a topic: (key, n, event id) per partition, in order."""

    by_key: dict[str, list[int]] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)
    where: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """Event id: every (partition, offset) it was read at."""

    def assert_exactly(self, expected: dict[str, int]) -> None:
        """Each key carries 0..n-1 once each, in order; no event twice."""
        twice = {e: at for e, at in self.where.items() if len(at) > 1}
        assert not twice, (
            f"{len(twice)} events are on the topic twice; (partition, offset) of some: "
            f"{sorted(twice.values())[:10]}"
        )
        assert set(self.by_key) == set(expected), "keys differ"
        wrong = {k: n for k, n in expected.items() if self.by_key[k] != list(range(n))}
        if wrong:
            key = next(iter(wrong))
            raise AssertionError(
                f"{len(wrong)} of {len(expected)} keys out of order or incomplete "
                f"({sum(expected.values())} events); key {key}: {self.by_key[key][:60]}"
            )


def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 60.0) -> TopicContents:
    """All committed records of ``topic`` (read_committed), once ``expect`` have arrived."""
    import time

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    contents = TopicContents()
    decoder = serializer()
    try:
        meta = consumer.list_topics(topic, timeout=30).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            batch = consumer.consume(2000, 0.5)
            for msg in batch:
                err = msg.error()
                if err is not None:
                    assert err.code() == KafkaError._PARTITION_EOF, err
                    continue
                decoded = decoder.decode(msg.value(), msg.headers())
                assert isinstance(decoded.event, Ticked)
                contents.by_key.setdefault(decoded.event.key, []).append(decoded.event.n)
                event_id = str(decoded.envelope.event_id)
                contents.event_ids.append(event_id)
                contents.where.setdefault(event_id, []).append((msg.partition(), msg.offset()))
                seen += 1
            if seen >= expect and not batch:
                break
    finally:
        consumer.close()
    return contents


@contextmanager
def pg(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(plain(url), autocommit=True) as conn:
        yield conn


def outbox_counts(url: str) -> tuple[int, int, int]:
    """(all rows, published rows, refused rows)."""
    with pg(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(published_at), count(refused_at) FROM saga_outbox"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])


class SteadyWriter:
    """Writes Ticked events from its own thread until stopped, through database outages.

    Each thread owns its keys, so a transaction that did not commit can hand its sequence
    numbers back. A commit that raised may still have committed (the server can commit and
    then lose the connection): the writer asks the database, once it answers again, whether
    the transaction's rows are there, and counts them only if they are.
    """

    def __init__(self, writer: KeyWriter, url: str, keys: list[str], *, pace: float) -> None:
        self.writer = writer
        self.url = url
        self.keys = keys
        self.pace = pace
        self.commits = 0
        self.failed = 0  # transactions that raised and turned out not to have committed
        self.unsure = 0  # transactions that raised and turned out to have committed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"writer-{keys[0]}", daemon=True)
        self.error: BaseException | None = None
        self._abandoned = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)
        assert not self._thread.is_alive(), "writer did not stop"
        if self.error is not None:
            raise self.error

    def abandon(self) -> None:
        """Stop without raising what the thread met (the test failed already)."""
        self._abandoned = True
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(120)

    def _run(self) -> None:
        try:
            for i in range(1_000_000):  # bounded; stopped long before
                if self._stop.is_set():
                    return
                self._write_one(self.keys[i % 3 :: 2])
                self._stop.wait(self.pace)
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def _write_one(self, keys: list[str]) -> None:
        from sqlalchemy.exc import InterfaceError, OperationalError

        before = {key: self.writer.next_n[key] for key in keys}
        entries = self.writer.entries(keys)
        try:
            with Session(self.writer.engine) as session, session.begin():
                self.writer.outbox.add_all(session, entries)
        except (OperationalError, InterfaceError):
            if self._committed_after_all([e.envelope.event_id for e in entries]):
                self.unsure += 1
                return
            with self.writer.lock:
                self.writer.next_n.update(before)
            self.failed += 1
            return
        self.commits += 1

    def _committed_after_all(self, event_ids: list[uuid.UUID]) -> bool:
        import time

        deadline = time.monotonic() + 120
        while True:  # bounded by the deadline
            try:
                with pg(self.url) as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM saga_outbox WHERE event_id = ANY(%s)", (event_ids,)
                    ).fetchone()
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "the database did not come back"
                if self._abandoned:
                    return False
                self._stop.wait(0.1)
                continue
            assert row is not None
            assert row[0] in (0, len(event_ids)), "half a transaction"
            return bool(row[0])


def total_written(writer: KeyWriter) -> int:
    with writer.lock:
        return sum(writer.next_n.values())


def wait_until_published(
    url: str, total: int, *, timeout: float, what: str = "all published"
) -> None:
    """Until the relay has marked ``total`` outbox rows published."""
    eventually(lambda: outbox_counts(url)[1] == total, timeout=timeout, what=what)


def assert_on_topic_exactly(bootstrap: str, topic: str, writer: KeyWriter) -> None:
    """Every event ``writer`` committed is on ``topic`` once, in per-key order."""
    read_topic(bootstrap, topic, expect=total_written(writer)).assert_exactly(dict(writer.next_n))


def applied_count(url: str) -> int:
    with pg(url) as conn:
        row = conn.execute("SELECT count(*) FROM effect").fetchone()
    assert row is not None
    return int(row[0])


def applied_by_key(url: str) -> dict[str, list[int]]:
    """Applied ticks per key, in the order they were applied; fails if one was applied twice."""
    with pg(url) as conn:
        rows = conn.execute("SELECT key, n, event_id FROM effect ORDER BY seq").fetchall()
    ids = [r[2] for r in rows]
    assert len(ids) == len(set(ids)), "an event was applied twice"
    applied: dict[str, list[int]] = {}
    for key, n, _ in rows:
        applied.setdefault(key, []).append(n)
    return applied


def assert_applied_exactly(url: str, expected: dict[str, int]) -> None:
    """Each event applied once; each key's effects 0..n-1 in the order they were applied."""
    applied = applied_by_key(url)
    assert set(applied) == set(expected), "keys differ"
    for key, count in expected.items():
        assert applied[key] == list(range(count)), f"key {key}: {applied[key][:50]}"
