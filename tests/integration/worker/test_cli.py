"""``saga worker`` and ``saga topics`` as an operator runs them: the installed executable, a
real database and broker, and for every mistake one ``error:`` line that names the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._saga_cli import assert_one_line_error, env_with_endpoints, run_saga
from tests.integration.worker._support import prepare_database, unique_prefix, write_contracts
from tests.integration.worker.conftest import APP, Scene

pytestmark = pytest.mark.integration


@pytest.fixture
def env(fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    """An operator's environment: a migrated database with no topics made for it yet."""
    prepare_database(fresh_database_url)
    contracts = write_contracts(tmp_path / "avro")
    return env_with_endpoints(
        tmp_path / "stack", fresh_database_url, kafka_bootstrap, SAGA_SCHEMA_DIR=str(contracts)
    )


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("no_such.module",), ("cannot import module 'no_such.module'",)),
        ((f"{APP}:Nope",), ("has no 'Nope'", "check the name after the colon")),
        (("saga.errors",), ("no Saga classes or Participants found in saga.errors",)),
        ((APP, "--batch-size", "0"), ("--batch-size 0: give at least 1",)),
        ((APP, "--attempts", "0"), ("--attempts 0: give at least 1",)),
    ],
    ids=["module", "name", "nothing-hosted", "batch-size", "attempts"],
)
def test_worker_bad_arguments(
    env: dict[str, str], args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    assert_one_line_error(run_saga("worker", *args, env=env), *needles)


def test_worker_without_its_tables(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = env_with_endpoints(tmp_path / "stack", fresh_database_url, kafka_bootstrap)
    done = run_saga("worker", APP, env=env)
    assert_one_line_error(done, "tables are missing", "saga db upgrade")


def test_worker_without_its_topics_names_them(env: dict[str, str]) -> None:
    prefix = unique_prefix()
    done = run_saga("worker", APP, "--name", "shop", "--topic-prefix", prefix, env=env)
    line = assert_one_line_error(
        done,
        "topics missing in Kafka",
        f"`saga topics create MODULE... --name shop --topic-prefix {prefix} --partitions N`",
    )
    for topic in ("shop.dead-letters", "test.shop", "test.tickets"):
        assert f"{prefix}{topic}" in line


def test_worker_with_an_unreachable_database(env: dict[str, str]) -> None:
    env["SAGA_DATABASE_URL"] = "postgresql://saga:hunter2-secret@127.0.0.1:1/saga"
    done = run_saga("worker", APP, env=env)
    line = assert_one_line_error(done, "cannot reach PostgreSQL", "SAGA_DATABASE_URL")
    assert "hunter2-secret" not in done.stdout + done.stderr, line


def test_topics_list_create_and_list_again(env: dict[str, str]) -> None:
    prefix = unique_prefix()

    def listed() -> dict[str, dict[str, object]]:
        done = run_saga("topics", "list", APP, "--topic-prefix", prefix, "--json", env=env)
        assert done.returncode == 0, done.stderr
        return {row["topic"]: row for row in map(json.loads, done.stdout.splitlines())}

    before = listed()
    assert set(before) == {f"{prefix}test.shop", f"{prefix}test.tickets"}
    assert {row["partitions"] for row in before.values()} == {0}  # known missing
    shop = before[f"{prefix}test.shop"]
    assert "test.OrderSaga" in shop["consumers"]
    assert "inventory" in shop["producers"]
    assert before[f"{prefix}test.tickets"]["producers"] == []  # its events come from outside

    args = ("topics", "create", APP, "--topic-prefix", prefix, "--name", "shop")
    done = run_saga(*args, "--partitions", "2", env=env)
    assert done.returncode == 0, done.stderr
    assert "3 created, 0 existed already" in done.stdout, done.stdout
    assert {row["partitions"] for row in listed().values()} == {2}

    again = run_saga(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "0 created, 3 existed already" in again.stdout, again.stdout


def test_topics_bad_input(env: dict[str, str]) -> None:
    create = ("topics", "create", APP, "--topic-prefix", unique_prefix())
    assert_one_line_error(run_saga(*create, "--partitions", "0", env=env), "give at least 1")
    assert_one_line_error(run_saga(*create, "--timeout", "0", env=env), "--timeout 0")
    away = {**env, "SAGA_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = run_saga(*create, "--timeout", "2", env=away)
    assert_one_line_error(done, "Kafka at 127.0.0.1:1 did not answer", "SAGA_KAFKA_BOOTSTRAP")
    listed = run_saga("topics", "list", APP, env=away)
    assert listed.returncode == 0, listed.stderr  # the map needs no broker
    assert "Kafka did not answer: partitions unknown" in listed.stdout


def test_worker_started_and_stopped_by_sigterm(scene: Scene) -> None:
    """The scene's topics exist: the worker runs until SIGTERM, then exits 0."""
    worker = scene.start()
    scene.place(1)
    scene.wait_all_ended(timeout=60)
    assert scene.stop(worker) == 0, scene.log(worker)
    log = scene.log(worker)
    assert "worker shop starting" in log
    assert "worker shop stopped" in log
