"""The shop's programs, ``python -m services.demo`` and ``python -m services.soak`` (what
``make demo`` and ``make soak`` run), on bad input: the ``saga`` command's error style (one
``error:`` line naming the fix or click's usage message, exit 2, no traceback), and nothing
started. Their runs are ``tests/integration/test_shop_demo.py`` and ``test_soak.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from saga.errors import ConfigError, TransportError
from saga.postgres.connect import database_errors, engine_for
from tests._saga_cli import assert_one_line_error, assert_usage_error, clean_env, closed_port
from tests._shop_cli import run_shop


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path / "stack")


@pytest.mark.parametrize("program", ["demo", "soak"])
def test_help_names_the_program_and_its_options(env: dict[str, str], program: str) -> None:
    done = run_shop(program, "--help", env=env)
    assert done.returncode == 0, done.stderr
    assert f"python -m services.{program}" in done.stdout
    assert "--orders" in done.stdout
    assert "--json" in done.stdout


@pytest.mark.parametrize("program", ["demo", "soak"])
def test_outside_the_checkout_names_the_folder(
    env: dict[str, str], tmp_path: Path, program: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_shop(program, env=env, cwd=elsewhere)
    assert_one_line_error(
        done,
        f"python -m services.{program} runs the example shop",
        "run it in the repository's root folder",
        f"make {program}",
    )
    assert list(elsewhere.iterdir()) == []  # no stack was started in the wrong place
    assert not Path(env["SAGA_STACK_DIR"]).exists()


def test_demo_options_are_checked_before_the_stack_comes_up(env: dict[str, str]) -> None:
    assert_one_line_error(run_shop("demo", "--kill", "nobody", env=env), "--kill nobody")
    assert_usage_error(run_shop("demo", "--orders", "0", env=env), "--orders")
    assert_usage_error(run_shop("demo", "--rate", "0", env=env), "--rate")
    assert_usage_error(run_shop("demo", "--bogus", env=env), "No such option: --bogus")
    assert not Path(env["SAGA_STACK_DIR"]).exists()


def test_soak_options_are_checked_before_anything_starts(env: dict[str, str]) -> None:
    assert_one_line_error(run_shop("soak", "--orders", "0", env=env), "--orders 0")
    assert_one_line_error(run_shop("soak", "--rate", "0", env=env), "--rate 0")
    assert_one_line_error(run_shop("soak", "--kills", "-1", env=env), "--kills -1")
    assert_one_line_error(run_shop("soak", "--orders", "2", "--kills", "30", env=env), "at most")
    assert_usage_error(run_shop("soak", "--kills", "many", env=env), "Invalid value for '--kills'")
    assert not Path(env["SAGA_STACK_DIR"]).exists()  # no private stack was started


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    url = f"postgresql+psycopg://saga:secret@127.0.0.1:{closed_port()}/saga"
    with pytest.raises(TransportError) as caught, database_errors(url):
        engine_for(url).connect()
    assert "cannot reach PostgreSQL at" in str(caught.value)
    assert "check SAGA_DATABASE_URL" in str(caught.value)
    assert "secret" not in str(caught.value)


def test_a_malformed_database_url_is_refused_before_anything_runs() -> None:
    ran = []
    with pytest.raises(ConfigError, match="SAGA_DATABASE_URL"), database_errors("nonsense://"):
        ran.append(True)
    assert ran == []
