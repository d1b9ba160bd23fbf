"""The engine's :class:`~saga.engine.ports.Observer`, filled with OpenTelemetry: a span per
handled input (names, ids and states, never data) and the handling metrics.

:func:`observer` is asked once per batch; it returns None when neither tracing nor metrics
are on, and the engine then opens no span, reads no clock and builds no attribute dict.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import Span

from saga.definition.participant import Participant
from saga.engine.hosting import Consumer, Handler, SagaVersions
from saga.engine.messages import DeadlineFired, Input, Message, OperatorCommand, SignalReceived
from saga.engine.processing import Handled
from saga.observability import metrics as _metrics
from saga.observability import tracing as _telemetry

__all__ = ["TelemetryObserver", "observer"]


def observer() -> TelemetryObserver | None:
    """The observer for the next batch, or None when nothing would record."""
    tracing, measuring = _telemetry.enabled(), _metrics.enabled()
    if not tracing and not measuring:
        return None
    return TelemetryObserver(tracing, measuring)


class _Watch:
    __slots__ = ("result", "tracing")

    def __init__(self, tracing: bool) -> None:
        self.tracing = tracing
        self.result: Handled | None = None

    @property
    def traceparent(self) -> str | None:
        return _telemetry.current_traceparent() if self.tracing else None

    def done(self, result: Handled) -> None:
        self.result = result


@dataclass(frozen=True, slots=True)
class TelemetryObserver:
    """Spans when ``tracing``, metrics when ``measuring`` (see the module docstring)."""

    tracing: bool
    measuring: bool

    @contextmanager
    def watch(
        self, consumer: Consumer, inp: Input, subject: str, parent: object | None
    ) -> Iterator[_Watch]:
        began = time.perf_counter() if self.measuring else 0.0
        watch = _Watch(self.tracing)
        span = parent if isinstance(parent, Span) else None
        if not self.tracing:
            yield watch
        elif isinstance(consumer, Handler) or not (span or trace.get_current_span()).is_recording():
            # A plain handler runs in the record's span (what it writes to an outbox follows
            # it). Not sampled (or no trace): no span of its own; what it emits carries the
            # unsampled context on, so the next hops open none either.
            with _telemetry.in_span(span):
                yield watch
        else:
            with _telemetry.in_span(span), _span(consumer, inp, subject, watch):
                yield watch
        if self.measuring and watch.result is not None and not isinstance(consumer, Handler):
            _measure(consumer, watch.result, time.perf_counter() - began)


@contextmanager
def _span(
    consumer: SagaVersions | Participant, inp: Input, subject: str, watch: _Watch
) -> Iterator[None]:
    """An INTERNAL span around one input's handling: names, ids and states, never data."""
    if isinstance(consumer, SagaVersions):
        with _telemetry.internal_span(_telemetry.span_name("saga", consumer.name)) as span:
            if span.is_recording():  # known before handling: the handling's logs show them
                span.set_attributes({"saga.name": consumer.name, "saga.instance_id": subject})
            yield
            if span.is_recording() and watch.result is not None:
                span.set_attributes(_saga_attributes(consumer.name, inp, watch.result))
        return
    assert isinstance(inp, Message), "participants handle events only"
    handler = consumer.handlers.get(inp.event_type)
    with _telemetry.internal_span(_telemetry.span_name("handle", consumer.name)) as span:
        if span.is_recording():
            span.set_attributes(
                {
                    "saga.participant": consumer.name,
                    "saga.handler": handler.name if handler is not None else "(none)",
                    "saga.event_type": inp.event_type,
                    "saga.instance_id": subject,
                }
            )
        yield
        if span.is_recording() and watch.result is not None:
            span.set_attribute("saga.emitted", len(watch.result.emitted))


def _measure(consumer: SagaVersions | Participant, result: Handled, seconds: float) -> None:
    """Counts and times one handled input (labels: names and statuses only)."""
    if isinstance(consumer, Participant):
        _metrics.handler_duration.record(
            seconds, {"saga.consumer": consumer.name, "saga.consumer.kind": "participant"}
        )
        return
    name = {"saga.name": consumer.name}
    _metrics.handler_duration.record(
        seconds, {"saga.consumer": consumer.name, "saga.consumer.kind": "saga"}
    )
    decision = result.decision
    if decision is not None and decision.outcome == "orphan" and decision.orphan_policy == "keep":
        _metrics.orphans_kept.add(1, name)
    if decision is None or decision.outcome != "applied":
        return
    _metrics.transitions.add(1 + len(result.replayed), name)
    if result.started:
        _metrics.sagas_started.add(1, name)
    if result.ended is not None:
        _metrics.sagas_ended.add(1, {"saga.name": consumer.name, "saga.status": result.ended})


def _saga_attributes(saga: str, inp: Input, result: Handled) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {"saga.name": saga, "saga.input": _input_kind(inp)}
    decision = result.decision
    if decision is None:
        return attributes
    attributes["saga.outcome"] = decision.outcome
    if decision.history is not None:
        attributes["saga.state.from"] = decision.history.from_state or ""
        attributes["saga.state.to"] = decision.history.to_state
    if decision.instance is not None:
        attributes["saga.instance_id"] = decision.instance.instance_id
        attributes["saga.status"] = decision.instance.status
    attributes["saga.emitted"] = len(result.emitted)
    return attributes


def _input_kind(inp: Input) -> str:
    if isinstance(inp, Message):
        return inp.event_type
    if isinstance(inp, DeadlineFired):
        return "deadline"
    if isinstance(inp, SignalReceived):
        return f"signal:{inp.name}"
    if isinstance(inp, OperatorCommand):
        return f"operator:{inp.operation}"
    return type(inp).__name__
