"""What the shop's four services share: the effect log and their Alembic set-up.

Each service owns one database (``shop_orders``, ``shop_inventory``, ...) holding its own
tables, the framework's tables (outbox, inbox; ``saga db upgrade``) and its own Alembic
history (``alembic -c services/alembic.ini -n inventory upgrade head``). A service's history
keeps its own version table (``inventory_alembic_version``), so that ``saga db upgrade``
never meets a revision it does not know.

Every handler writes one row to its service's ``effect`` table, in the transaction that
claims the event in the inbox: the event id, what was done and for which order (a batch
handler writes its batch's rows with one statement, :func:`log_effects`). The table has no
unique key on purpose: an event applied twice would show as two rows, which the demo's
invariants look for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text, Uuid, func, insert, text

from saga import BatchContext, Context
from saga.postgres.connect import engine_for

if TYPE_CHECKING:
    from alembic.config import Config

SERVICES = ("orders", "inventory", "payments", "shipping")


def database_name(service: str) -> str:
    """The database a service owns in the shared PostgreSQL server."""
    return f"shop_{service}"


def version_table(service: str) -> str:
    """The Alembic version table of a service's own history."""
    return f"{service}_alembic_version"


def effect_table(metadata: MetaData) -> Table:
    """The service's effect log (see the module docstring)."""
    return Table(
        "effect",
        metadata,
        Column("event_id", Uuid, nullable=False),
        Column("kind", Text, nullable=False),
        Column("order_id", Uuid, nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("effect_event", "event_id"),
    )


def log_effect(context: Context, table: Table, kind: str, order_id: UUID) -> None:
    """One row in the effect log, in the handler's transaction."""
    context.session.execute(
        insert(table).values(event_id=UUID(context.event_id), kind=kind, order_id=order_id)
    )


def log_effects(
    context: BatchContext, table: Table, effects: Sequence[tuple[int, str, UUID]]
) -> None:
    """The effect log's rows of a batch, ``(request index, kind, order id)`` each, in one
    statement in the handler's transaction (the event id is the request's)."""
    if not effects:
        return
    context.session.execute(
        text(
            f"INSERT INTO {table.name} (event_id, kind, order_id) "  # noqa: S608 (a table)
            "SELECT * FROM unnest(CAST(:events AS uuid[]), CAST(:kinds AS text[]), "
            "CAST(:orders AS uuid[]))"
        ),
        {
            "events": [UUID(context.per_request[i].event_id) for i, _, _ in effects],
            "kinds": [kind for _, kind, _ in effects],
            "orders": [order_id for _, _, order_id in effects],
        },
    )


def alembic_config(service: str, url: str) -> Config:
    """An Alembic ``Config`` for ``service``'s own history, aimed at ``url``."""
    from pathlib import Path

    from alembic.config import Config

    folder = Path(__file__).resolve().parent / service / "migrations"
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    return config


def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Migrate ``service``'s tables in its database (what the Alembic command does)."""
    from alembic import command

    command.upgrade(alembic_config(service, url), revision)


def run_migrations(service: str, metadata: MetaData) -> None:
    """The body of a service's Alembic ``env.py``: its tables only, its own version table.

    The URL comes from, in order: :func:`upgrade`'s argument, ``alembic -x url=...``, then
    ``SAGA_DATABASE_URL`` (the same variable the service's worker reads).
    """
    from alembic import context

    from saga.settings import Settings

    config = context.config
    given = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    url = str(given) if given else Settings().require_database_url()
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": version_table(service),
        # The framework's tables live in the same database under their own history.
        "include_name": lambda name, kind, _parent: kind != "table" or name in metadata.tables,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
