"""``saga dead-letters list|replay``: records a consumer gave up on
(:mod:`saga.operators.dead_letters`), read from Kafka and sent back through the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text
from sqlalchemy.orm import Session

from saga.cli._orphans import BY, REASON
from saga.cli._sagas import database, operator
from saga.cli._sagas_view import block, console, lines, print_json_lines, safe
from saga.cli._tail_records import iso_time
from saga.cli._tail_view import View
from saga.errors import ConfigError
from saga.operators.dead_letters import DEFAULT_TOPICS, DeadLetter
from saga.settings import Settings

dead_letters_app = typer.Typer(
    help="Records a consumer gave up on: list them, send them back to their topic.",
    no_args_is_help=True,
)
_JSON = typer.Option("--json", help="one JSON object per line")


def _kafka(timeout: float) -> tuple[Settings, str]:
    """The settings and the broker to read from (SAGA_KAFKA_BOOTSTRAP, else the stack's)."""
    from saga.stack import resolve_endpoints

    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout:g}: give a number of seconds above 0")
    settings = Settings()
    return settings, settings.kafka_bootstrap or resolve_endpoints(settings).kafka_bootstrap


def _notice(text: str) -> None:
    View().notice(text)


_TIMEOUT = typer.Option(help="seconds to wait for Kafka's answers before giving up")


@dead_letters_app.command("list")
def list_dead_letters(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TOPIC_OR_PATTERN",
            help=f"dead-letter topics: names, globs or ^regular expressions ({DEFAULT_TOPICS})",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, _JSON] = False,
    timeout: Annotated[float, _TIMEOUT] = 10.0,
) -> None:
    """List the dead letters of some topics: where each came from, which consumer gave up on
    it and why, and whether it was sent back. Records without a dead-letter-source header
    are skipped; payloads are not shown (`saga tail` shows them, redacted)."""
    from saga.operators.dead_letters import read_dead_letters, replayed_at

    settings, bootstrap = _kafka(timeout)
    letters, others = read_dead_letters(
        settings, bootstrap, targets or (), timeout=timeout, notice=_notice
    )
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
    reason: Annotated[str, REASON],
    by: Annotated[str | None, BY] = None,
    again: Annotated[
        bool, typer.Option("--again", help="send back a dead letter that was sent back already")
    ] = False,
    timeout: Annotated[float, _TIMEOUT] = 10.0,
) -> None:
    """Send dead letters back to the topic they came from (the original record, without the
    dead-letter headers, through the outbox) and release their consumer's inbox claim, so
    that it handles them again; in one transaction each."""
    from saga.operators.dead_letters import (
        fetch_dead_letters,
        parse_positions,
        replay_dead_letter,
    )

    who = operator(by)
    wanted = parse_positions(positions)  # before reaching for Kafka: a typo is one line
    settings, bootstrap = _kafka(timeout)
    letters = fetch_dead_letters(settings, bootstrap, wanted, timeout=timeout, notice=_notice)
    with database() as engine, Session(engine) as session, session.begin():
        # One transaction: every one of them goes back, or none does.
        done = [
            replay_dead_letter(session, dead, by=who, reason=reason, again=again)
            for dead in letters
        ]
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
