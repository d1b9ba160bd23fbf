"""Every command's exit status, from the installed ``saga`` executable (no stack needed).

0 is success, 1 a check that found problems, 2 bad input: a framework error on one line
(``error: …``) or click's usage message; never a traceback. Commands that need a real
broker or database succeed in ``tests/integration/test_cli_exit_codes.py``.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests._saga_cli import (
    ROOT,
    assert_exits_on,
    assert_one_line_error,
    assert_usage_error,
    clean_env,
    closed_port,
    first_line,
    run_saga,
    saga_process,
)

AVRO = ROOT / "avro"
FIXTURES = ROOT / "tests" / "fixtures" / "schemas"
GENERATED = ROOT / "services" / "contracts" / "_generated.py"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path / "stack")


def _contract(root: Path, fields: list[dict[str, object]], version: int = 1) -> Path:
    schema = {"type": "record", "name": "Thing", "namespace": "acme", "fields": fields}
    (root / "acme").mkdir(parents=True, exist_ok=True)
    path = root / "acme" / f"Thing.v{version}.avsc"
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


# -- saga schemas check ------------------------------------------------------------------


def test_schemas_check_passes_on_the_contracts(env: dict[str, str]) -> None:
    done = run_saga("schemas", "check", str(AVRO), env=env)
    assert done.returncode == 0, done.stderr
    assert "compatible at BACKWARD_TRANSITIVE" in done.stdout


def test_schemas_check_fails_on_an_incompatible_change(env: dict[str, str]) -> None:
    folder = FIXTURES / "field_added_without_default"
    done = run_saga("schemas", "check", str(folder), "--level", "BACKWARD", env=env)
    assert done.returncode == 1, done
    assert "field `currency` added without default" in done.stderr
    assert "Traceback" not in done.stderr


def test_schemas_check_strict_rule_fails_and_can_be_turned_off(env: dict[str, str]) -> None:
    folder = str(FIXTURES / "logical_type_changed")
    assert run_saga("schemas", "check", folder, env=env).returncode == 1
    relaxed = run_saga("schemas", "check", folder, "--no-strict-logical-types", env=env)
    assert relaxed.returncode == 0, relaxed.stderr


def test_schemas_check_warnings_do_not_fail(env: dict[str, str], tmp_path: Path) -> None:
    _contract(tmp_path / "c", [{"name": "b", "type": "bytes"}], 1)
    _contract(tmp_path / "c", [{"name": "b", "type": "string"}], 2)
    done = run_saga("schemas", "check", str(tmp_path / "c"), env=env)
    assert done.returncode == 0, done.stderr
    assert "warning:" in done.stderr
    assert "bytes read as string" in done.stderr


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["schemas", "check", "/nonexistent/avro"], ["does not exist", "SAGA_SCHEMA_DIR"]),
        (["schemas", "check", str(AVRO), "--level", "BACKWARDS"], ["choose one of"]),
        (["schemas", "generate", "/nonexistent/avro", "--check", "-o", "x.py"], ["does not exist"]),
        (["schemas", "list", "/nonexistent/avro"], ["does not exist"]),
    ],
)
def test_schemas_bad_input_is_one_line(
    env: dict[str, str], args: list[str], needles: list[str]
) -> None:
    assert_one_line_error(run_saga(*args, env=env), *needles)


def test_schemas_check_refuses_an_invalid_default_on_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    status = {"type": "enum", "name": "Status", "symbols": ["A", "B"]}
    path = _contract(tmp_path / "c", [{"name": "s", "type": status, "default": "C"}])
    done = run_saga("schemas", "check", str(tmp_path / "c"), env=env)
    assert_one_line_error(done, str(path), "field `s`", "use one of its symbols")


# -- saga schemas generate / list --------------------------------------------------------


def test_schemas_generate_asks_where_to_write(env: dict[str, str]) -> None:
    # No default module: a user's project has no services/contracts/.
    assert_usage_error(run_saga("schemas", "generate", str(AVRO), env=env), "--out")


def test_schemas_generate_check_passes_when_up_to_date(env: dict[str, str]) -> None:
    done = run_saga("schemas", "generate", str(AVRO), "-o", str(GENERATED), "--check", env=env)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_schemas_generate_check_fails_on_stale_code(env: dict[str, str], tmp_path: Path) -> None:
    stale = tmp_path / "_generated.py"
    stale.write_text(GENERATED.read_text(encoding="utf-8").replace("AvroLong", "int", 1))
    done = run_saga("schemas", "generate", str(AVRO), "-o", str(stale), "--check", env=env)
    assert done.returncode == 1, done
    assert "out of date with" in done.stderr
    assert (
        f"run `saga schemas generate --out {stale}`" in done.stderr
    )  # on one line, however narrow
    written = tmp_path / "fresh.py"
    first = run_saga("schemas", "generate", str(AVRO), "-o", str(written), env=env)
    assert first.returncode == 0, first.stderr
    again = run_saga("schemas", "generate", str(AVRO), "-o", str(written), env=env)
    assert again.returncode == 0, again.stderr
    assert "already up to date" in again.stdout


def test_schemas_generate_refuses_an_unsupported_contract(
    env: dict[str, str], tmp_path: Path
) -> None:
    _contract(tmp_path / "c", [{"name": "class", "type": "string"}])
    module = tmp_path / "g.py"
    done = run_saga("schemas", "generate", str(tmp_path / "c"), "-o", str(module), env=env)
    assert_one_line_error(done, "cannot be a pydantic field name")
    assert not module.exists()


def test_schemas_list(env: dict[str, str]) -> None:
    done = run_saga("schemas", "list", str(AVRO), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("shop.orders.OrderPlaced") == 2


# -- saga diagram / choreography ---------------------------------------------------------


def test_diagram_prints_mermaid(env: dict[str, str]) -> None:
    done = run_saga("diagram", "tests.contract.shop:OrderSaga", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("stateDiagram-v2")


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("shop", "is not module.path:Name"),
        ("tests.contract.shop:OrderPlaced", "not a Saga class"),
    ],
)
def test_diagram_bad_target_is_one_line(env: dict[str, str], target: str, needle: str) -> None:
    assert_one_line_error(run_saga("diagram", target, env=env), needle)


def test_choreography_fails_on_loose_ends(env: dict[str, str]) -> None:
    done = run_saga("choreography", "tests.contract.shop", env=env)
    assert done.returncode == 1, done
    assert "consumed but never produced" in done.stdout


def test_choreography_passes_when_every_end_is_tied(env: dict[str, str]) -> None:
    external = ["--external", "test.strict.Opened", "--external", "test.strict.Ping"]
    done = run_saga("choreography", "tests.contract.strict", *external, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_choreography_bad_input_is_one_line(env: dict[str, str]) -> None:
    done = run_saga("choreography", "no_such_module", env=env)
    assert_one_line_error(done, "cannot import module 'no_such_module'")


# -- saga stack / db / relay without a stack ---------------------------------------------


@pytest.mark.parametrize("command", ["status", "env"])
def test_stack_commands_name_the_fix_when_it_is_not_up(env: dict[str, str], command: str) -> None:
    assert_one_line_error(run_saga("stack", command, env=env), "not up", "saga stack up")


def test_stack_logs(env: dict[str, str]) -> None:
    done = run_saga("stack", "logs", env=env)
    assert done.returncode == 0, done.stderr
    assert "no log yet" in done.stdout
    assert_one_line_error(run_saga("stack", "logs", "broker", env=env), "use kafka, postgres")


@pytest.mark.parametrize("args", [["db", "upgrade"], ["relay", "--lag"]])
def test_an_unreachable_database_is_one_line(env: dict[str, str], args: list[str]) -> None:
    env["SAGA_DATABASE_URL"] = f"postgresql+psycopg://saga:secret@127.0.0.1:{closed_port()}/saga"
    env["SAGA_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{closed_port()}"
    line = assert_one_line_error(run_saga(*args, env=env), "cannot reach PostgreSQL")
    assert "secret" not in line


@pytest.mark.parametrize(
    "args",
    [["relay", "--delivery", "twice"], ["worker", "services.shipping", "--relay-delivery", "x"]],
)
def test_a_delivery_no_relay_knows_is_one_line(env: dict[str, str], args: list[str]) -> None:
    assert_one_line_error(run_saga(*args, env=env), "choose one of exactly-once, at-least-once")


# -- the command line itself -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nope"], "No such command 'nope'"),
        (["schemas", "check", "--bogus"], "No such option: --bogus"),
        (["relay", "--batch-size", "many"], "Invalid value for '--batch-size'"),
        (["diagram"], "Missing argument"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(
    env: dict[str, str], args: list[str], needle: str
) -> None:
    assert_usage_error(run_saga(*args, env=env), needle)


def test_a_bare_command_group_shows_its_help_with_the_usage_code(env: dict[str, str]) -> None:
    done = run_saga("schemas", env=env)
    assert done.returncode == 2, done
    assert "Usage: saga schemas" in done.stdout + done.stderr


def test_help_exits_0(env: dict[str, str]) -> None:
    done = run_saga("--help", env=env)
    assert done.returncode == 0, done.stderr
    assert "schemas" in done.stdout


def test_help_lists_framework_commands_only(env: dict[str, str]) -> None:
    # The example shop's programs are the project's (python -m services.demo, ...soak).
    done = run_saga("--help", env=env)
    assert done.returncode == 0, done.stderr
    for word in ("demo", "soak"):
        assert word not in done.stdout.lower(), done.stdout


@pytest.mark.parametrize("command", ["demo", "soak"])
def test_the_shop_programs_are_not_saga_commands(env: dict[str, str], command: str) -> None:
    assert_usage_error(run_saga(command, env=env), f"No such command '{command}'")


def test_ctrl_c_exits_130_without_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    # A module that blocks while it is imported stands for any long command.
    (tmp_path / "blocking.py").write_text(
        "import sys, threading\nprint('ready', flush=True)\nthreading.Event().wait()\n"
    )
    with saga_process("diagram", "blocking:Saga", env=env, cwd=tmp_path, ctrl_c=True) as process:
        assert first_line(process).strip() == "ready"
        assert_exits_on(process, signal.SIGINT, 130)
