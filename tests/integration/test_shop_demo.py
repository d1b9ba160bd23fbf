"""`make demo`'s program, short: ``python -m services.demo --orders 50 --json`` run as a user
runs it (a subprocess, its exit status checked), on the test session's Kafka and PostgreSQL.
Every invariant holds after one service was killed with SIGKILL and restarted, the failures
of the plan happened, and no process of the run is left."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests._saga_cli import clean_env
from tests._shop_cli import run_shop

pytestmark = pytest.mark.integration


def test_a_short_demo_keeps_every_invariant_through_a_kill(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = clean_env(
        tmp_path / "stack", SAGA_KAFKA_BOOTSTRAP=kafka_bootstrap, SAGA_DATABASE_URL=database_url
    )
    done = run_shop("demo", "--orders", "50", "--rate", "25", "--json", env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout)

    assert [c for c in summary["invariants"] if not c["ok"]] == []
    names = {c["name"] for c in summary["invariants"]}
    assert {
        "all sagas ended",
        "stock never negative and conserved",
        "money conserved",
        "no effect applied twice",
        "every process stopped cleanly on SIGTERM",
    } <= names
    # Seed 7's first 50 orders hold every kind of failure; the cancels land while the
    # inventory is down, so they are accepted.
    assert set(summary["outcomes"]) == {
        "completed",
        "out of stock",
        "card declined",
        "shipment failed",
        "cancelled by the customer",
    }
    assert list(summary["cancels"].values()) == ["accepted"]
    assert summary["outage"]["service"] == "inventory"
    assert summary["outage"]["seconds"] is not None
    assert len(summary["processes"]["inventory"]) == 2  # killed, then restarted

    for pids in summary["processes"].values():
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # gone (and reaped): nothing outlives the run
    password = database_url.rsplit("@", 1)[0].rsplit(":", 1)[1]
    assert password not in done.stdout + done.stderr
