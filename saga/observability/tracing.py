"""Tracing through the OpenTelemetry API: the spans the runtime opens, in one place.

Names and attributes follow OpenTelemetry's messaging conventions (``process <topic>`` as a
CONSUMER span, ``publish <topic>`` as a PRODUCER span, ``messaging.*`` attributes). The
record key is never an attribute: it is the saga's correlation id, which may be personal.
Saga spans name the saga, the instance and the states, never the saga's data.

Without an SDK configured the API hands out non-recording spans; the runtime asks
:func:`enabled` once per batch and then opens no span at all, and builds attributes only
for a span that records.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

__all__ = [
    "TraceContextFilter",
    "consumer_span",
    "consuming",
    "context_of",
    "current_traceparent",
    "enabled",
    "end_spans",
    "in_span",
    "internal_span",
    "producer_span",
    "sampled_out",
    "span_name",
    "traceparent_of",
]

tracer = trace.get_tracer("saga")
_OFF = (ProxyTracerProvider, NoOpTracerProvider)
# Span names per topic, built once: a name per record would be a string per record.
_NAMES: dict[tuple[str, str], str] = {}


def enabled() -> bool:
    """Whether an SDK (or any real tracer provider) is installed: spans would record."""
    return not isinstance(trace.get_tracer_provider(), _OFF)


def _name(operation: str, destination: str) -> str:
    key = (operation, destination)
    name = _NAMES.get(key)
    if name is None:
        name = _NAMES[key] = f"{operation} {destination}"
    return name


def sampled_out(traceparent: str | None) -> bool:
    """Whether ``traceparent`` says its trace is not sampled (flags ``00``): then no span is
    opened for it at all and the context travels on as it came, which keeps an unsampled
    record as cheap as with tracing off (a span the sampler drops still costs its making)."""
    return traceparent is not None and traceparent.endswith("-00")


def traceparent_of(headers: Sequence[tuple[str, Any]]) -> str | None:
    """The ``traceparent`` header's text, if a record carries one."""
    for name, value in headers:
        if name == "traceparent":
            if isinstance(value, bytes):
                return value.decode(errors="replace")
            return value if isinstance(value, str) else None
    return None


def context_of(traceparent: str | None) -> otel_context.Context | None:
    """The W3C trace context ``traceparent`` names, as a parent for new spans (None: none,
    or unreadable). Parsed by hand: the propagator's regular expressions cost more than the
    span they parent, on every record."""
    if not traceparent or len(traceparent) != 55:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[0]) != 2 or parts[0] == "ff":  # ff: invalid by W3C
        return None
    _, trace_hex, span_hex, flags = parts
    if len(trace_hex) != 32 or len(span_hex) != 16 or len(flags) != 2:
        return None
    try:
        trace_id, span_id, sampled = int(trace_hex, 16), int(span_hex, 16), int(flags, 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    remote = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(sampled))
    return trace.set_span_in_context(NonRecordingSpan(remote))


def current_traceparent() -> str | None:
    """W3C ``traceparent`` of the current span, if one is recording a trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
        f"{int(span_context.trace_flags):02x}"
    )


def consumer_span(
    topic: str, partition: int, offset: int, traceparent: str | None, group: str
) -> Span:
    """``process <topic>``: handling one consumed record, child of the producer's context it
    carries. Not made current: the caller ends it once the batch is committed."""
    span = tracer.start_span(
        _name("process", topic), context=context_of(traceparent), kind=SpanKind.CONSUMER
    )
    if span.is_recording():
        span.set_attributes(
            {
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.destination.name": topic,
                "messaging.destination.partition.id": str(partition),
                "messaging.kafka.offset": offset,
                "messaging.consumer.group.name": group,
            }
        )
    return span


def producer_span(topic: str, traceparent: str, lane: int) -> Span:
    """``publish <topic>`` for one record: child of the writer's span (its stored
    ``traceparent``), and linked to it as the message's creation context, as the
    conventions ask. The record keeps the writer's ``traceparent``: its consumer is the
    writer's child, as if the outbox were not there."""
    parent = context_of(traceparent)
    links = [Link(trace.get_current_span(parent).get_span_context())] if parent else None
    span = tracer.start_span(
        _name("publish", topic), context=parent, kind=SpanKind.PRODUCER, links=links
    )
    if span.is_recording():
        span.set_attributes(
            {
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.operation.name": "publish",
                "messaging.destination.name": topic,
                "saga.outbox.lane": lane,
            }
        )
    return span


def end_spans(spans: Sequence[Span], error: str | None = None) -> None:
    """End ``spans``; ``error`` (a class of error, no values) marks them failed."""
    for span in spans:
        if error is not None and span.is_recording():
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", error)
        span.end()


@contextmanager
def consuming(
    topic: str, partition: int, offset: int, traceparent: str | None, group: str
) -> Iterator[None]:
    """The block as the current ``process <topic>`` span (see :func:`consumer_span`),
    ended with the block; an exception marks it failed with its class."""
    span = consumer_span(topic, partition, offset, traceparent, group)
    token = otel_context.attach(trace.set_span_in_context(span))
    error = None
    try:
        yield
    except Exception as exc:
        error = type(exc).__qualname__
        raise
    finally:
        otel_context.detach(token)
        end_spans([span], error)


@contextmanager
def in_span(span: Span | None) -> Iterator[None]:
    """Make ``span`` current (its children and the outbox rows written meanwhile follow it)."""
    if span is None:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        otel_context.detach(token)


def span_name(operation: str, subject: str) -> str:
    """``<operation> <subject>``, built once per pair."""
    return _name(operation, subject)


@contextmanager
def internal_span(name: str) -> Iterator[Span]:
    """An INTERNAL span, current while the block runs. An exception marks it failed with
    its class only: exception messages may quote the data being handled."""
    with tracer.start_as_current_span(
        name, kind=SpanKind.INTERNAL, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except Exception as exc:
            if span.is_recording():
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", type(exc).__qualname__)
            raise


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex), and the ``saga`` (or participant) and
    ``instance_id`` the current span handles, to every record a handler emits (empty
    outside a recording span), so that a log line leads to its trace and its saga."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span()
        span_context = span.get_span_context()
        record.trace_id = record.span_id = record.saga = record.instance_id = ""
        if span_context.is_valid:
            record.trace_id = f"{span_context.trace_id:032x}"
            record.span_id = f"{span_context.span_id:016x}"
            # An SDK span shows its attributes; the API's own spans have none.
            attributes = getattr(span, "attributes", None) or {}
            record.saga = str(
                attributes.get("saga.name") or attributes.get("saga.participant") or ""
            )
            record.instance_id = str(attributes.get("saga.instance_id") or "")
        return True
