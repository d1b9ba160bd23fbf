"""The worker's metrics and firing spans, kept out of its loop (the instruments and spans
themselves are in :mod:`saga.observability.metrics` and :mod:`saga.observability.tracing`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from confluent_kafka import Message as KafkaMessage

from saga.engine.messages import DeadlineFired
from saga.observability import metrics as _metrics
from saga.observability import tracing as _telemetry

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
    ages: Callable[[list[tuple[str, str]]], dict[tuple[str, str], float]],
    who: str,
    dead_by: Sequence[str],
    ended: Sequence[tuple[str, str, str]],
) -> None:
    """Dead letters by consumer; for the sagas that ended (saga, instance, status), their
    duration from creation to now by the database's clock (``ages``: one query, asked only
    while metrics are on)."""
    if not _metrics.enabled():
        return
    for consumer in dead_by:
        _metrics.dead_letters.add(1, {"saga.consumer": consumer})
    if not ended:
        return
    try:
        seconds = ages([(saga, instance) for saga, instance, _ in ended])
    except Exception as exc:  # committed already: a metric is not worth a redelivery
        _log.warning("%s: saga durations not measured: %s", who, type(exc).__name__)
        return
    for saga, instance, status in ended:
        age = seconds.get((saga, instance))
        if age is not None:
            _metrics.saga_duration.record(age, {"saga.name": saga, "saga.status": status})


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
