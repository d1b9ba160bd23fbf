"""`saga relay` as a user starts it: a broker that is away or refuses the login is waited
for (the process stays up and says why), and `--lag` needs no broker at all."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from saga.postgres.tables import upgrade_database
from tests._saga_cli import (
    assert_sigterm_exits_0,
    env_with_endpoints,
    run_saga,
    saga_process,
    wait_until_logged,
)

pytestmark = pytest.mark.integration

NO_BROKER = "127.0.0.1:1"  # nothing listens there


def test_lag_needs_no_broker(fresh_database_url: str, tmp_path: Path) -> None:
    upgrade_database(fresh_database_url)
    started = time.monotonic()
    done = run_saga(
        "relay",
        "--lag",
        env=env_with_endpoints(tmp_path / "stack", fresh_database_url, NO_BROKER),
        timeout=60,
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
    env = env_with_endpoints(
        tmp_path / "stack", fresh_database_url, kafka_bootstrap, SAGA_KAFKA_OPTIONS=options
    )
    log = tmp_path / "relay.log"
    with saga_process("relay", env=env, log=log) as relay:
        wait_until_logged(relay, log, "did not answer", what="relay reports the broker")
        assert_sigterm_exits_0(relay, log)
    text = log.read_text()
    assert "Traceback" not in text
    assert secret not in text


def test_missing_tables_stop_the_relay_with_the_fix(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    done = run_saga(
        "relay",
        env=env_with_endpoints(tmp_path / "stack", fresh_database_url, kafka_bootstrap),
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "tables are missing" in done.stderr
    assert "saga db upgrade" in done.stderr
