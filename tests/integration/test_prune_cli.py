"""`saga sagas prune`: ended instances go with their history, deadlines and signals, chunk
by chunk; running, recent and (unless asked) failed ones stay; the prune is recorded with
who and why. Bad input is one line and deletes nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from saga.postgres.tables import upgrade_database
from tests._saga_cli import assert_one_line_error, env_with_endpoints, run_saga

pytestmark = pytest.mark.integration

# (instance id, status, days since its last change)
INSTANCES = [
    ("old-done", "completed", 40),
    ("old-undone", "compensated", 40),
    ("old-failed", "failed", 40),
    ("old-running", "running", 40),
    ("new-done", "completed", 5),
]


def _seed(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", "", 1), autocommit=True) as conn:
        for instance_id, status, days in INSTANCES:
            conn.execute(
                "INSERT INTO saga_instance (saga, instance_id, version, definition_version, "
                "state, status, snapshot, updated_at) VALUES ('test.Trip', %s, 1, 1, 'end', %s, "
                "'{}', now() - make_interval(days => %s))",
                (instance_id, status, days),
            )
            for seq in range(3):
                conn.execute(
                    "INSERT INTO saga_history (saga, instance_id, seq, at, trigger, input_id, "
                    "to_state, entry) VALUES ('test.Trip', %s, %s, now(), 'event', %s, 'end', "
                    "'{}')",
                    (instance_id, seq, f"{instance_id}-{seq}"),
                )
            conn.execute(
                "INSERT INTO saga_deadline (deadline_id, saga, instance_id, state, due_at) "
                "VALUES (%s, 'test.Trip', %s, 'end', now())",
                (f"d-{instance_id}", instance_id),
            )


def _left(url: str) -> tuple[set[str], int, int, list[tuple[str, str, str]]]:
    with psycopg.connect(url.replace("+psycopg", "", 1)) as conn:
        ids = {r[0] for r in conn.execute("SELECT instance_id FROM saga_instance")}
        history = conn.execute("SELECT count(*) FROM saga_history").fetchone()
        deadlines = conn.execute("SELECT count(*) FROM saga_deadline").fetchone()
        audit = conn.execute("SELECT action, by, reason FROM saga_operator_action").fetchall()
    assert history is not None
    assert deadlines is not None
    return ids, int(history[0]), int(deadlines[0]), [tuple(a) for a in audit]


def test_prune_deletes_ended_instances_and_everything_of_theirs(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    upgrade_database(fresh_database_url)
    _seed(fresh_database_url)
    env = env_with_endpoints(tmp_path / "stack", fresh_database_url, kafka_bootstrap)

    # Bad input: one line each, nothing deleted, nothing recorded.
    assert_one_line_error(
        run_saga("sagas", "prune", "--older-than", "2h", "--reason", "r", env=env),
        "give at least 1d",
    )
    assert_one_line_error(
        run_saga(
            "sagas",
            "prune",
            "--older-than",
            "30d",
            "--status",
            "running",
            "--reason",
            "r",
            env=env,
        ),
        "only ended instances go",
    )
    assert_one_line_error(
        run_saga("sagas", "prune", "--older-than", "30d", "--reason", " ", env=env), "say why"
    )
    assert _left(fresh_database_url) == ({i[0] for i in INSTANCES}, 15, 5, [])

    done = run_saga(
        "sagas",
        "prune",
        "--older-than",
        "30d",
        "--reason",
        "keep 30 days",
        "--by",
        "ops",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "pruned 2 ended instances older than 30d" in done.stdout
    ids, history, deadlines, audit = _left(fresh_database_url)
    assert ids == {"old-failed", "old-running", "new-done"}
    assert (history, deadlines) == (9, 3)
    assert audit == [("sagas.prune", "ops", "keep 30 days")]

    # Failed ones only when asked.
    again = run_saga(
        "sagas",
        "prune",
        "--older-than",
        "30d",
        "--status",
        "failed",
        "--reason",
        "r",
        env=env,
    )
    assert again.returncode == 0, again.stderr
    assert _left(fresh_database_url)[0] == {"old-running", "new-done"}
