"""Alembic environment for the framework's tables.

The database URL comes from, in order: ``saga.postgres.tables.upgrade_database(url)``,
``alembic -x url=...``, then ``SAGA_DATABASE_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from saga.postgres.connect import psycopg_url
from saga.postgres.tables import metadata
from saga.settings import Settings

config = context.config


def _url() -> str:
    given = config.attributes.get("saga_url") or context.get_x_argument(as_dictionary=True).get(
        "url"
    )
    url = str(given) if given else Settings().require_database_url()
    return psycopg_url(url)


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # a caller lends its connection (e.g. a test comparing schemas)
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
