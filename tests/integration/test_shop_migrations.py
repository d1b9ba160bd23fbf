"""Each shop service's own Alembic history, next to the framework's in the same database:
migrated with the command the services' docs give, it builds exactly the service's tables
(autogenerate finds nothing to add), and the two histories never get in each other's way."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import import_module

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from saga.postgres.connect import engine_for
from saga.postgres.tables import metadata as framework_metadata
from saga.postgres.tables import upgrade_database
from services.common import SERVICES, alembic_config, version_table
from tests._saga_cli import ROOT

pytestmark = pytest.mark.integration


def alembic(service: str, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAGA_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "services/alembic.ini", "-n", service, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def diff(url: str, service: str, metadata: MetaData) -> list[object]:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "version_table": version_table(service),
                    "include_name": lambda name, kind, _: (
                        kind != "table" or name in metadata.tables
                    ),
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_history_builds_its_tables_next_to_the_framework(
    service: str, fresh_database_url: str
) -> None:
    metadata: MetaData = import_module(f"services.{service}.tables").metadata
    upgrade_database(fresh_database_url)  # saga db upgrade
    done = alembic(service, fresh_database_url, "upgrade", "head")
    assert done.returncode == 0, done.stderr
    assert diff(fresh_database_url, service, metadata) == []

    upgrade_database(fresh_database_url)  # the framework's history still upgrades
    engine = create_engine(fresh_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) | set(framework_metadata.tables) <= tables
    assert {"alembic_version", version_table(service)} <= tables

    command.downgrade(alembic_config(service, fresh_database_url), "base")
    engine = create_engine(fresh_database_url)
    try:
        left = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert not set(metadata.tables) & left  # the service's tables only
    assert set(framework_metadata.tables) <= left
