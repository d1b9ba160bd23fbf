"""``saga topics list --workers``: per worker (each target as ``saga worker TARGET`` hosts it),
the events it would read and pass over; ``--check`` exits 1 when there are any, with one
line per such worker on stderr naming the events and the fix (no stack needed: partitions
are then unknown)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._saga_cli import clean_env, run_saga

SHOP = ("services.orders", "services.inventory", "services.payments", "services.shipping")
APP = "tests.integration.worker.app"  # its requests are not marked


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path / "stack")


def test_the_shop_s_workers_pass_nothing_over(env: dict[str, str]) -> None:
    done = run_saga("topics", "list", *SHOP, "--workers", "--check", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = {row["topic"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert [row["passed_over"] for row in rows.values()] == [{}] * len(rows)
    assert rows["shop.payments.requests"]["producers"] == ["shop.OrderSaga"]
    assert rows["shop.payments.requests"]["consumers"] == ["payments"]
    assert rows["shop.payments"]["producers"] == ["payments"]


def test_workers_reading_what_they_pass_over_fail_the_check_with_the_fix(
    env: dict[str, str],
) -> None:
    saga, payments = f"{APP}:OrderSaga", f"{APP}:payments"
    done = run_saga("topics", "list", saga, payments, "--workers", "--check", "--json", env=env)
    assert done.returncode == 1, done.stderr
    [row] = [r for r in map(json.loads, done.stdout.splitlines()) if r["topic"] == "test.shop"]
    assert "test.shop.AuthorizePayment" in row["passed_over"][saga]
    assert "test.shop.PaymentAuthorized" in row["passed_over"][payments]
    lines = done.stderr.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [saga, payments]
    assert all('mark the requests among them "role": "request"' in line for line in lines)

    # Hosted by one worker, the two read each other's events (the saga's requests to the
    # other services, on the same topic, it still passes over).
    together = run_saga("topics", "list", saga, payments, "--json", env=env)
    assert together.returncode == 0, together.stderr
    [row] = [r for r in map(json.loads, together.stdout.splitlines()) if r["topic"] == "test.shop"]
    [skipped] = row["passed_over"].values()
    assert "test.shop.ReserveStock" in skipped
    assert not {"test.shop.AuthorizePayment", "test.shop.PaymentAuthorized"} & set(skipped)
