"""OpenTelemetry for the long-running commands (``saga worker``, ``saga relay``).

The library only uses the API; these commands install the SDK when the standard variables
ask for it, so one variable turns tracing on::

    OTEL_TRACES_EXPORTER=console saga worker shop.sagas     # spans as JSON lines on stdout
    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 saga worker shop.sagas

``OTEL_TRACES_EXPORTER`` is a comma-separated list of ``otlp`` (HTTP/protobuf, the
``otel`` extra) and ``console``; ``none`` or unset (without an OTLP endpoint) leaves the
no-op API in place. The SDK reads the rest itself: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from saga.errors import ConfigError

__all__ = ["configure_tracing"]

_log = logging.getLogger("saga.telemetry")


def _wanted() -> list[str]:
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n]
    names = [n for n in names if n]
    if not names and (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        names = ["otlp"]
    return [n for n in names if n != "none"]


def configure_tracing(service: str) -> Callable[[], None] | None:
    """Install an SDK tracer provider as the environment asks; returns its shutdown (which
    flushes the spans still queued), or None when tracing stays off."""
    names = _wanted()
    if not names:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        _log.warning(
            "OTEL_TRACES_EXPORTER is set but the OpenTelemetry SDK is not installed: "
            "no traces (pip install 'saga-kafka[otel]')"
        )
        return None
    exporters = [_exporter(name) for name in names]
    attributes: dict[str, Any] = {}
    named = "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not os.environ.get("OTEL_SERVICE_NAME") and not named:
        attributes["service.name"] = service
    provider = TracerProvider(resource=Resource.create(attributes))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider.shutdown


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        # One JSON object per line: readable by a log shipper and by tests alike.
        return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")
    if name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigError(
                "OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: pip install 'saga-kafka[otel]'"
            ) from None
        return OTLPSpanExporter()
    raise ConfigError(
        f"OTEL_TRACES_EXPORTER={name!r} is not one saga knows: use otlp, console or none"
    )
