"""``saga parked list|replay|discard``: events parked for a saga instance that did not exist
(:mod:`saga.operators.orphans`), and ``saga dead-letters list|replay``: records a consumer gave
up on (:mod:`saga.operators.dead_letters`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session

from saga.cli._sagas import database, reading
from saga.cli._sagas_view import block, console, lines, print_json_lines, safe
from saga.cli._tail_records import iso_time
from saga.errors import ConfigError
from saga.operators.sagas import check_names

if TYPE_CHECKING:
    from datetime import datetime

    from saga.operators.dead_letters import DeadLetter

parked_app = typer.Typer(
    help="Events parked for a saga instance that did not exist: list, send back, discard.",
    no_args_is_help=True,
)
dead_letters_app = typer.Typer(
    help="Records a consumer gave up on: list them, send them back to their topic.",
    no_args_is_help=True,
)
_JSON = typer.Option("--json", help="one JSON object per line")
_IDS = typer.Argument(metavar="ID", help="ids, as `saga parked list` shows them")


@parked_app.command("list")
def list_parked(
    saga: Annotated[list[str] | None, typer.Option("--saga", help="saga name (repeatable)")] = None,
    instance: Annotated[str | None, typer.Option(help="the instance they are parked for")] = None,
    limit: Annotated[int, typer.Option(help="show at most this many, oldest first")] = 100,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """List parked events, oldest first (their payloads stay in the database)."""
    from saga.operators.orphans import list_parked_events

    if limit < 1:
        raise ConfigError(f"--limit {limit}: give at least 1")
    with reading() as conn:
        check_names(conn, saga or (), ())
        with Session(conn) as session:
            parked = list_parked_events(
                session, sagas=saga or (), instance_id=instance, limit=limit
            )
    if as_json:
        print_json_lines(p.to_json() for p in parked)
        return
    out = console()
    for p in parked:
        head = Text.assemble(
            (f"#{p.id}", "bold"),
            "  ",
            (safe(p.saga), "bold"),
            " ",
            (safe(p.instance_id), "bold"),
            "  ",
            (safe(p.event_type.rsplit(".", 1)[-1]), "bold cyan"),
            "  ",
            (f"parked {iso_time(p.parked_at)}", "dim"),
        )
        out.print(
            block(
                head,
                [("event", str(p.event_id)), ("topic", p.topic), ("reason", p.reason)],
                out.width,
            )
        )
    out.print(Text(f"{len(parked)} parked event{'s' if len(parked) != 1 else ''}", style="dim"))


@parked_app.command("replay")
def replay_parked(ids: Annotated[list[int], _IDS]) -> None:
    """Send parked events back to their topics (through the outbox); their saga handles
    them again: applied if the instance exists by now, parked again if not."""
    from saga.operators.orphans import replay_parked_events

    with database() as engine, Session(engine) as session, session.begin():
        replayed = replay_parked_events(session, ids)
    for p in replayed:
        lines().print(
            f"parked event {p.id} ({escape(p.event_type)} for {escape(p.saga)} "
            f"{escape(p.instance_id)}) sent back to {escape(p.topic)}"
        )


@parked_app.command("discard")
def discard_parked(ids: Annotated[list[int], _IDS]) -> None:
    """Delete parked events for good: they are never applied."""
    from saga.operators.orphans import discard_parked_events

    with database() as engine, Session(engine) as session, session.begin():
        gone = discard_parked_events(session, ids)
    for p in gone:
        lines().print(
            f"parked event {p.id} ({escape(p.event_type)} for {escape(p.saga)} "
            f"{escape(p.instance_id)}) discarded"
        )


# -- dead letters --------------------------------------------------------------------------

_DEFAULT_TOPICS = "*.dead-letters"
_TIMEOUT = typer.Option(help="seconds to wait for Kafka's answers before giving up")


@dead_letters_app.command("list")
def list_dead_letters(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TOPIC_OR_PATTERN",
            help=f"dead-letter topics: names, globs or ^regular expressions ({_DEFAULT_TOPICS})",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, _JSON] = False,
    timeout: Annotated[float, _TIMEOUT] = 10.0,
) -> None:
    """List the dead letters of some topics: where each came from, which consumer gave up on
    it and why, and whether it was sent back. Records without a dead-letter-source header
    are skipped; payloads are not shown (`saga tail` shows them, redacted)."""
    from saga.cli._dead_letters import read_dead_letters
    from saga.operators.dead_letters import replayed_at

    letters, others = read_dead_letters(targets or [], timeout, default=_DEFAULT_TOPICS)
    with database() as engine, Session(engine) as session:
        replays = replayed_at(session, letters)
    if as_json:
        print_json_lines(
            {**d.to_json(), "replayed_at": iso_time(replays.get(d.position))} for d in letters
        )
        return
    _print_dead_letters(letters, replays, others)


def _print_dead_letters(
    letters: list[DeadLetter], replays: dict[str, datetime], others: int
) -> None:
    out = console()
    for d in letters:
        sent_back = replays.get(d.position)
        head = Text.assemble(
            (safe(d.position), "bold"),
            "  ",
            (iso_time(d.time) or "(no time)", "dim"),
            "  ",
            (safe(d.event_type.rsplit(".", 1)[-1] or "undecodable"), "bold cyan"),
        )
        if sent_back is not None:
            head.append(f"  sent back {iso_time(sent_back)}", style="green")
        facts = [
            ("event", str(d.event_id)),
            ("from", d.header("dead-letter-source") or "?"),
            ("consumer", d.group),
            ("error", d.error),
        ]
        out.print(block(head, facts, out.width))
    skipped = f" ({others} other record{'s' if others != 1 else ''} skipped)" if others else ""
    count = f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''}{skipped}"
    out.print(Text(count, style="dim"))


@dead_letters_app.command("replay")
def replay_dead_letters(
    positions: Annotated[
        list[str],
        typer.Argument(
            metavar="TOPIC[PARTITION]@OFFSET",
            help="dead letters, as `saga dead-letters list` shows them",
            show_default=False,
        ),
    ],
    again: Annotated[
        bool, typer.Option("--again", help="send back a dead letter that was sent back already")
    ] = False,
    timeout: Annotated[float, _TIMEOUT] = 10.0,
) -> None:
    """Send dead letters back to the topic they came from (the original record, without the
    dead-letter headers, through the outbox) and release their consumer's inbox claim, so
    that it handles them again; in one transaction each."""
    from saga.cli._dead_letters import fetch_dead_letters
    from saga.operators.dead_letters import replay_dead_letter

    letters = fetch_dead_letters(positions, timeout)
    with database() as engine, Session(engine) as session, session.begin():
        # One transaction: every one of them goes back, or none does.
        done = [replay_dead_letter(session, dead, again=again) for dead in letters]
    for replayed in done:
        dead = replayed.dead_letter
        released = (
            f"released the inbox claim of {escape(replayed.released)}"
            if replayed.released
            else "no inbox claim was held any more"
        )
        lines().print(
            f"{escape(dead.position)} ({escape(dead.event_type or 'undecodable')}) sent back "
            f"to {escape(replayed.topic)}; {released}"
        )
