"""``--metrics-port``: the runtime's metrics in Prometheus' text format, for a scraper.

``saga worker … --metrics-port 9464`` installs the OpenTelemetry SDK's meter provider with
its Prometheus reader and serves ``http://HOST:9464/metrics``; the instruments are in
:mod:`saga.observability.metrics`. The outbox's backlog, oldest unpublished age and refused rows are
read from the database when scraped (one small query per scrape).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import typer

from saga.errors import ConfigError
from saga.observability import metrics as _metrics
from saga.postgres.connect import engine_for

__all__ = ["METRICS_PORT", "serve_metrics"]

METRICS_PORT = typer.Option(
    "--metrics-port",
    help="serve Prometheus metrics on this port (http://HOST:PORT/metrics)",
    show_default=False,
)


def serve_metrics(port: int | None, service: str, database_url: str) -> Callable[[], None] | None:
    """Serve ``/metrics`` on ``port`` (None: no metrics); returns what stops it. A port in
    use raises ConfigError, before anything else starts."""
    if port is None:
        return None
    if not 0 < port < 65536:
        raise ConfigError(f"--metrics-port {port}: give a TCP port between 1 and 65535")
    try:
        from opentelemetry import metrics
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.metrics import Observation
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from prometheus_client import start_http_server
    except ImportError:
        raise ConfigError(
            "--metrics-port needs the OpenTelemetry SDK and its Prometheus exporter: "
            "pip install 'saga-kafka[otel]'"
        ) from None
    try:
        server, _ = start_http_server(port)
    except OSError as exc:
        raise ConfigError(
            f"--metrics-port {port}: cannot listen there ({exc.strerror or exc}); another "
            "process uses it: choose a free port"
        ) from None
    provider = MeterProvider(
        metric_readers=[PrometheusMetricReader()],
        resource=Resource.create({"service.name": service}),
    )
    metrics.set_meter_provider(provider)
    engine = _outbox_gauges(database_url, Observation)
    logging.getLogger("saga.metrics").info("Prometheus metrics on http://0.0.0.0:%d/metrics", port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        provider.shutdown()
        engine.dispose()

    return stop


def _outbox_gauges(database_url: str, observation: Any) -> Any:
    """Observable gauges of the outbox, read when scraped; returns the engine they use."""
    from sqlalchemy.pool import NullPool

    from saga.postgres.maintenance import Lag, outbox_lag

    engine = engine_for(database_url, poolclass=NullPool)
    cache: dict[str, Any] = {"at": 0.0, "lag": None}

    def current() -> Lag | None:
        # One query serves the three gauges of a scrape.
        if time.monotonic() - cache["at"] > 1.0:
            cache["at"] = time.monotonic()
            try:
                with engine.connect() as conn:
                    cache["lag"] = outbox_lag(conn)
            except Exception:  # the database away: no value now; the runtime's log says why
                cache["lag"] = None
        lag: Lag | None = cache["lag"]
        return lag

    def gauge(value: Callable[[Lag], float]) -> Callable[[Any], Iterable[Any]]:
        def observe(_: Any) -> Iterable[Any]:
            lag = current()
            return [] if lag is None else [observation(value(lag))]

        return observe

    meter = _metrics.meter
    meter.create_observable_gauge(
        "saga.outbox.backlog",
        [gauge(lambda lag: lag.backlog)],
        unit="{row}",
        description="Outbox rows not yet published",
    )
    meter.create_observable_gauge(
        "saga.outbox.oldest_age",
        [gauge(lambda lag: lag.oldest_seconds)],
        unit="s",
        description="Age of the oldest unpublished outbox row",
    )
    meter.create_observable_gauge(
        "saga.outbox.refused",
        [gauge(lambda lag: lag.refused)],
        unit="{row}",
        description="Outbox rows Kafka refused for good",
    )
    return engine
