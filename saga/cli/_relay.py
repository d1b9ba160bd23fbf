"""`saga relay`: publish the outbox of one database to Kafka until stopped."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from saga.cli._logs import LOG_FORMAT, configure_logging
from saga.cli._metrics import METRICS_PORT, serve_metrics
from saga.cli._telemetry import configure_tracing
from saga.errors import ConfigError
from saga.postgres.connect import database_errors
from saga.relay.relay import DELIVERIES, Relay
from saga.settings import Settings
from saga.stack import resolve_endpoints

out = Console(soft_wrap=True)

RELAY_DELIVERY = typer.Option(
    help="exactly-once (Kafka transactions) or at-least-once (an idempotent producer: less "
    "broker work; after a relay crash copies go out, which inboxes drop); default: "
    "SAGA_RELAY_DELIVERY, else exactly-once",
)


def with_delivery(settings: Settings, delivery: str | None) -> Settings:
    """``settings`` with the relay delivery a command line chose, checked."""
    if delivery is None:
        return settings
    if delivery not in DELIVERIES:
        raise ConfigError(f"delivery {delivery!r}: choose one of {', '.join(DELIVERIES)}")
    return settings.model_copy(update={"relay_delivery": delivery})


def relay(
    name: Annotated[
        str | None, typer.Option(help="relay name, unique per outbox (default: database name)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="rows read and published per round")] = 5000,
    lease_seconds: Annotated[
        float, typer.Option(help="lane lease; a dead relay's lanes move on after it")
    ] = 10.0,
    poll_interval: Annotated[
        float, typer.Option(help="fallback poll when no NOTIFY arrives")
    ] = 1.0,
    retention_hours: Annotated[
        float, typer.Option(help="delete published rows older than this (0: keep them)")
    ] = 24.0,
    delivery: Annotated[str | None, RELAY_DELIVERY] = None,
    lag: Annotated[bool, typer.Option("--lag", help="print the backlog and exit")] = False,
    metrics_port: Annotated[int | None, METRICS_PORT] = None,
    log_format: Annotated[str, LOG_FORMAT] = "text",
) -> None:
    """Relay committed outbox rows to Kafka (SAGA_DATABASE_URL, SAGA_KAFKA_BOOTSTRAP)."""
    settings = with_delivery(Settings(), delivery)
    # Explicit SAGA_* settings first, else the stack `saga stack up` started.
    endpoints = resolve_endpoints(settings)
    retention = timedelta(hours=retention_hours) if retention_hours > 0 else None
    with database_errors(endpoints.database_url):
        runner = Relay(
            endpoints.database_url,
            endpoints.kafka_bootstrap,
            name=name,
            settings=settings,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            retention=retention,
        )
        if lag:
            try:
                current = runner.lag()
            finally:
                runner.close()
            out.print(
                f"backlog {current.backlog} rows, oldest {current.oldest_seconds:.1f}s, "
                f"refused {current.refused}"
            )
            return
        configure_logging(log_format)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        flush = configure_tracing(f"relay {runner.name}")
        stop_metrics = serve_metrics(metrics_port, f"relay {runner.name}", endpoints.database_url)
        out.print(
            f"relay {runner.relay_id} ({runner.name}, {runner.delivery}) running; Ctrl-C stops it"
        )
        try:
            runner.run(stop)
        finally:
            if flush is not None:
                flush()  # the spans still queued
            if stop_metrics is not None:
                stop_metrics()
