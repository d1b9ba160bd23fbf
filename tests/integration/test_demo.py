"""`make demo`'s program runs as the README says, against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


def test_hello_demo_round_trip(kafka_bootstrap: str, database_url: str) -> None:
    env = {**os.environ, "SAGA_KAFKA_BOOTSTRAP": kafka_bootstrap, "SAGA_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "services.hello"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "produced to shop.orders" in done.stdout
    assert "consumed shop.orders.OrderPlaced" in done.stdout
    assert "round trip done" in done.stdout
    password = database_url.rsplit("@", 1)[0].rsplit(":", 1)[1]
    assert password not in done.stdout + done.stderr
