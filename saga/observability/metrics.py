"""Metrics through the OpenTelemetry API: the runtime's instruments, in one place.

Labels are saga names, consumer names, statuses and topics: never keys, ids or data.
Without an SDK the instruments are no-ops; the runtime asks :func:`enabled` once per batch
and then records nothing (no attribute dict, no clock read). ``saga worker`` and ``saga
relay`` install the SDK and serve Prometheus' text format with ``--metrics-port``.

Prometheus names (the exporter adds the unit and ``_total``): ``saga_sagas_started_total``,
``saga_sagas_ended_total{saga_name, saga_status}``, ``saga_transitions_total``,
``saga_handler_duration_seconds``, ``saga_duration_seconds``,
``messaging_client_consumed_messages_total``, ``saga_dead_letters_total``,
``saga_deadline_delay_seconds``, ``saga_orphans_kept_total``,
``saga_outbox_published_total``, ``saga_outbox_backlog``, ``saga_outbox_oldest_age_seconds``,
``saga_outbox_refused``.
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import NoOpMeterProvider

__all__ = [
    "consumed",
    "dead_letters",
    "deadline_delay",
    "enabled",
    "handler_duration",
    "meter",
    "orphans_kept",
    "published",
    "saga_duration",
    "sagas_ended",
    "sagas_started",
    "transitions",
]

meter = metrics.get_meter("saga")

# Seconds: a handler runs in milliseconds, a saga in seconds to hours.
_HANDLER_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
_SAGA_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400]

sagas_started = meter.create_counter(
    "saga.sagas.started", unit="{saga}", description="Saga instances created, by saga"
)
sagas_ended = meter.create_counter(
    "saga.sagas.ended",
    unit="{saga}",
    description="Saga instances that reached a final status (completed, compensated, failed)",
)
transitions = meter.create_counter(
    "saga.transitions", unit="{transition}", description="Inputs applied to saga instances"
)
handler_duration = meter.create_histogram(
    "saga.handler.duration",
    unit="s",
    description="Time to handle one input: a saga's transition or a participant's handler",
    explicit_bucket_boundaries_advisory=_HANDLER_BUCKETS,
)
saga_duration = meter.create_histogram(
    "saga.duration",
    unit="s",
    description="From a saga instance's creation to its final status",
    explicit_bucket_boundaries_advisory=_SAGA_BUCKETS,
)
consumed = meter.create_counter(
    "messaging.client.consumed.messages",
    unit="{message}",
    description="Records a worker handled and committed, by topic",
)
dead_letters = meter.create_counter(
    "saga.dead_letters", unit="{message}", description="Records sent to a dead-letter topic"
)
deadline_delay = meter.create_histogram(
    "saga.deadline.delay",
    unit="s",
    description="How late deadlines fire: from their due time to the transaction firing them",
    explicit_bucket_boundaries_advisory=[0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
)
orphans_kept = meter.create_counter(
    "saga.orphans.kept",
    unit="{event}",
    description="Orphan events kept for an instance that did not exist (yet)",
)
skipped = meter.create_counter(
    "saga.events.skipped",
    unit="{message}",
    description="Records a worker passed over: their event type is not one it hosts (by "
    "topic, event type, and whether its contracts know the type)",
)
published = meter.create_counter(
    "saga.outbox.published", unit="{message}", description="Outbox rows the relay published"
)


def enabled() -> bool:
    """Whether an SDK meter provider is installed: instruments would record."""
    provider = metrics.get_meter_provider()
    # The API's stand-in until an SDK is set is private; its class name says what it is.
    return not isinstance(provider, NoOpMeterProvider) and (
        type(provider).__name__ != "_ProxyMeterProvider"
    )
