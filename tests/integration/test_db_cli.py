"""`saga db upgrade` and `saga relay --lag` as a user runs them, on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._saga_cli import env_with_endpoints, run_saga

pytestmark = pytest.mark.integration


def test_relay_without_tables_names_the_fix_then_upgrade_makes_it_work(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = env_with_endpoints(tmp_path / "stack", fresh_database_url, kafka_bootstrap)
    before = run_saga("relay", "--lag", env=env)
    assert before.returncode == 2
    assert "Traceback" not in before.stderr
    assert "tables are missing" in before.stderr
    assert "saga db upgrade" in before.stderr

    upgraded = run_saga("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    password = fresh_database_url.rsplit("@", 1)[0].rsplit(":", 1)[1]
    assert password not in upgraded.stdout + upgraded.stderr

    lag = run_saga("relay", "--lag", env=env)
    assert lag.returncode == 0, lag.stderr
    assert "backlog 0 rows" in lag.stdout


def test_unreachable_database_is_one_line(kafka_bootstrap: str, tmp_path: Path) -> None:
    unreachable = "postgresql+psycopg://saga:pw@127.0.0.1:1/saga"
    env = env_with_endpoints(tmp_path / "stack", unreachable, kafka_bootstrap)
    done = run_saga("db", "upgrade", env=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert "cannot reach PostgreSQL" in done.stderr
