"""The soak's checker: everything the run left behind, read back and held to the promise.

:func:`gather` reads the four services' outboxes, inboxes, effect logs, the saga's instances
and histories, and every record of the run's topics as a ``read_committed`` consumer sees
them. The checks are plain functions of that evidence (so a test can feed them a doubled
effect or a lost event), each returning :class:`Violation` s that name the order:

- every event written to an outbox was published, exactly once, and nothing else was;
- one key's events from one outbox reach their topic in the order they were written;
- every consumer (saga or participant) claimed every event it consumes in its inbox;
- every effect was applied at most once per event and per order (one reservation, charge,
  capture, refund, shipment...);
- every saga history is a legal path of the definition, ending where its instance is.

The demo's invariants (:func:`services.demo.report.build`: all sagas ended, stock and money
conserved, rows follow sagas...) run alongside.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from saga.engine.hosting import Subscriptions
from services import inventory, orders, payments, shipping
from services.common import SERVICES
from services.demo.report import SAGA, rows
from services.orders.saga import OrderSaga

#: Effects an order may have at most once in a service (a capture may fail, then succeed).
REPEATABLE = {"capture-failed"}
#: Effects that exclude each other for one order: one answer per request.
ONE_OF = (
    ("inventory", {"reserve", "refuse"}),
    ("payments", {"authorize", "decline"}),
    ("payments", {"void", "refund"}),
    ("shipping", {"ship", "refuse"}),
    ("orders", {"completed", "cancelled"}),
)


def hosted() -> dict[str, Subscriptions]:
    """What each service's worker hosts (its inbox groups are these consumers' names)."""
    return {
        "orders": Subscriptions.of([OrderSaga], [orders.orders]),
        "inventory": Subscriptions.of([], [inventory.inventory]),
        "payments": Subscriptions.of([], [payments.payments]),
        "shipping": Subscriptions.of([], [shipping.shipping]),
    }


@dataclass(frozen=True)
class Violation:
    order: str | None
    what: str

    def __str__(self) -> str:
        return f"order {self.order}: {self.what}" if self.order else self.what


@dataclass(frozen=True)
class OutboxRow:
    service: str
    id: int
    event_id: uuid.UUID
    topic: str
    key: str
    event_type: str
    published: bool


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    event_id: uuid.UUID | None
    event_type: str


@dataclass(frozen=True)
class Effect:
    service: str
    event_id: uuid.UUID
    kind: str
    order_id: uuid.UUID


@dataclass(frozen=True)
class Step:
    seq: int
    trigger: str
    source: str | None
    target: str


@dataclass
class Evidence:
    outbox: list[OutboxRow] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    inbox: set[tuple[str, str, uuid.UUID]] = field(default_factory=set)  # service, group, id
    effects: list[Effect] = field(default_factory=list)
    histories: dict[str, list[Step]] = field(default_factory=dict)
    instances: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> state, status


# -- the checks --------------------------------------------------------------------------


def check_publication(evidence: Evidence) -> list[Violation]:
    """Each outbox row published, once; every record of the run's topics from an outbox."""
    found: list[Violation] = []
    copies = Counter(r.event_id for r in evidence.records)
    written = {row.event_id: row for row in evidence.outbox}
    for row in evidence.outbox:
        where = f"{row.event_type.rsplit('.', 1)[-1]} {row.event_id} (outbox of {row.service}"
        where += f", row {row.id})"
        if not row.published:
            found.append(Violation(row.key, f"{where} was never published"))
        elif copies[row.event_id] == 0:
            found.append(Violation(row.key, f"{where} is marked published but not in {row.topic}"))
        elif copies[row.event_id] > 1:
            found.append(
                Violation(row.key, f"{where} is in the topics {copies[row.event_id]} times")
            )
    for record in evidence.records:
        if record.event_id not in written:
            found.append(
                Violation(
                    record.key,
                    f"{record.topic}[{record.partition}]@{record.offset} "
                    f"({record.event_type}) comes from no outbox",
                )
            )
    return found


def check_key_order(evidence: Evidence) -> list[Violation]:
    """Per topic, key and outbox: records in the order their rows were written."""
    rows = {row.event_id: row for row in evidence.outbox}
    last: dict[tuple[str, str, str], tuple[int, Record]] = {}
    found: list[Violation] = []
    for record in sorted(evidence.records, key=lambda r: (r.topic, r.partition, r.offset)):
        row = rows.get(record.event_id) if record.event_id else None
        if row is None:
            continue
        lane = (record.topic, record.key, row.service)
        before = last.get(lane)
        if before is not None and before[0] > row.id:
            found.append(
                Violation(
                    record.key,
                    f"{record.topic}: {record.event_type} (outbox row {row.id}, offset "
                    f"{record.offset}) after {before[1].event_type} (row {before[0]}, offset "
                    f"{before[1].offset}): written first, published second",
                )
            )
        last[lane] = (row.id, record)
    return found


def check_consumed(evidence: Evidence, hosts: dict[str, Subscriptions]) -> list[Violation]:
    """Every event on the topics claimed, once, in the inbox of each consumer of its type
    (the inbox's key makes twice impossible; missing is what can go wrong)."""
    found: list[Violation] = []
    for record in evidence.records:
        if record.event_id is None:
            continue
        for service, subscriptions in hosts.items():
            for consumer in subscriptions.consumers(record.event_type):
                if (service, consumer.name, record.event_id) not in evidence.inbox:
                    found.append(
                        Violation(
                            record.key,
                            f"{record.event_type.rsplit('.', 1)[-1]} {record.event_id} never "
                            f"consumed by {consumer.name} ({service})",
                        )
                    )
    return found


def expected_claims(evidence: Evidence, hosts: dict[str, Subscriptions]) -> int:
    """How many (consumer, event) claims :func:`check_consumed` looks for."""
    return sum(
        len(subscriptions.consumers(record.event_type))
        for record in evidence.records
        for subscriptions in hosts.values()
    )


def check_effects(evidence: Evidence) -> list[Violation]:
    """No event applied twice; no order with a repeated or contradictory effect; every
    effect's event claimed in the service's inbox."""
    found: list[Violation] = []
    by_event = Counter((e.service, e.event_id) for e in evidence.effects)
    for (service, event_id), n in sorted(by_event.items(), key=str):
        if n > 1:
            effect = next(e for e in evidence.effects if e.event_id == event_id)
            found.append(
                Violation(
                    str(effect.order_id),
                    f"{service} applied event {event_id} ({effect.kind}) {n} times",
                )
            )
    per_order: dict[tuple[str, uuid.UUID], Counter[str]] = defaultdict(Counter)
    for e in evidence.effects:
        per_order[(e.service, e.order_id)][e.kind] += 1
    for (service, order_id), kinds in sorted(per_order.items(), key=str):
        for kind, n in sorted(kinds.items()):
            if n > 1 and kind not in REPEATABLE:
                found.append(Violation(str(order_id), f"{service}: {kind} applied {n} times"))
        for owner, exclusive in ONE_OF:
            both = sorted(k for k in kinds if k in exclusive)
            if owner == service and len(both) > 1:
                found.append(Violation(str(order_id), f"{service}: both {' and '.join(both)}"))
    claimed = {(service, event_id) for service, _, event_id in evidence.inbox}
    for e in evidence.effects:
        if (e.service, e.event_id) not in claimed:
            found.append(
                Violation(str(e.order_id), f"{e.service}: {e.kind} by {e.event_id}, not in inbox")
            )
    return found


def check_histories(evidence: Evidence) -> list[Violation]:
    """Each history a legal path: starts where a start event leads, every move an edge of
    the definition (or a stay), numbered without gaps, ending at the instance's state."""
    definition = OrderSaga.__saga__
    edges = {(e.source, e.target) for e in definition.edges()}
    finals = {s.name for s in definition.states.values() if s.final}
    found: list[Violation] = []
    for instance_id, (state, _status) in evidence.instances.items():
        steps = evidence.histories.get(instance_id, [])
        if not steps:
            found.append(Violation(instance_id, "the saga has no history"))
            continue
        at: str | None = None
        for n, step in enumerate(steps, start=1):
            problem = None
            if step.seq != n:
                problem = f"history entry {n} is numbered {step.seq}"
            elif step.source != at:
                problem = f"entry {n} ({step.trigger}) leaves {step.source}, but it was in {at}"
            elif at in finals:
                problem = f"entry {n} ({step.trigger}) after the final state {at}"
            elif step.source != step.target and (step.source, step.target) not in edges:
                problem = f"entry {n}: {step.source} → {step.target} on {step.trigger} is no edge"
            if problem:
                found.append(Violation(instance_id, problem))
                break
            at = step.target
        else:
            if at != state:
                found.append(Violation(instance_id, f"history ends in {at}, instance in {state}"))
    return found


def check_all(evidence: Evidence) -> dict[str, list[Violation]]:
    return {
        "every event published exactly once": check_publication(evidence),
        "per-key order kept in the topics": check_key_order(evidence),
        "every event consumed once per consumer": check_consumed(evidence, hosted()),
        "every effect applied exactly once": check_effects(evidence),
        "every saga history a legal path": check_histories(evidence),
    }


# -- reading it all ----------------------------------------------------------------------


def gather(urls: dict[str, str], bootstrap: str, prefix: str) -> Evidence:
    evidence = Evidence()
    for service in SERVICES:
        url = urls[service]
        evidence.outbox += [
            OutboxRow(service, i, e, t, bytes(k).decode(), et, p)
            for i, e, t, k, et, p in rows(
                url,
                "SELECT id, event_id, topic, key, event_type, published_at IS NOT NULL "
                "FROM saga_outbox WHERE topic LIKE :p ORDER BY id",
                p=prefix.replace("_", r"\_") + "%",
            )
        ]
        evidence.inbox |= {
            (service, g, e) for g, e in rows(url, "SELECT consumer_group, event_id FROM saga_inbox")
        }
        evidence.effects += [
            Effect(service, *row)
            for row in rows(url, "SELECT event_id, kind, order_id FROM effect ORDER BY applied_at")
        ]
    for instance_id, seq, trigger, source, target in rows(
        urls["orders"],
        "SELECT instance_id, seq, trigger, from_state, to_state FROM saga_history "
        "WHERE saga = :saga ORDER BY instance_id, seq",
        saga=SAGA,
    ):
        evidence.histories.setdefault(instance_id, []).append(Step(seq, trigger, source, target))
    evidence.instances = {
        i: (state, status)
        for i, state, status in rows(
            urls["orders"],
            "SELECT instance_id, state, status FROM saga_instance WHERE saga = :saga",
            saga=SAGA,
        )
    }
    evidence.records = read_topics(bootstrap, prefix)
    return evidence


def read_topics(bootstrap: str, prefix: str, timeout: float = 120) -> list[Record]:
    """Every record of the topics starting with ``prefix``, as ``read_committed`` sees them
    (records of aborted transactions left out), up to each partition's stable end."""
    import time

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = admin.list_topics(timeout=30).topics
    partitions = [
        TopicPartition(name, p, OFFSET_BEGINNING)
        for name, meta in sorted(topics.items())
        if name.startswith(prefix)
        for p in sorted(meta.partitions)
    ]
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"soak-check-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records: list[Record] = []
    try:
        ends = {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=30, cached=False)[
                1
            ]
            for tp in partitions
        }
        waiting = {k for k, end in ends.items() if end > 0}
        consumer.assign(partitions)
        deadline = time.monotonic() + timeout
        while waiting:
            if time.monotonic() > deadline:
                raise KafkaException(f"reading the topics: {len(waiting)} partitions unfinished")
            for message in consumer.consume(1000, 1.0):
                where = (str(message.topic()), int(message.partition() or 0))
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        waiting.discard(where)
                        continue
                    raise KafkaException(error)
                if (message.offset() or 0) + 1 >= ends[where]:
                    waiting.discard(where)
                records.append(_record(message))
    finally:
        consumer.close()
    return records


def _record(message: Any) -> Record:
    headers = dict(message.headers() or [])
    raw_id = headers.get("event-id")
    event_id = uuid.UUID(raw_id.decode()) if raw_id else None
    return Record(
        message.topic(),
        message.partition(),
        message.offset(),
        (message.key() or b"").decode(),
        event_id,
        (headers.get("event-type") or b"").decode(),
    )


def summary(results: dict[str, list[Violation]]) -> Iterable[tuple[str, bool, str]]:
    for name, violations in results.items():
        detail = (
            "none"
            if not violations
            else f"{len(violations)}, first: {violations[0]}"
            + (f"; then {violations[1]}" if len(violations) > 1 else "")
        )
        yield name, not violations, detail
