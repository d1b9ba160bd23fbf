"""`saga relay` as a user starts it: a broker that is away or refuses the login is waited
for (the process stays up and says why), and `--lag` needs no broker at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from saga.tables import upgrade_database
from saga.testing import eventually

pytestmark = pytest.mark.integration

SAGA = str(Path(sys.executable).with_name("saga"))  # the installed command
NO_BROKER = "127.0.0.1:1"  # nothing listens there


def relay_env(database_url: str, kafka_bootstrap: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_")}
    env.update(SAGA_DATABASE_URL=database_url, SAGA_KAFKA_BOOTSTRAP=kafka_bootstrap, **extra)
    return env


def test_lag_needs_no_broker(fresh_database_url: str) -> None:
    upgrade_database(fresh_database_url)
    started = time.monotonic()
    done = subprocess.run(
        [SAGA, "relay", "--lag"],
        env=relay_env(fresh_database_url, NO_BROKER),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "backlog 0 rows" in done.stdout
    assert time.monotonic() - started < 10, "it waited for a broker it does not need"


def test_a_broker_refusing_the_login_is_waited_for_not_fatal(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    upgrade_database(fresh_database_url)
    secret = "never-printed-7f3a"
    options = (
        '{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", '
        f'"sasl.username": "app", "sasl.password": "{secret}"}}'
    )
    log = tmp_path / "relay.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SAGA, "relay"],
            env=relay_env(fresh_database_url, kafka_bootstrap, SAGA_KAFKA_OPTIONS=options),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually(
            lambda: "did not answer" in log.read_text() or proc.poll() is not None,
            timeout=90,
            what="relay reports the broker",
        )
        assert proc.poll() is None, log.read_text()[-3000:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    text = log.read_text()
    assert "Traceback" not in text
    assert secret not in text


def test_missing_tables_stop_the_relay_with_the_fix(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    done = subprocess.run(
        [SAGA, "relay"],
        env=relay_env(fresh_database_url, kafka_bootstrap),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "tables are missing" in done.stderr
    assert "saga db upgrade" in done.stderr
