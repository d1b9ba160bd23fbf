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
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from saga.envelope import Envelope
from saga.events import AvroLong, Event
from saga.outbox import Outbox, OutboxEntry
from saga.serde import Serializer
from saga.settings import Settings

AVRO = Path(__file__).parent / "avro"
SCHEMA: dict[str, Any] = json.loads((AVRO / "test/outbox/Ticked.v1.avsc").read_text())


class Ticked(Event, name="test.outbox.Ticked", schema=SCHEMA):
    key: str
    n: AvroLong
    pad: str


def serializer() -> Serializer:
    return Serializer(Settings(schema_dir=AVRO))


def engine_for(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


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

    def assert_exactly(self, expected: dict[str, int]) -> None:
        """Each key carries 0..n-1 once each, in order; no event twice."""
        assert len(self.event_ids) == len(set(self.event_ids)), "an event is on the topic twice"
        assert set(self.by_key) == set(expected), "keys differ"
        for key, count in expected.items():
            assert self.by_key[key] == list(range(count)), f"key {key}: {self.by_key[key][:50]}"


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
                contents.event_ids.append(str(decoded.envelope.event_id))
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
    """(all rows, published rows, parked rows)."""
    with pg(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(published_at), count(parked_at) FROM saga_outbox"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])
