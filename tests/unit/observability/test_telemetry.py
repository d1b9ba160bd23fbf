"""The runtime's own ``traceparent`` parsing agrees with OpenTelemetry's W3C propagator."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from saga.observability.tracing import context_of

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "traceparent",
    [
        f"00-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-00",
        f"01-{TRACE}-{SPAN}-01",
        f"00-{'0' * 32}-{SPAN}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"ff-{TRACE}-{SPAN}-01",
        f"00-{TRACE[:-1]}x-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-0100",
        f"00-{TRACE}-{SPAN}",
        "garbage",
        "",
    ],
)
def test_context_of_reads_what_the_propagator_reads(traceparent: str) -> None:
    ours = context_of(traceparent)
    theirs = trace.get_current_span(
        TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    ).get_span_context()
    if not theirs.is_valid:
        assert ours is None
        return
    assert ours is not None
    got = trace.get_current_span(ours).get_span_context()
    assert (got.trace_id, got.span_id, got.trace_flags, got.is_remote) == (
        theirs.trace_id,
        theirs.span_id,
        theirs.trace_flags,
        True,
    )
