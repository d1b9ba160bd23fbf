"""How ``saga sagas`` shows instances: rich tables on a terminal, JSON for scripts.

Sensitive fields of the saga data are masked before anything is printed: a field a contract
marks ``"sensitive": true`` (the saga's data copies event fields by name) and the fields named
with ``--redact``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.json import JSON
from rich.table import Table
from rich.text import Text

from saga.cli._tail_records import iso_time
from saga.cli._time import short_age
from saga.contracts.redaction import redact, sensitive_fields
from saga.contracts.schemas import load_contracts
from saga.engine.instance import HistoryEntry
from saga.operators.sagas import Count, InstanceRow, Listing, Shown
from saga.settings import Settings

_STATUS_STYLE = {
    "running": "cyan",
    "compensating": "yellow",
    "completed": "green",
    "compensated": "magenta",
    "failed": "bold red",
}
_REASON_WIDTH = 60


def sensitive_names(settings: Settings, extra: Iterable[str] = ()) -> list[str]:
    """The field paths and names to mask in saga data: those the contracts mark sensitive
    (as dotted paths and as plain names: the data may hold the field at another depth) and
    ``extra``. Without a contract folder, ``extra`` only."""
    names = set(extra)
    if settings.schema_dir.is_dir():
        for version in load_contracts(settings.schema_dir):
            for path in sensitive_fields(version):
                names.update((path, path.rsplit(".", 1)[-1]))
    return sorted(names)


def masked(data: Any, names: Sequence[str]) -> Any:
    return redact(data, (), names)


def _time(moment: datetime | None) -> str:
    return iso_time(moment) or "-"


def _ago(moment: datetime | None, now: datetime) -> str:
    return "-" if moment is None else short_age((now - moment).total_seconds())


def _status(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def _deadline(row: InstanceRow) -> Text:
    if row.deadline is None:
        return Text("-", style="dim")
    if row.deadline < row.now:
        late = short_age((row.now - row.deadline).total_seconds())
        return Text(f"overdue {late}", style="bold red" if row.overdue else "")
    return Text(f"in {short_age((row.deadline - row.now).total_seconds())}")


def _cut(text: str | None, width: int = _REASON_WIDTH) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def safe(text: str) -> str:
    """Control characters escaped: ids and notes are anyone's text."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def listing_table(listing: Listing) -> Table:
    table = Table(
        "saga", "instance", "state", "status", "age", "in state", "deadline", "parked reason"
    )
    for row in listing.rows:
        table.add_row(
            safe(row.saga),
            safe(row.instance_id),
            safe(row.state),
            _status(row.status),
            _ago(row.created_at, row.now),
            _ago(row.state_since, row.now),
            _deadline(row),
            safe(_cut(row.parked_reason)),
        )
    return table


def listing_footer(listing: Listing) -> Text:
    shown = len(listing.rows)
    more = listing.total - shown
    tail = f" ({more} more: raise --limit)" if more > 0 else ""
    return Text(f"{shown} instance{'s' if shown != 1 else ''}{tail}", style="dim")


def counts_table(counts: Sequence[Count]) -> Table:
    table = Table("saga", "status", "state", "count", "overdue")
    for count in counts:
        table.add_row(
            safe(count.saga),
            _status(count.status),
            safe(count.state),
            str(count.count),
            Text(str(count.overdue), style="bold red") if count.overdue else Text("0", "dim"),
        )
    return table


def shown_json(shown: Shown, names: Sequence[str]) -> dict[str, Any]:
    instance = shown.instance
    snapshot = instance.to_json()
    snapshot["data"] = masked(snapshot["data"], names)
    return {
        **snapshot,
        "created_at": shown.created_at.isoformat(),
        "updated_at": shown.updated_at.isoformat(),
        "waiting": [w.to_json() for w in shown.waiting],
        "orphans": shown.orphans,
        "history": [e.to_json() for e in shown.history],
    }


def shown_view(shown: Shown, names: Sequence[str], width: int) -> Group:
    """Facts, data, steps, then the history as a timeline."""
    instance, now = shown.instance, shown.now
    facts: list[tuple[str, Text]] = [
        ("saga", Text(safe(instance.saga), style="bold")),
        ("instance", Text(safe(instance.instance_id), style="bold")),
        ("state", Text.assemble(safe(instance.state), " (", _status(instance.status), ")")),
        ("version", Text(f"{instance.version} (definition version {instance.definition_version})")),
        ("created", Text(f"{_time(shown.created_at)} ({_ago(shown.created_at, now)} ago)")),
        ("updated", Text(f"{_time(shown.updated_at)} ({_ago(shown.updated_at, now)} ago)")),
    ]
    deadline = instance.deadline
    if deadline is None:
        facts.append(("deadline", Text("none", style="dim")))
    else:
        when = (
            f"overdue by {short_age((now - deadline.due).total_seconds())}"
            if deadline.due < now
            else f"in {short_age((deadline.due - now).total_seconds())}"
        )
        due = f"{_time(deadline.due)} ({when}), of state {safe(deadline.state)}"
        facts.append(("deadline", Text(due)))
    if instance.parked_reason:
        where = f" (parked in {instance.parked_from})" if instance.parked_from else ""
        facts.append(("parked", Text(safe(instance.parked_reason + where), style="red")))
    if instance.failure:
        facts.append(("failure", Text(safe(instance.failure))))
    parts: list[RenderableType] = [labelled(label, value, width, 0, 10) for label, value in facts]
    parts.extend([Text(), Text("data", style="bold")])
    parts.append(JSON.from_data(masked(dict(instance.data), names), indent=2))
    if instance.steps:
        steps = Table("step", "status", "attempts")
        rank = {name: i for i, name in enumerate(shown.step_order)}
        for name, run in sorted(instance.steps.items(), key=lambda s: rank.get(s[0], len(rank))):
            steps.add_row(safe(name), run.status, str(run.attempts))
        parts.extend([Text(), Text("steps", style="bold"), steps])
    if shown.waiting:
        parts.append(Text())
        for waiting in shown.waiting:
            who = f" by {waiting.by}" if waiting.by else ""
            why = f": {waiting.reason}" if waiting.reason else ""
            queued = f"queued {waiting.kind} {waiting.name}{who}{why} ({_time(waiting.sent_at)})"
            parts.append(labelled("", Text(safe(queued), style="yellow"), width, 0, 0))
    if shown.orphans:
        kept = (
            f"{shown.orphans} orphan event(s) kept for this instance: "
            f"`saga orphans list --saga {instance.saga}`"
        )
        parts.append(labelled("", Text(safe(kept), style="yellow"), width, 0, 0))
    parts.extend([Text(), timeline(shown.history, width)])
    return Group(*parts)


def timeline(history: Sequence[HistoryEntry], width: int) -> Group:
    """One block per input the instance handled, oldest first; ids are never cut."""
    blocks: list[RenderableType] = [Text("history", style="bold")]
    for entry in history:
        head = Text.assemble(
            (f"{entry.seq:>3}  ", "bold"),
            (_time(entry.at), "dim"),
            "  ",
            (safe(entry.trigger), "bold cyan"),
            "  ",
            safe(f"{entry.from_state or '(new)'} → {entry.to_state}"),
        )
        details = [("input", entry.input_id)]
        if entry.by is not None or entry.reason is not None:
            details.append(("by", f"{entry.by or '?'}: {entry.reason or ''}"))
        if entry.note:
            details.append(("note", entry.note))
        details.extend(
            ("emitted", f"{kind.rsplit('.', 1)[-1]} {event_id}") for kind, event_id in entry.emitted
        )
        if entry.compensated:
            details.append(("undone", ", ".join(entry.compensated)))
        if entry.trace_id:
            details.append(("trace", entry.trace_id))
        blocks.append(block(head, details, width))
    return Group(*blocks)


def block(head: Text, facts: Sequence[tuple[str, str]], width: int, indent: int = 5) -> Group:
    """A heading line, then one labelled line per fact; wrapped, never cut."""
    lines = [labelled("", head, width, 0, 0)]
    lines.extend(labelled(label, Text(safe(value)), width, indent, 9) for label, value in facts)
    return Group(*lines)


def labelled(label: str, value: Text, width: int, indent: int, label_width: int) -> Text:
    """``label`` then ``value``, wrapped in the room left: continuation lines start under
    the value. Wrapped here rather than by rich: never cut, no trailing blanks."""
    room = max(width - indent - label_width, 20)
    lines = value.wrap(Console(width=room), room, overflow="fold")
    shown = []
    for index, line in enumerate(lines):
        line.rstrip()
        head = Text(" " * indent) + (
            Text(f"{label:<{label_width}}", style="dim") if index == 0 else Text(" " * label_width)
        )
        shown.append(head + line)
    return Text("\n").join(shown)


def print_json_lines(rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))


def console() -> Console:
    return Console(highlight=False)


def lines() -> Console:
    """For one-line messages: not wrapped (a position or an id stays on one line)."""
    return Console(highlight=False, soft_wrap=True)
