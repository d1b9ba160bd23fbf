"""``saga outbox refused|requeue|discard``: outbox rows Kafka refused for good
(:mod:`saga.operators.outbox`). ``saga relay --lag`` counts them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from saga.cli._orphans import BY, REASON
from saga.cli._sagas import database, operator, reading
from saga.cli._sagas_view import block, console, lines, print_json_lines, safe
from saga.cli._tail_records import iso_time
from saga.errors import ConfigError
from saga.operators import outbox

outbox_app = typer.Typer(
    help="Outbox rows Kafka refused for good: list them, try them again, or drop them.",
    no_args_is_help=True,
)
_IDS = typer.Argument(metavar="ID", help="row ids, as `saga outbox refused` shows them")


@outbox_app.command("refused")
def refused(
    limit: Annotated[int, typer.Option(help="show at most this many, oldest first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List the rows Kafka refused, oldest first, with the error; the later rows of each one's
    key wait behind it. Payloads are not shown."""
    if limit < 1:
        raise ConfigError(f"--limit {limit}: give at least 1")
    with reading() as conn:
        rows = outbox.list_refused(conn, limit=limit)
    if as_json:
        print_json_lines(
            {
                "id": r.id,
                "topic": r.topic,
                "event_type": r.event_type,
                "event_id": r.event_id,
                "key_bytes": r.key_bytes,
                "value_bytes": r.value_bytes,
                "created_at": iso_time(r.created_at),
                "refused_at": iso_time(r.refused_at),
                "error": r.error,
            }
            for r in rows
        )
        return
    out = console()
    for r in rows:
        head = Text.assemble(
            (f"#{r.id}", "bold"),
            "  ",
            (safe(r.event_type.rsplit(".", 1)[-1] or "?"), "bold cyan"),
            "  ",
            (f"refused {iso_time(r.refused_at)}", "dim"),
        )
        facts = [
            ("topic", r.topic),
            ("event", r.event_id),
            ("size", f"key {r.key_bytes} B, value {r.value_bytes} B"),
            ("error", r.error),
        ]
        out.print(block(head, facts, out.width))
    out.print(Text(f"{len(rows)} refused row{'s' if len(rows) != 1 else ''}", style="dim"))


@outbox_app.command("requeue")
def requeue(
    ids: Annotated[list[int], _IDS],
    reason: Annotated[str, REASON],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Give refused rows another try (after fixing what refused them: a topic's
    max.message.bytes, say); the relay publishes them, then their keys' later rows."""
    who = operator(by)
    with database() as engine, engine.begin() as conn:
        done = outbox.requeue_refused(conn, ids, by=who, reason=reason)
    lines().print(f"requeued outbox row(s) {', '.join(map(str, done))}")


@outbox_app.command("discard")
def discard(
    ids: Annotated[list[int], _IDS],
    reason: Annotated[str, REASON],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Drop refused rows for good: their events are never published, and their keys' later
    rows flow again without them."""
    who = operator(by)
    with database() as engine, engine.begin() as conn:
        done = outbox.discard_refused(conn, ids, by=who, reason=reason)
    lines().print(f"discarded outbox row(s) {', '.join(map(str, done))}")
