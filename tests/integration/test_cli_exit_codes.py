"""Exit statuses of the commands that need a real PostgreSQL and Kafka, from the installed
``saga`` executable (the commands without a stack: ``tests/unit/cli/test_cli_exit_codes.py``)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests._saga_cli import (
    assert_exits_on,
    assert_one_line_error,
    env_with_endpoints,
    first_line,
    run_saga,
    saga_process,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path, fresh_database_url: str, kafka_bootstrap: str) -> dict[str, str]:
    return env_with_endpoints(tmp_path / "stack", fresh_database_url, kafka_bootstrap)


def test_db_upgrade_then_relay_lag(env: dict[str, str]) -> None:
    before = run_saga("relay", "--lag", env=env)
    assert_one_line_error(before, "tables are missing", "saga db upgrade")

    upgraded = run_saga("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "framework tables at heads" in upgraded.stdout
    again = run_saga("db", "upgrade", env=env)  # idempotent
    assert again.returncode == 0, again.stderr

    lag = run_saga("relay", "--lag", env=env)
    assert lag.returncode == 0, lag.stderr
    assert "backlog 0 rows" in lag.stdout


def test_db_upgrade_to_an_unknown_revision_is_one_line(env: dict[str, str]) -> None:
    done = run_saga("db", "upgrade", "no-such-revision", env=env)
    assert_one_line_error(done, "cannot upgrade to 'no-such-revision'", "use `heads`")


def test_the_relay_runs_until_sigterm_and_exits_0(env: dict[str, str]) -> None:
    assert run_saga("db", "upgrade", env=env).returncode == 0
    with saga_process("relay", "--poll-interval", "0.2", env=env) as process:
        assert "running; Ctrl-C stops it" in first_line(process)
        assert_exits_on(process, signal.SIGTERM, 0)
