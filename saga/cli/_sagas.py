"""``saga sagas list|show|stats`` (inspection) and ``saga sagas retry|compensate|resume|
cancel`` (operations), straight on the database the workers use.

Operations are queued for a worker hosting the saga (:mod:`saga.postgres.operations`, and
:func:`~saga.postgres.signals.send_signal` for ``cancel``), which applies them through the same
processing path as events; the command then waits until the instance's history shows the
outcome (``--no-wait`` returns at once).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Connection, Engine

from saga.cli._sagas_view import (
    console,
    counts_table,
    lines,
    listing_footer,
    listing_table,
    print_json_lines,
    safe,
    sensitive_names,
    shown_json,
    shown_view,
)
from saga.cli._time import parse_duration
from saga.engine.messages import Operation
from saga.errors import ConfigError
from saga.operators import commands
from saga.operators.sagas import (
    ListFilter,
    count_instances,
    find_instance,
    list_instances,
    prune_instances,
    show_instance,
)
from saga.postgres.connect import database_errors, engine_for
from saga.settings import Settings

sagas_app = typer.Typer(
    help="Saga instances: find them, look at their history, push them on.",
    no_args_is_help=True,
)
_err = Console(stderr=True, soft_wrap=True, highlight=False)

_JSON = typer.Option("--json", help="JSON for scripts (one object per line for lists)")
_SAGA = typer.Option("--saga", help="saga name (needed when two sagas have this instance id)")
_ID = typer.Argument(metavar="ID", help="the instance id (its correlation id)", show_default=False)
_REASON = typer.Option(help="why: kept in the instance's history", show_default=False)
_BY = typer.Option(help="who: kept in the instance's history (default: your OS user)")
_WAIT = typer.Option("--wait/--no-wait", help="wait until a worker applied it")
_TIMEOUT = typer.Option(help="seconds to wait for a worker")


def database_url(settings: Settings) -> str:
    """SAGA_DATABASE_URL, else the stack's: these commands need no broker."""
    from saga.stack import resolve_endpoints

    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return resolve_endpoints(settings).database_url


@contextmanager
def database() -> Iterator[Engine]:
    """An engine on the workers' database; unreachable or unprepared: one line."""
    url = database_url(Settings())
    with database_errors(url):
        engine = engine_for(url)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def reading() -> Iterator[Connection]:
    with database() as engine, engine.connect() as conn:
        yield conn


# -- inspection ----------------------------------------------------------------------------


@sagas_app.command("list")
def list_(
    saga: Annotated[list[str] | None, typer.Option("--saga", help="saga name (repeatable)")] = None,
    state: Annotated[list[str] | None, typer.Option(help="state (repeatable)")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="running, compensating, completed, compensated or failed (repeatable)"),
    ] = None,
    older_than: Annotated[
        str | None, typer.Option(help="created at least this long ago: 30s, 10m, 2h, 1d, 1w")
    ] = None,
    stuck: Annotated[
        bool,
        typer.Option(
            "--stuck",
            help="running or compensating past its state's deadline (or longer than --threshold "
            "in its state)",
        ),
    ] = False,
    threshold: Annotated[
        str | None, typer.Option(help="with --stuck: this long in one state is stuck too")
    ] = None,
    limit: Annotated[int, typer.Option(help="show at most this many, oldest first")] = 100,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """List saga instances, oldest first."""
    wanted = ListFilter.of(
        sagas=saga or (),
        states=state or (),
        statuses=status or (),
        older_than=None
        if older_than is None
        else parse_duration(older_than, option="--older-than"),
        stuck=stuck,
        threshold=None if threshold is None else parse_duration(threshold, option="--threshold"),
        limit=limit,
    )
    with reading() as conn:
        listing = list_instances(conn, wanted)
    if as_json:
        print_json_lines(row.to_json() for row in listing.rows)
        return
    out = console()
    out.print(listing_table(listing))
    out.print(listing_footer(listing))


@sagas_app.command()
def show(
    instance_id: Annotated[str, _ID],
    saga: Annotated[str | None, _SAGA] = None,
    redact: Annotated[
        list[str] | None,
        typer.Option(help="mask this data field too: a name (any depth) or a dotted path"),
    ] = None,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """One instance: its data (sensitive fields masked), steps, deadline, parked reason, and
    its whole history with event ids and trace ids."""
    names = sensitive_names(Settings(), redact or ())
    with reading() as conn:
        shown = show_instance(conn, find_instance(conn, instance_id, saga), instance_id)
    if as_json:
        print_json_lines([shown_json(shown, names)])
        return
    out = console()
    out.print(shown_view(shown, names, out.width))


@sagas_app.command()
def stats(
    saga: Annotated[list[str] | None, typer.Option("--saga", help="saga name (repeatable)")] = None,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """How many instances each saga has in each status and state, and how many of them are
    past their state's deadline."""
    with reading() as conn:
        counts = count_instances(conn, saga or ())
    if as_json:
        print_json_lines(c.to_json() for c in counts)
        return
    console().print(counts_table(counts))


@sagas_app.command()
def prune(
    older_than: Annotated[
        str,
        typer.Option(
            help="ended at least this long ago: 90d, 12w (at least 1d)", show_default=False
        ),
    ],
    reason: Annotated[
        str, typer.Option(help="why: recorded in saga_operator_action", show_default=False)
    ],
    status: Annotated[
        list[str] | None,
        typer.Option(help="completed and compensated unless given; failed too (repeatable)"),
    ] = None,
    saga: Annotated[list[str] | None, typer.Option("--saga", help="saga name (repeatable)")] = None,
    by: Annotated[
        str | None, typer.Option(help="who: recorded with the action (default: your OS user)")
    ] = None,
) -> None:
    """Delete instances that ended long ago, with their history, deadlines and signals (the
    tables otherwise grow for good). Chunk by chunk; safe to stop and run again."""
    age = parse_duration(older_than, option="--older-than")
    who = operator(by)
    with database() as engine:
        gone = prune_instances(
            engine,
            age,
            by=who,
            reason=reason,
            statuses=status or ("completed", "compensated"),
            sagas=saga or (),
        )
    lines().print(f"pruned {gone} ended instance{'s' if gone != 1 else ''} older than {older_than}")


# -- operations ----------------------------------------------------------------------------


def operator(by: str | None) -> str:
    """``--by``, else the OS user: who did it, for the history and the audit table."""
    if by is not None:
        return by
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment
        raise ConfigError("cannot tell who you are: pass --by NAME") from None


@sagas_app.command()
def retry(
    instance_id: Annotated[str, _ID],
    reason: Annotated[str, _REASON],
    saga: Annotated[str | None, _SAGA] = None,
    step: Annotated[
        str | None, typer.Option(help="the step to request again (default: the failed ones)")
    ] = None,
    by: Annotated[str | None, _BY] = None,
    wait: Annotated[bool, _WAIT] = True,
    timeout: Annotated[float, _TIMEOUT] = 60.0,
) -> None:
    """Request a failed (or unanswered) step again; a parked instance first goes back to the
    state it was parked in."""
    _operate(instance_id, "retry", saga, operator(by), reason, step, wait, timeout)


@sagas_app.command()
def compensate(
    instance_id: Annotated[str, _ID],
    reason: Annotated[str, _REASON],
    saga: Annotated[str | None, _SAGA] = None,
    by: Annotated[str | None, _BY] = None,
    wait: Annotated[bool, _WAIT] = True,
    timeout: Annotated[float, _TIMEOUT] = 60.0,
) -> None:
    """Force the rollback: every succeeded step is compensated, newest first."""
    _operate(instance_id, "compensate", saga, operator(by), reason, None, wait, timeout)


@sagas_app.command()
def resume(
    instance_id: Annotated[str, _ID],
    reason: Annotated[str, _REASON],
    saga: Annotated[str | None, _SAGA] = None,
    by: Annotated[str | None, _BY] = None,
    wait: Annotated[bool, _WAIT] = True,
    timeout: Annotated[float, _TIMEOUT] = 60.0,
) -> None:
    """Send a parked instance back to the state it was parked in; it carries on from there
    (the steps of that state that did not succeed are requested again)."""
    _operate(instance_id, "resume", saga, operator(by), reason, None, wait, timeout)


@sagas_app.command()
def cancel(
    instance_id: Annotated[str, _ID],
    reason: Annotated[str, _REASON],
    saga: Annotated[str | None, _SAGA] = None,
    signal: Annotated[str, typer.Option(help="the signal the saga declares for it")] = "cancel",
    by: Annotated[str | None, _BY] = None,
    wait: Annotated[bool, _WAIT] = True,
    timeout: Annotated[float, _TIMEOUT] = 60.0,
) -> None:
    """Send the saga's cancel signal (or --signal NAME) to an instance, with who and why."""
    who = operator(by)
    _check_wait(timeout)
    with database() as engine:
        sent = commands.signal(engine, instance_id, signal, by=who, reason=reason, saga=saga)
        report(engine, sent, wait, timeout)


def _operate(
    instance_id: str,
    operation: Operation,
    saga: str | None,
    by: str,
    reason: str,
    step: str | None,
    wait: bool,
    timeout: float,
) -> None:
    _check_wait(timeout)
    with database() as engine:
        sent = commands.request(
            engine, instance_id, operation, by=by, reason=reason, saga=saga, step=step
        )
        report(engine, sent, wait, timeout)


def _check_wait(timeout: float) -> None:
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout:g}: give a number of seconds above 0")


def report(engine: Engine, sent: commands.Sent, wait: bool, timeout: float) -> None:
    """Wait for the command's history entry and print it; exit 1 when no worker applied it
    in time, the worker recorded it as ignored, or the instance parked on the way."""
    what = escape(sent.what)
    if not wait:
        lines().print(
            f"queued {what} (id {sent.command_id}); a worker hosting {escape(sent.saga)} applies it"
        )
        return
    done = commands.wait(engine, sent, timeout)
    summary = escape(safe(done.summary))
    if done.status == "pending":
        _err.print(
            f"[red]error:[/] no worker applied {what} within {timeout:g}s; it stays "
            f"queued (id {sent.command_id}): start a worker that hosts saga {escape(sent.saga)}"
        )
        raise typer.Exit(1)
    if done.status == "ignored":
        assert done.entry is not None
        _err.print(f"[red]error:[/] {what} was not applied: {escape(safe(done.entry.note))}")
        raise typer.Exit(1)
    if done.status == "parked":
        _err.print(f"[red]error:[/] {what} parked the instance: {summary}")
        raise typer.Exit(1)
    lines().print(f"{what} applied: {summary}")
