"""`saga db upgrade`: create or update the framework's tables (Alembic history)."""

from __future__ import annotations

import typer
from rich.console import Console

from saga.errors import ConfigError
from saga.postgres.connect import database_errors
from saga.postgres.tables import upgrade_database
from saga.settings import Settings, redact_url
from saga.stack import resolve_endpoints

db_app = typer.Typer(help="The framework's tables in PostgreSQL.", no_args_is_help=True)
out = Console(soft_wrap=True)


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
