"""The chaos soak, short: ``python -m services.soak`` run as a user runs it (a subprocess, its
exit status checked), on a Kafka and a PostgreSQL of its own (it stops and crashes them). A
few hundred orders, 20 SIGKILLs of every kind of process, pauses, a rebalance storm, a
broker outage and a PostgreSQL immediate restart: nothing lost, nothing doubled, the same
seed's schedule, no process left behind."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common import SERVICES
from services.soak import Options
from services.soak.run import schedule_of
from services.soak.schedule import fingerprint
from tests._saga_cli import clean_env
from tests._shop_cli import run_shop

pytestmark = pytest.mark.integration

ORDERS, RATE, KILLS, SEED = 300, 15.0, 20, 16


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    """Not under pytest's temporary folder: a pytest session starting meanwhile (any other
    job on the machine) makes its root 0700 again, and the database server, running as an
    unprivileged user, could no longer reach its data after the soak's crash restart."""
    folder = Path(tempfile.mkdtemp(prefix="saga-soak-"))
    try:
        yield folder / "stack"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_short_seeded_soak_loses_and_doubles_nothing(stack_dir: Path) -> None:
    env = clean_env(stack_dir)
    started = time.monotonic()
    done = run_shop(
        "soak",
        *("--orders", str(ORDERS), "--rate", str(RATE), "--kills", str(KILLS)),
        *("--seed", str(SEED), "--json"),
        env=env,
        timeout=300,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads(done.stdout)

    assert [c for c in report["invariants"] if not c["ok"]] == []
    assert report["lost"] == 0
    assert report["duplicated"] == 0
    assert report["violations"] == []
    assert report["orders"] == ORDERS
    assert report["kills"] == KILLS
    assert set(report["kills_by_process"]) == {*SERVICES, "api"}
    assert report["broker_outages"] == 1
    assert report["postgres_restarts"] == 1
    assert report["pauses"] >= 1
    assert report["rebalance_storms"] >= 1
    assert report["events_published"] > 10 * ORDERS * 0.8
    assert report["inbox_claims_checked"] > report["events_published"] * 0.8
    assert report["recovery_seconds"]["measured"] > 0
    # The schedule is the seed's, as drawn before the run.
    options = Options(orders=ORDERS, rate=RATE, seed=SEED, kills=KILLS)
    assert report["schedule"] == fingerprint(schedule_of(options))
    assert report["faults"] == [f.describe() for f in schedule_of(options)]
    assert took < 150, f"the short soak took {took:.0f}s"

    for pid in report["pids"]:
        # Gone: nothing outlives the run. Pids wrap around on this busy machine, so a pid
        # alive again must belong to someone else (its command names no topic of ours).
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        assert report["topic_prefix"].encode() not in command, (pid, command)
    assert not (stack_dir / "soak" / "endpoints.json").exists()  # its stack is down
