"""The worker's metrics and firing spans, kept out of its loop (see ``saga._metrics`` and
``saga._telemetry`` for the instruments and spans themselves)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from confluent_kafka import Message as KafkaMessage
from sqlalchemy import Engine, text

from saga import _metrics, _telemetry
from saga.engine.messages import DeadlineFired

_log = logging.getLogger("saga.worker")


def count_records(batch: Sequence[KafkaMessage], group: str) -> None:
    """Records committed, by topic (one add per topic and batch)."""
    by_topic: dict[str, int] = {}
    for record in batch:
        topic = str(record.topic())
        by_topic[topic] = by_topic.get(topic, 0) + 1
    for topic, count in by_topic.items():
        _metrics.consumed.add(
            count,
            {
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": group,
            },
        )


def measure_ends(
    engine: Engine, worker: str, dead_by: list[str], ended: list[tuple[str, str, str]]
) -> None:
    """Dead letters by consumer; for the sagas that ended (saga, instance, status), their
    duration from creation to now by the database's clock: one query, only while metrics
    are on."""
    if not _metrics.enabled():
        return
    for consumer in dead_by:
        _metrics.dead_letters.add(1, {"saga.consumer": consumer})
    if not ended:
        return
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT i.saga, i.instance_id, "
                    "extract(epoch FROM now() - i.created_at)::float8 "
                    "FROM saga_instance i JOIN jsonb_to_recordset(CAST(:ended AS jsonb)) "
                    "AS e(saga text, instance_id text) USING (saga, instance_id)"
                ),
                {"ended": json.dumps([{"saga": s, "instance_id": i} for s, i, _ in ended])},
            ).all()
    except Exception as exc:  # committed already: a metric is not worth a redelivery
        _log.warning("worker %s: saga durations not measured: %s", worker, type(exc).__name__)
        return
    status = {(saga, instance): final for saga, instance, final in ended}
    for saga, instance, seconds in rows:
        _metrics.saga_duration.record(
            float(seconds), {"saga.name": saga, "saga.status": status[saga, instance]}
        )


def measure_delays(fired: Sequence[DeadlineFired], now: datetime) -> None:
    """How late each deadline fired, by the database's clock."""
    for deadline in fired:
        if deadline.due is not None:
            _metrics.deadline_delay.record(
                max(0.0, (now - deadline.due).total_seconds()), {"saga.name": deadline.saga}
            )


@contextmanager
def firing(kind: str, saga: str, instance_id: str) -> Iterator[None]:
    """A deadline's or signal's firing as a span of its own: the transition it causes, and
    the events that emits, are its children."""
    if not _telemetry.enabled():
        yield
        return
    with _telemetry.internal_span(_telemetry.span_name(kind, saga)) as span:
        if span.is_recording():
            span.set_attributes({"saga.name": saga, "saga.instance_id": instance_id})
        yield
