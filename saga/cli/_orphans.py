"""``saga orphans list|replay|discard``: events kept for a saga instance that did not exist
(:mod:`saga.operators.orphans`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session

from saga.cli._sagas import database, operator, reading
from saga.cli._sagas_view import block, console, lines, print_json_lines, safe
from saga.cli._tail_records import iso_time
from saga.errors import ConfigError
from saga.operators.sagas import check_names

orphans_app = typer.Typer(
    help="Orphan events, kept for a saga instance that did not exist: list, send back, discard.",
    no_args_is_help=True,
)
_JSON = typer.Option("--json", help="one JSON object per line")
_IDS = typer.Argument(metavar="ID", help="ids, as `saga orphans list` shows them")
#: ``--reason`` and ``--by`` of the commands that act: recorded in the audit table.
REASON = typer.Option(help="why: recorded with the action", show_default=False)
BY = typer.Option(help="who: recorded with the action (default: your OS user)")


@orphans_app.command("list")
def list_orphans(
    saga: Annotated[list[str] | None, typer.Option("--saga", help="saga name (repeatable)")] = None,
    instance: Annotated[str | None, typer.Option(help="the instance they are kept for")] = None,
    limit: Annotated[int, typer.Option(help="show at most this many, oldest first")] = 100,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """List orphan events, oldest first (their payloads stay in the database)."""
    from saga.operators import orphans

    if limit < 1:
        raise ConfigError(f"--limit {limit}: give at least 1")
    with reading() as conn:
        check_names(conn, saga or (), ())
        with Session(conn) as session:
            kept = orphans.list_orphans(
                session, sagas=saga or (), instance_id=instance, limit=limit
            )
    if as_json:
        print_json_lines(p.to_json() for p in kept)
        return
    out = console()
    for p in kept:
        head = Text.assemble(
            (f"#{p.id}", "bold"),
            "  ",
            (safe(p.saga), "bold"),
            " ",
            (safe(p.instance_id), "bold"),
            "  ",
            (safe(p.event_type.rsplit(".", 1)[-1]), "bold cyan"),
            "  ",
            (f"kept {iso_time(p.kept_at)}", "dim"),
        )
        out.print(
            block(
                head,
                [("event", str(p.event_id)), ("topic", p.topic), ("reason", p.reason)],
                out.width,
            )
        )
    out.print(Text(f"{len(kept)} orphan event{'s' if len(kept) != 1 else ''}", style="dim"))


@orphans_app.command("replay")
def replay_orphans(
    ids: Annotated[list[int], _IDS],
    reason: Annotated[str, REASON],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Send orphan events back to their topics (through the outbox); their saga handles
    them again: applied if the instance exists by now, kept again if not."""
    from saga.operators import orphans

    who = operator(by)
    with database() as engine, Session(engine) as session, session.begin():
        replayed = orphans.replay_orphans(session, ids, by=who, reason=reason)
    for p in replayed:
        lines().print(
            f"orphan event {p.id} ({escape(p.event_type)} for {escape(p.saga)} "
            f"{escape(p.instance_id)}) sent back to {escape(p.topic)}"
        )


@orphans_app.command("discard")
def discard_orphans(
    ids: Annotated[list[int], _IDS],
    reason: Annotated[str, REASON],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Delete orphan events for good: they are never applied."""
    from saga.operators import orphans

    who = operator(by)
    with database() as engine, Session(engine) as session, session.begin():
        gone = orphans.discard_orphans(session, ids, by=who, reason=reason)
    for p in gone:
        lines().print(
            f"orphan event {p.id} ({escape(p.event_type)} for {escape(p.saga)} "
            f"{escape(p.instance_id)}) discarded"
        )
