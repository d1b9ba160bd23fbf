"""How ``saga tail`` shows records: a rich view with a live status line on a terminal (plain
text when piped with ``--format rich``), or JSON lines."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.json import JSON
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from saga.cli._tail_records import TailRecord, iso_time


@dataclass
class Counts:
    shown: int = 0
    skipped: int = 0
    undecodable: int = 0

    def describe(self) -> str:
        undecodable = f" ({self.undecodable} undecodable)" if self.undecodable else ""
        return f"{self.shown} shown{undecodable}, {self.skipped} filtered out"


class View:
    def start(self, counts: Counts) -> None: ...
    def show(self, record: TailRecord) -> None: ...
    def status(self, caught_up: bool) -> None: ...
    def notice(self, text: str) -> None:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            Text(f"warning: {text}", style="yellow")
        )

    def stop(self) -> None: ...


class JsonLines(View):
    def show(self, record: TailRecord) -> None:
        sys.stdout.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        sys.stdout.flush()  # a reader downstream sees each record as it comes


class RichView(View):
    def __init__(self, topics: dict[str, int], follow: bool) -> None:
        self.console = Console(highlight=False)
        self.console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
        self.what = (
            f"{len(topics)} topic{'s' if len(topics) != 1 else ''}, "
            f"{sum(topics.values())} partitions"
        )
        self.follow = follow
        self.counts = Counts()
        self.live: Live | None = None

    def start(self, counts: Counts) -> None:
        self.counts = counts
        if self.console.is_terminal:  # a status line only where it can be redrawn
            self.live = Live(
                self._status(False), console=self.console, transient=True, refresh_per_second=4
            )
            self.live.start()

    def show(self, record: TailRecord) -> None:
        self.console.print(render(record, self.console))
        self.status(False)

    def status(self, caught_up: bool) -> None:
        if self.live is not None:
            self.live.update(self._status(caught_up))

    def _status(self, caught_up: bool) -> Spinner:
        doing = "following" if self.follow and caught_up else "reading"
        return Spinner(
            "dots",
            Text(f" {doing} {self.what} · {self.counts.describe()} · Ctrl-C stops", style="dim"),
        )

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
        self.console.print(Text(f"{self.counts.describe()} ({self.what})", style="dim"))


def _raise_broken_pipe() -> None:
    # rich would exit 1 on its own; the tail ends as for JSON lines (_quiet_broken_pipe).
    raise BrokenPipeError


def _safe(text: str) -> str:
    """Control characters escaped: keys and headers are anyone's bytes, and an escape
    sequence must not reach the auditor's terminal (rich lets ESC through)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def render(record: TailRecord, console: Console) -> Group:
    """A record as the rich view shows it: where and what, the envelope, the payload."""

    def _wrapped(text: Text, indent: int = 2) -> Text:
        # Wrapped here rather than by rich: no trailing blanks on the lines.
        text.no_wrap = False
        lines = text.wrap(console, max(console.width - indent, 20), overflow="fold")
        for line in lines:
            line.rstrip()
        return Text("\n").join(Text(" " * indent) + line for line in lines)

    head = Text.assemble(
        (iso_time(record.time) or "(no time)", "dim"),
        "  ",
        (f"{record.topic}[{record.partition}]@{record.offset}", "cyan"),
        "  key ",
        (_safe(record.key) if record.key is not None else "(none)", "bold"),
        "  ",
    )
    if record.event_type is not None:
        version = f" v{record.version}" if record.version is not None else ""
        head.append(_safe(f"{record.event_type}{version}"), "bold green")
    if record.undecodable is not None:
        head.append("  undecodable" if record.event_type else "undecodable", "bold red")
    facts = [
        f"{label} {value}"
        for label, value in (
            ("event", record.event_id),
            ("correlation", record.correlation_id),
            ("causation", record.causation_id),
            ("producer", record.producer),
        )
        if value is not None
    ]
    facts.extend(f"{name}={value}" for name, value in record.extra_headers.items())
    parts: list[Any] = [_wrapped(head, 0)]
    if facts:
        parts.append(_wrapped(Text(_safe("  ".join(facts)), style="dim")))
    if record.undecodable is not None:
        problem = record.undecodable
        preview = problem.preview or "(empty)"
        parts.append(
            _wrapped(
                Text(_safe(f"✗ {problem.reason} · {problem.size} bytes · {preview}"), style="red")
            )
        )
    if record.payload is not None:
        payload = JSON.from_data(record.payload, indent=None).text
        parts.append(_wrapped(payload))
    parts.append(Text())  # a blank line between records
    return Group(*parts)


def print_topics(known: dict[str, int], as_json: bool) -> None:
    """The broker's topics but Kafka's internal ones, with their partition counts."""
    out = Console(highlight=False, soft_wrap=True)
    for name in sorted(known):
        if name.startswith("__"):
            continue
        if as_json:
            print(json.dumps({"topic": name, "partitions": known[name]}))
        else:
            out.print(Text(f"{name}  ({known[name]} partitions)"))
