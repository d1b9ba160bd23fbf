"""The installed `saga` command with a malformed setting: one line, exit 2, no secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests._saga_cli import clean_env, run_saga

SECRET = "hunter2"
BAD_URL = f"postgresql+psycopg://saga:{SECRET}%zz@127.0.0.1:5432/saga"  # a raw % in the password
BAD_OPTIONS = f'["sasl.password", "{SECRET}"]'  # a JSON list, not an object


def run(*args: str, stack_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    settings = clean_env(stack_dir, SAGA_KAFKA_BOOTSTRAP="127.0.0.1:1", **env)
    return run_saga(*args, env=settings, timeout=60)


def assert_one_line_without_secret(done: subprocess.CompletedProcess[str], needle: str) -> None:
    shown = done.stdout + done.stderr
    assert done.returncode == 2, shown
    assert SECRET not in shown
    assert "Traceback" not in shown
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]


@pytest.mark.parametrize(
    ("command", "variable", "value", "needle"),
    [
        (("relay", "--lag"), "SAGA_DATABASE_URL", BAD_URL, "SAGA_DATABASE_URL is not a valid URL"),
        (("db", "upgrade"), "SAGA_DATABASE_URL", BAD_URL, "SAGA_DATABASE_URL is not a valid URL"),
        (("relay", "--lag"), "SAGA_KAFKA_OPTIONS", BAD_OPTIONS, "SAGA_KAFKA_OPTIONS is invalid"),
        (("stack", "env"), "SAGA_KAFKA_OPTIONS", BAD_OPTIONS, "SAGA_KAFKA_OPTIONS is invalid"),
        (("db", "upgrade"), "SAGA_KAFKA_OPTIONS", "{" + SECRET, "not valid JSON"),
    ],
)
def test_a_malformed_setting_is_one_line_without_the_secret(
    tmp_path: Path, command: tuple[str, ...], variable: str, value: str, needle: str
) -> None:
    done = run(*command, stack_dir=tmp_path, **{variable: value})
    assert_one_line_without_secret(done, needle)


def test_a_malformed_url_in_the_stack_state_is_one_line_without_the_secret(
    tmp_path: Path,
) -> None:
    # The URL does not come through Settings here: `saga stack up` wrote it.
    state = {"backend": "native", "kafka_bootstrap": "127.0.0.1:1", "database_url": BAD_URL}
    (tmp_path / "endpoints.json").write_text(json.dumps(state))
    done = run("relay", "--lag", stack_dir=tmp_path)
    assert_one_line_without_secret(done, "SAGA_DATABASE_URL is not a valid URL")
