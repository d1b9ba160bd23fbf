"""`saga db upgrade`: create or update the framework's tables (Alembic history)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError, ProgrammingError

from saga.errors import ConfigError, TransportError
from saga.postgres.tables import upgrade_database
from saga.settings import Settings, check_database_url, redact_error, redact_url
from saga.stack import resolve_endpoints

db_app = typer.Typer(help="The framework's tables in PostgreSQL.", no_args_is_help=True)
out = Console(soft_wrap=True)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn a malformed URL, a missing table or an unreachable server into one line naming
    the fix; the password never shows (the driver's own message may quote the URL)."""
    check_database_url(url)  # the URL may come from the stack's state file, not Settings
    try:
        yield
    except (psycopg.errors.UndefinedTable, ProgrammingError) as exc:
        if "does not exist" not in str(exc):
            raise
        raise ConfigError(
            f"the framework's tables are missing in {redact_url(url)}: run `saga db upgrade`"
        ) from None
    except (psycopg.OperationalError, OperationalError) as exc:
        driver_error = getattr(exc, "orig", None) or exc  # without SQLAlchemy's wrapping
        raise TransportError(
            f"cannot reach PostgreSQL at {redact_url(url)} ({redact_error(driver_error, url)}): "
            "run `saga stack up` or check SAGA_DATABASE_URL"
        ) from None


@db_app.command()
def upgrade(revision: str = typer.Argument("heads", help="Alembic revision to reach")) -> None:
    """Run the framework's migrations (outbox, inbox, relay tables) up to REVISION."""
    import alembic.util  # half a second to import: only this command needs it

    url = resolve_endpoints(Settings()).database_url
    with database_errors(url):
        try:
            upgrade_database(url, revision)
        except alembic.util.CommandError as exc:  # an unknown or ambiguous revision
            raise ConfigError(
                f"cannot upgrade to {revision!r}: {exc}; use `heads` (the default) or a "
                "revision of the framework's history"
            ) from None
    out.print(f"framework tables at {revision} in {redact_url(url)}")
