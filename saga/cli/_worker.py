"""``saga worker``, ``saga topics list|create`` and ``saga signal``: the durable runtime."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from saga.cli._loading import load_hosts
from saga.cli._logs import LOG_FORMAT, configure_logging
from saga.cli._metrics import METRICS_PORT, serve_metrics
from saga.cli._relay import RELAY_DELIVERY, with_delivery
from saga.cli._telemetry import configure_tracing
from saga.errors import ConfigError
from saga.postgres.connect import database_errors, engine_for
from saga.settings import Settings

out = Console(soft_wrap=True, highlight=False)
_err = Console(stderr=True, soft_wrap=True, highlight=False)
topics_app = typer.Typer(
    help="The Kafka topics a set of sagas and participants read and write.",
    no_args_is_help=True,
)

_FIX = (
    'mark the requests among them "role": "request" in their contracts (requests travel on '
    "a topic of their own); other events need a namespace or TopicMap override of their own"
)
_TARGETS = typer.Argument(help="modules (every saga and participant in them) or module:Name")
_PREFIX = typer.Option("--topic-prefix", help="prefix of every topic (e.g. per environment)")


def worker(
    targets: Annotated[list[str], _TARGETS],
    name: Annotated[
        str | None,
        typer.Option(
            help="consumer group; workers of one name share the work (default: hosted names)"
        ),
    ] = None,
    relay: Annotated[
        bool, typer.Option("--relay/--no-relay", help="publish the outbox from this process")
    ] = True,
    relay_name: Annotated[
        str | None,
        typer.Option(help="the outbox's relay name (default: the database's name)"),
    ] = None,
    relay_delivery: Annotated[str | None, RELAY_DELIVERY] = None,
    batch_size: Annotated[int, typer.Option(help="records per poll batch")] = 500,
    attempts: Annotated[
        int, typer.Option(help="tries of a failing handler before its dead letter")
    ] = 3,
    topic_prefix: Annotated[str, _PREFIX] = "",
    unknown_events: Annotated[
        str,
        typer.Option(
            help="a record of an event type no contract here names: skip, dead-letter or stop"
        ),
    ] = "skip",
    metrics_port: Annotated[int | None, METRICS_PORT] = None,
    log_format: Annotated[str, LOG_FORMAT] = "text",
) -> None:
    """Run sagas and participants on Kafka and PostgreSQL until SIGTERM or Ctrl-C."""
    from saga.contracts.topics import TopicMap
    from saga.runtime.loop import UNKNOWN_EVENTS
    from saga.runtime.worker import Worker
    from saga.stack import resolve_endpoints

    if unknown_events not in UNKNOWN_EVENTS:
        raise ConfigError(
            f"--unknown-events {unknown_events!r}: choose one of {', '.join(UNKNOWN_EVENTS)}"
        )
    for option, value in (("--batch-size", batch_size), ("--attempts", attempts)):
        if value < 1:
            raise ConfigError(f"{option} {value}: give at least 1")
    sagas, participants = load_hosts(targets)
    settings = with_delivery(Settings(), relay_delivery)
    endpoints = resolve_endpoints(settings)
    configure_logging(log_format)
    with database_errors(endpoints.database_url):
        runner = Worker(
            sagas=sagas,
            participants=participants,
            database_url=endpoints.database_url,
            kafka_bootstrap=endpoints.kafka_bootstrap,
            settings=settings,
            name=name,
            topics=TopicMap(prefix=topic_prefix),
            relay=relay,
            relay_name=relay_name,
            batch_size=batch_size,
            attempts=attempts,
            unknown_events=unknown_events,
        )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        flush = configure_tracing(runner.name)
        stop_metrics = serve_metrics(metrics_port, runner.name, endpoints.database_url)
        out.print(f"worker {escape(runner.name)} starting; SIGTERM or Ctrl-C stops it")
        try:
            runner.run(stop)
        finally:
            if flush is not None:
                flush()  # the spans still queued
            if stop_metrics is not None:
                stop_metrics()
    out.print(f"worker {escape(runner.name)} stopped")


@topics_app.command("list")
def list_topics(
    targets: Annotated[list[str], _TARGETS],
    topic_prefix: Annotated[str, _PREFIX] = "",
    workers: Annotated[
        bool,
        typer.Option(
            "--workers",
            help="each TARGET is a worker of its own (`saga worker TARGET`), not one together",
        ),
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="exit 1 when a worker reads events it passes over")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per topic")] = False,
) -> None:
    """Which topic each event travels on, who produces and consumes it, which events a worker
    reads and passes over, and whether the topic exists (with its partition count) when
    Kafka answers."""
    from saga.contracts.topics import TopicMap
    from saga.engine.hosting import Subscriptions, passed_over, topic_uses

    groups = [[target] for target in targets] if workers else [list(targets)]
    hosted = {" ".join(group): load_hosts(group) for group in groups}
    sagas = list(dict.fromkeys(s for found, _ in hosted.values() for s in found))
    participants = list(dict.fromkeys(p for _, found in hosted.values() for p in found))
    uses = topic_uses(Subscriptions.of(sagas, participants), TopicMap(prefix=topic_prefix))
    skipped = {
        worker: passed_over(Subscriptions.of(*found), uses) for worker, found in hosted.items()
    }
    known = _known_topics()
    rows: list[dict[str, Any]] = [
        {
            "topic": use.topic,
            "events": sorted(use.events),
            "producers": sorted(use.producers),
            "consumers": sorted(use.consumers),
            "passed_over": {
                worker: sorted(by_topic[use.topic])
                for worker, by_topic in skipped.items()
                if use.topic in by_topic
            },
            "partitions": None if known is None else known.get(use.topic, 0),
        }
        for use in uses.values()
    ]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
    else:
        _print_topics(rows)
        if known is None:
            out.print("Kafka did not answer: partitions unknown")
    for worker, by_topic in skipped.items():
        if by_topic:  # on stderr: `--json` output stays JSON, `--check` says why it failed
            listed = "; ".join(
                f"{topic}: {', '.join(e.rpartition('.')[2] for e in sorted(events))}"
                for topic, events in sorted(by_topic.items())
            )
            _err.print(
                f"{escape(worker)} would read events and pass them over ({escape(listed)}): {_FIX}"
            )
    if check and any(skipped.values()):
        raise typer.Exit(1)


def _print_topics(rows: list[dict[str, Any]]) -> None:
    table = Table("topic", "events", "produced by", "consumed by", "passed over by", "partitions")
    for row in rows:
        partitions = row["partitions"]
        table.add_row(
            row["topic"],
            "\n".join(row["events"]),
            ", ".join(row["producers"]) or "(from outside)",
            ", ".join(row["consumers"]) or "(outside)",
            "\n".join(
                f"{worker}: {', '.join(e.rpartition('.')[2] for e in events)}"
                for worker, events in row["passed_over"].items()
            ),
            "?" if partitions is None else ("missing" if partitions == 0 else str(partitions)),
        )
    out.print(table)


def _known_topics() -> dict[str, int] | None:
    from saga.errors import TransportError
    from saga.kafka.admin import existing_topics
    from saga.stack import resolve_endpoints

    settings = Settings()
    try:
        bootstrap = resolve_endpoints(settings).kafka_bootstrap
        return existing_topics(settings.kafka_config(bootstrap), timeout=5)
    except (TransportError, ConfigError):
        return None


@topics_app.command("create")
def create(
    targets: Annotated[list[str], _TARGETS],
    partitions: Annotated[int, typer.Option(help="partitions of each new topic")] = 6,
    name: Annotated[
        str | None,
        typer.Option(help="worker name, for its dead-letter topic (default: hosted names)"),
    ] = None,
    topic_prefix: Annotated[str, _PREFIX] = "",
    timeout: Annotated[float, typer.Option(help="seconds to wait for Kafka's answers")] = 30,
) -> None:
    """Create the missing topics (and the worker's dead-letter topic); existing ones stay."""
    from saga.contracts.topics import TopicMap
    from saga.engine.hosting import Subscriptions, topic_uses
    from saga.kafka.admin import create_topics
    from saga.stack import resolve_endpoints

    if partitions < 1:
        raise ConfigError(f"--partitions {partitions}: give at least 1")
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout:g}: give a number of seconds above 0")
    sagas, participants = load_hosts(targets)
    subscriptions = Subscriptions.of(sagas, participants)
    topics = TopicMap(prefix=topic_prefix)
    worker_name = name or "-".join(sorted(h.name for h in subscriptions.all()))
    wanted = [*topic_uses(subscriptions, topics), f"{topic_prefix}{worker_name}.dead-letters"]
    settings = Settings()
    bootstrap = resolve_endpoints(settings).kafka_bootstrap
    created = create_topics(
        settings.kafka_config(bootstrap), wanted, partitions=partitions, timeout=timeout
    )
    for topic in created:
        out.print(f"created {escape(topic)} ({partitions} partitions)")
    out.print(f"{len(created)} created, {len(wanted) - len(created)} existed already")


def send(
    saga: Annotated[str, typer.Argument(help="saga name, as the saga class declares it")],
    instance_id: Annotated[str, typer.Argument(help="the instance (its correlation id)")],
    name: Annotated[str, typer.Argument(help="the signal, as the saga declares it")],
    data: Annotated[str | None, typer.Option(help="JSON object handed to the transition")] = None,
) -> None:
    """Send a signal to a saga instance; a worker hosting the saga applies it."""
    from sqlalchemy.orm import Session

    from saga.postgres.signals import send_signal
    from saga.stack import resolve_endpoints

    payload: dict[str, Any] = {}
    if data is not None:
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise ConfigError(f"--data is not JSON ({exc.args[0]}): give an object") from None
        if not isinstance(payload, dict):
            raise ConfigError('--data must be a JSON object, e.g. \'{"reason": "fraud"}\'')
    url = resolve_endpoints(Settings()).database_url
    with database_errors(url):
        engine = engine_for(url)
        try:
            with Session(engine) as session, session.begin():
                signal_id = send_signal(session, saga, instance_id, name, data=payload)
        finally:
            engine.dispose()
    out.print(
        f"signal {escape(name)} sent to {escape(saga)} {escape(instance_id)} (id {signal_id})"
    )
