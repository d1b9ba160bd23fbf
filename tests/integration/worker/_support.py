"""Pieces of the worker's process tests: contracts on disk, a database, topics, orders in,
and the checks that every saga ended and every effect happened once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec
from sqlalchemy import text

from saga.contracts.events import Event, contract_of, event_name, registered_events
from saga.contracts.serde import Serializer
from saga.contracts.topics import TopicMap
from saga.definition.model import SagaDefinition
from saga.engine.messages import Message
from saga.postgres.connect import engine_for
from saga.postgres.tables import upgrade_database
from saga.settings import Settings
from tests.integration._kafka import read_committed_messages
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
    engine = engine_for(url)
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
        # Held as long as it takes (an outage outlasts librdkafka's default 300 s under load).
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "message.timeout.ms": 0}
        )
        self.undelivered: list[str] = []  # "<correlation id>: <error>"

    def publish(
        self, event: Event, correlation_id: str, *, traceparent: str | None = None
    ) -> Message:
        message = Message.new(
            event, correlation_id=correlation_id, producer="test", traceparent=traceparent
        )
        encoded = self.serializer.encode(message.event, message.envelope)

        def delivered(error: KafkaError | None, _: object) -> None:
            if error is not None:
                self.undelivered.append(f"{correlation_id}: {error.str()}")

        self.producer.produce(
            self.topics.topic_for(event_name(event)),
            key=encoded.key,
            value=encoded.value,
            headers=encoded.headers,
            on_delivery=delivered,
        )
        return message

    def flush(self) -> None:
        assert self.producer.flush(120) == 0, "the broker did not take the events"


def query(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = engine_for(url)
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
        "SELECT status, state, count(*) FROM saga_instance "
        "WHERE status NOT IN ('completed', 'compensated', 'failed') GROUP BY 1, 2 "
        "ORDER BY 3 DESC LIMIT 5",
    )
    unpublished = query(
        url,
        "SELECT topic, count(*), min(created_at) FROM saga_outbox WHERE published_at IS NULL "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
    )
    return f"unended by status and state: {states}; unpublished outbox rows: {unpublished}"


def follow_instance(url: str, bootstrap: str, topics: list[str]) -> str:
    """One running instance's path: its history, the events written for its key, whether
    each reached its topic (read_committed) and which consumers took it."""
    first = query(
        url,
        "SELECT instance_id FROM saga_instance "
        "WHERE status NOT IN ('completed', 'compensated', 'failed') LIMIT 1",
    )
    if not first:
        return "no running instance"
    instance = str(first[0][0])
    history = query(
        url,
        "SELECT seq, trigger, from_state, to_state FROM saga_history WHERE instance_id = :i "
        "ORDER BY seq",
        i=instance,
    )
    rows = query(
        url,
        "SELECT o.id, o.lane, o.event_type, o.event_id, o.published_at IS NOT NULL, "
        "array_agg(i.consumer_group) FROM saga_outbox o LEFT JOIN saga_inbox i "
        "ON i.event_id = o.event_id WHERE o.key = :k GROUP BY 1 ORDER BY 1",
        k=instance.encode(),
    )
    in_kafka = event_ids_in(bootstrap, topics)
    told = [
        f"#{row_id} lane {lane} {kind} marked={marked} in_kafka={event_id in in_kafka} "
        f"taken_by={takers}"
        for row_id, lane, kind, event_id, marked, takers in rows
    ]
    return f"instance {instance}: history {history}; its events: {told}"


def follow_order(url: str, bootstrap: str, topics: list[str], order_id: str) -> str:
    """Where an order without an instance went: its records in Kafka, the inbox claims of
    their event ids, the outbox rows of its key."""
    records = records_of(bootstrap, topics, order_id.encode())
    claims = query(
        url,
        "SELECT consumer_group, event_id, processed_at FROM saga_inbox WHERE event_id = ANY(:ids)",
        ids=[uuid.UUID(r[3]) for r in records if r[3]],
    )
    rows = query(
        url,
        "SELECT id, event_type, published_at FROM saga_outbox WHERE key = :k",
        k=order_id.encode(),
    )
    return f"order {order_id}: records {records}; inbox claims {claims}; outbox rows {rows}"


def records_of(bootstrap: str, topics: list[str], key: bytes) -> list[tuple[object, ...]]:
    """(partition, offset, event type, event id) of the committed records with ``key``."""
    found: list[tuple[object, ...]] = []
    for message in _committed(bootstrap, topics):
        if message.key() == key:
            headers = dict(message.headers() or [])
            found.append(
                (
                    message.partition(),
                    message.offset(),
                    (headers.get("event-type") or b"").decode(),
                    (headers.get("event-id") or b"").decode(),
                )
            )
    return found


def event_ids_in(bootstrap: str, topics: list[str]) -> set[object]:
    """The event ids of every committed record in ``topics``."""
    found: set[object] = set()
    for message in _committed(bootstrap, topics):
        for name, value in message.headers() or []:
            if name == "event-id" and isinstance(value, bytes):
                found.add(uuid.UUID(value.decode()))
    return found


def _committed(bootstrap: str, topics: list[str]) -> Iterator[Any]:
    """Every committed record in ``topics`` (read_committed, from the start)."""
    for topic in topics:
        yield from read_committed_messages(bootstrap, topic, expect=0, timeout=30)


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
