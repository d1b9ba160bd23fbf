"""Pieces of the worker's process tests: contracts on disk, a database, topics, orders in,
and the checks that every saga ended and every effect happened once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from sqlalchemy import create_engine, text

from saga.contracts.events import Event, contract_of, event_name, registered_events
from saga.contracts.serde import Serializer
from saga.definition.model import SagaDefinition
from saga.engine.messages import Message
from saga.settings import Settings
from saga.tables import upgrade_database
from saga.worker.topics import TopicMap
from tests.integration.worker.app import EFFECT_DDL

ROOT = Path(__file__).resolve().parents[3]


def write_contracts(folder: Path) -> Path:
    """The schemas the test events carry, as a contracts folder (``avro/`` layout)."""
    for name, cls in registered_events().items():
        schema = contract_of(cls)
        if schema is None or not name.startswith(("test.shop.", "test.tickets.")):
            continue
        *namespace, short = name.split(".")
        path = folder.joinpath(*namespace, f"{short}.v1.avsc")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2))
    return folder


def prepare_database(url: str) -> None:
    upgrade_database(url)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(text(EFFECT_DDL))
    finally:
        engine.dispose()


class Orders:
    """Publishes events onto the worker's topics as an outside service would."""

    def __init__(self, bootstrap: str, prefix: str, contracts: Path) -> None:
        self.topics = TopicMap(prefix=prefix)
        self.serializer = Serializer(Settings(schema_dir=contracts))
        self.producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})

    def publish(
        self, event: Event, correlation_id: str, *, traceparent: str | None = None
    ) -> Message:
        message = Message.new(
            event, correlation_id=correlation_id, producer="test", traceparent=traceparent
        )
        encoded = self.serializer.encode(message.event, message.envelope)
        self.producer.produce(
            self.topics.topic_for(event_name(event)),
            key=encoded.key,
            value=encoded.value,
            headers=encoded.headers,
        )
        return message

    def flush(self) -> None:
        assert self.producer.flush(120) == 0, "the broker did not take the events"


def query(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


def statuses(url: str, saga: str = "test.OrderSaga") -> Counter[str]:
    rows = query(
        url, "SELECT status, count(*) FROM saga_instance WHERE saga = :saga GROUP BY 1", saga=saga
    )
    return Counter({str(s): int(n) for s, n in rows})  # type: ignore[call-overload]


def stuck_report(url: str) -> str:
    """Where unended sagas wait: their states, and what the outbox has not published."""
    states = query(
        url,
        "SELECT state, count(*) FROM saga_instance WHERE status = 'running' GROUP BY 1 "
        "ORDER BY 2 DESC LIMIT 5",
    )
    unpublished = query(
        url,
        "SELECT topic, count(*), min(created_at) FROM saga_outbox WHERE published_at IS NULL "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
    )
    return f"running by state: {states}; unpublished outbox rows: {unpublished}"


def group_report(bootstrap: str, group: str, topics: list[str]) -> str:
    """Per partition of ``topics``: the group's committed offset, the last stable offset
    (what a read_committed consumer can reach) and the high watermark. A committed offset
    at a last stable offset below the watermark means a transaction holds the partition."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        meta = admin.list_topics(timeout=10)
        parts = [TopicPartition(t, p) for t in topics for p in meta.topics[t].partitions]
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, parts)]
            )[group]
            .result(10)
            .topic_partitions
        }
        ends = {}
        for level in (IsolationLevel.READ_COMMITTED, IsolationLevel.READ_UNCOMMITTED):
            found = admin.list_offsets(
                {tp: OffsetSpec.latest() for tp in parts}, isolation_level=level
            )
            ends[level] = {(tp.topic, tp.partition): f.result(10).offset for tp, f in found.items()}
    except Exception as exc:  # a report for a failure message: say why it is missing
        return f"group {group}: no report ({exc})"
    rows = [
        f"{t}[{p}] committed {committed.get((t, p))} stable "
        f"{ends[IsolationLevel.READ_COMMITTED][(t, p)]} end "
        f"{ends[IsolationLevel.READ_UNCOMMITTED][(t, p)]}"
        for t, p in sorted(committed)
    ]
    return f"group {group}: " + "; ".join(rows)


def effects_twice(url: str) -> list[tuple[object, ...]]:
    """Effects applied more than once (the same event's effect twice)."""
    return query(
        url,
        "SELECT kind, order_id, event_id, count(*) FROM effect "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1",
    )


def unique_prefix() -> str:
    return f"w{uuid.uuid4().hex[:10]}."


def illegal_moves(url: str, definition: SagaDefinition) -> list[tuple[object, ...]]:
    """History entries that are no move of the definition (staying put and parking aside)."""
    moves = {(e.source, e.target) for e in definition.edges()}
    rows = query(
        url,
        "SELECT instance_id, seq, from_state, to_state FROM saga_history "
        f"WHERE saga = '{definition.name}' ORDER BY 1, 2",
    )
    return [
        row
        for row in rows
        if (row[2], row[3]) not in moves and row[2] != row[3] and row[3] != definition.failed_state
    ]
