"""``saga tail TOPIC_OR_PATTERN...``: every event on some topics, decoded, for audit.

A rich view on a terminal (records scroll by above a live status line), JSON lines when the
output is piped or with ``--format json``. Reads never join or move a consumer group
(:mod:`saga.kafka.reader`); sensitive fields are masked before anything is printed
(:mod:`saga.contracts.redaction`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from saga.cli._tail_records import TailFilter, parse_moment
from saga.cli._tail_view import Counts, JsonLines, RichView, View, print_topics
from saga.errors import ConfigError
from saga.settings import Settings

if TYPE_CHECKING:
    from confluent_kafka import Consumer

    from saga.cli._tail_decode import RecordDecoder
    from saga.kafka.reader import Start


class Format(StrEnum):
    auto = "auto"
    rich = "rich"
    json = "json"


_STARTS = "--since, --from-beginning and --from-offset each say where to start: give one"


def tail(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TOPIC_OR_PATTERN...",
            help="topic names, globs ('shop.*') or regular expressions ('^shop\\..*')",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep reading new records until Ctrl-C")
    ] = False,
    from_beginning: Annotated[
        bool,
        typer.Option(
            "--from-beginning",
            help="start at each partition's beginning (the default without --follow)",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="start at this time: 10m, 2h, 1d, 1h30m ago or an ISO 8601 time (UTC)"),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="show records up to this time (same forms as --since)")
    ] = None,
    from_offset: Annotated[
        int | None,
        typer.Option(help="start every partition at this offset; negative: that many from its end"),
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="event type, full or short name (repeatable)"),
    ] = None,
    keys: Annotated[
        list[str] | None, typer.Option("--key", "-k", help="record key (repeatable)")
    ] = None,
    correlation_ids: Annotated[
        list[str] | None,
        typer.Option("--correlation-id", "-c", help="envelope correlation id (repeatable)"),
    ] = None,
    headers: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="NAME=VALUE a header must have (repeatable)"),
    ] = None,
    redact: Annotated[
        list[str] | None,
        typer.Option(
            help="mask this payload field too: a name (any depth) or a dotted path (repeatable)"
        ),
    ] = None,
    output: Annotated[
        Format, typer.Option("--format", help="rich on a terminal, else json lines")
    ] = Format.auto,
    read_uncommitted: Annotated[
        bool,
        typer.Option(
            "--read-uncommitted", help="show records of aborted and open transactions too"
        ),
    ] = False,
    list_topics: Annotated[
        bool, typer.Option("--list-topics", help="list the broker's topics and stop")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="seconds to wait for Kafka's answers before giving up")
    ] = 10.0,
) -> None:
    """Show every event on some topics, decoded and redacted, without touching any
    consumer group; stop at the end of every partition unless --follow."""
    from saga.cli._tail_decode import RecordDecoder
    from saga.contracts.redaction import unknown_fields
    from saga.contracts.serde import Serializer
    from saga.kafka.reader import choose_topics, tail_consumer, topic_partitions
    from saga.stack import resolve_endpoints

    now = datetime.now(UTC)
    record_filter = TailFilter.of(
        types=types or (),
        keys=keys or (),
        correlation_ids=correlation_ids or (),
        headers=headers or (),
        since=None if since is None else parse_moment(since, now=now, option="--since"),
        until=None if until is None else parse_moment(until, now=now, option="--until"),
    )
    start = _start(follow, from_beginning, record_filter, from_offset)
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout:g}: give a number of seconds above 0")
    if not targets and not list_topics:
        raise typer.BadParameter(
            "name at least one topic or pattern", param_hint="TOPIC_OR_PATTERN"
        )
    as_json = output == Format.json or (output == Format.auto and not sys.stdout.isatty())

    settings = Settings()
    serializer = None
    if not list_topics:
        serializer = Serializer(settings)
        unknown = unknown_fields(redact or (), serializer.contracts)
        if unknown:
            # A misspelt --redact would show what the user meant to hide.
            raise ConfigError(
                f"--redact {', '.join(unknown)}: no contract in {serializer.contracts.root} has "
                "such a field; check the spelling (a dotted path starts at the event's root)"
            )
    bootstrap = settings.kafka_bootstrap or resolve_endpoints(settings).kafka_bootstrap
    consumer = tail_consumer(settings, bootstrap, read_uncommitted=read_uncommitted)
    try:
        known = topic_partitions(consumer, settings, bootstrap, timeout)
        if list_topics:
            print_topics(known, as_json)
            return
        assert serializer is not None
        chosen = {t: known[t] for t in choose_topics(targets or (), known, bootstrap)}
        view = JsonLines() if as_json else RichView(chosen, follow)
        run = _Run(
            consumer=consumer,
            decoder=RecordDecoder(serializer, redact or ()),
            record_filter=record_filter,
            view=view,
        )
        run.tail(chosen, start, follow=follow, timeout=timeout)
    finally:
        consumer.close()
        if serializer is not None:
            serializer.close()


def _start(
    follow: bool, from_beginning: bool, record_filter: TailFilter, from_offset: int | None
) -> Start:
    from saga.kafka.reader import Start

    given = sum((from_beginning, record_filter.since is not None, from_offset is not None))
    if given > 1:
        raise ConfigError(_STARTS)
    if record_filter.since is not None:
        return Start("time", time=record_filter.since)
    if from_offset is not None:
        return Start("offset", offset=from_offset)
    if from_beginning or not follow:
        return Start("beginning")
    return Start("end")  # --follow alone: what comes from now on, as `tail -f`


@dataclass
class _Run:
    consumer: Consumer
    decoder: RecordDecoder
    record_filter: TailFilter
    view: View

    def tail(self, topics: dict[str, int], start: Start, *, follow: bool, timeout: float) -> None:
        from saga.kafka.reader import plan, read
        from saga.kafka.records import headers_of

        spans = plan(self.consumer, topics, start, timeout)
        counts = Counts()
        stop = threading.Event()
        with _stopped_by_signals(stop), _quiet_broken_pipe(stop):
            self.view.start(counts)
            try:
                for message in read(
                    self.consumer,
                    spans,
                    follow=follow,
                    stop=stop,
                    notice=self.view.notice,
                    idle=self.view.status,
                ):
                    record = self.decoder.record(
                        topic=str(message.topic()),
                        partition=message.partition() or 0,
                        offset=message.offset() or 0,
                        timestamp_ms=_timestamp(message),
                        key=message.key(),
                        value=message.value(),
                        headers=headers_of(message),
                    )
                    if not self.record_filter.matches(record):
                        counts.skipped += 1
                        continue
                    counts.shown += 1
                    counts.undecodable += record.undecodable is not None
                    self.view.show(record)
            finally:
                self.view.stop()


def _timestamp(message: Any) -> int | None:
    kind, millis = message.timestamp()
    return None if kind == 0 else int(millis)  # 0: TIMESTAMP_NOT_AVAILABLE


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the tail cleanly (exit 0) at the next poll."""
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _quiet_broken_pipe(stop: threading.Event) -> Iterator[None]:
    """``saga tail ... | head`` ends quietly when the reader goes away."""
    try:
        yield
    except BrokenPipeError:
        stop.set()
        # Point stdout at /dev/null so that the interpreter's last flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
