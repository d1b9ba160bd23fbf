"""`saga db upgrade` and `saga relay --lag` as a user runs them, on a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def saga(*args: str, database_url: str, kafka_bootstrap: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAGA_DATABASE_URL": database_url,
        "SAGA_KAFKA_BOOTSTRAP": kafka_bootstrap,
    }
    return subprocess.run(
        [sys.executable, "-m", "saga", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_relay_without_tables_names_the_fix_then_upgrade_makes_it_work(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    endpoints = {"database_url": fresh_database_url, "kafka_bootstrap": kafka_bootstrap}
    before = saga("relay", "--lag", **endpoints)
    assert before.returncode == 2
    assert "Traceback" not in before.stderr
    assert "tables are missing" in before.stderr
    assert "saga db upgrade" in before.stderr

    upgraded = saga("db", "upgrade", **endpoints)
    assert upgraded.returncode == 0, upgraded.stderr
    password = fresh_database_url.rsplit("@", 1)[0].rsplit(":", 1)[1]
    assert password not in upgraded.stdout + upgraded.stderr

    lag = saga("relay", "--lag", **endpoints)
    assert lag.returncode == 0, lag.stderr
    assert "backlog 0 rows" in lag.stdout


def test_unreachable_database_is_one_line(kafka_bootstrap: str) -> None:
    done = saga(
        "db",
        "upgrade",
        database_url="postgresql+psycopg://saga:pw@127.0.0.1:1/saga",
        kafka_bootstrap=kafka_bootstrap,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "cannot reach PostgreSQL" in done.stderr
