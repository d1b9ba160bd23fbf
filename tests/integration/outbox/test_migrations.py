"""The Alembic history and the SQLAlchemy tables describe the same schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from saga.postgres.tables import OUTBOX_LANES, create_tables, metadata, upgrade_database
from tests.integration.outbox._support import engine_for, pg

pytestmark = pytest.mark.integration


def test_migrated_schema_matches_the_models(fresh_database_url: str) -> None:
    upgrade_database(fresh_database_url)
    engine = engine_for(fresh_database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_create_all_and_the_migration_install_the_notify_trigger(fresh_database_url: str) -> None:
    create_tables(fresh_database_url)
    create_tables(fresh_database_url)  # idempotent
    with pg(fresh_database_url) as conn:
        triggers = conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'saga_outbox'::regclass "
            "AND NOT tgisinternal"
        ).fetchall()
    assert triggers == [("saga_outbox_notify",)]
    assert OUTBOX_LANES == 8  # the lane count is part of the schema (see saga.postgres.tables)
