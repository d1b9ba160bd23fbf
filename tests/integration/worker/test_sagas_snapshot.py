"""``saga sagas list`` and ``saga sagas show`` at 120 columns, against expected texts.

The rows are written straight into a fresh database, with times relative to the database's
clock (three hours ago, due in ten and a half minutes), so ages and deadlines print the same
on every run; the absolute times ``show`` prints are normalised. After a
deliberate change of the views, rewrite the expected texts with ``SAGA_UPDATE_SNAPSHOTS=1``
and review their diff.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from saga.engine.instance import Deadline, HistoryEntry, Instance, Status, StepRun
from saga.postgres.connect import engine_for
from saga.postgres.tables import upgrade_database
from saga.runtime.worker import describe
from tests._saga_cli import env_with_endpoints, run_saga
from tests.sagas.shop import OrderSaga

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ORDER = {"order_id": "", "sku": "book", "quantity": 1, "amount_cents": 500}


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _order(instance_id: str, state: str, status: Status, **more: Any) -> Instance:
    data = {**ORDER, "order_id": instance_id}
    return Instance("test.OrderSaga", instance_id, state, status, data, **more)


def _parked() -> Instance:
    return _order(
        "o-1004",
        "failed",
        "failed",
        version=4,
        steps={
            "capture": StepRun("failed", 3),
            "ship": StepRun("succeeded"),
            "reserve_stock": StepRun("succeeded"),
            "authorize_payment": StepRun("succeeded"),
        },
        completed=("reserve_stock", "authorize_payment", "ship"),
        parked_reason="step capture failed (CaptureFailed); the pivot step ship already "
        "succeeded, nothing is undone",
        parked_from="capturing",
    )


def _history(now: datetime) -> list[HistoryEntry]:
    """o-1004's history: checkout, the pivot, a capture failing for good, an operator."""
    at = [now - timedelta(minutes=m) for m in (50, 49, 40, 1)]
    return [
        HistoryEntry(
            1,
            at[0],
            "test.shop.OrderPlaced",
            _id(1),
            None,
            "checking_out",
            emitted=(("test.shop.ReserveStock", _id(11)), ("test.shop.AuthorizePayment", _id(12))),
            trace_id=TRACE,
        ),
        HistoryEntry(
            2,
            at[1],
            "test.shop.PaymentAuthorized",
            _id(2),
            "checking_out",
            "shipping",
            emitted=(("test.shop.ShipOrder", _id(13)),),
            trace_id=TRACE,
        ),
        HistoryEntry(
            3,
            at[2],
            "test.shop.CaptureFailed",
            _id(3),
            "capturing",
            "failed",
            note="retry 3/3 failed; parked: step capture failed (CaptureFailed); the pivot "
            "step ship already succeeded, nothing is undone",
        ),
        HistoryEntry(
            4,
            at[3],
            "operator:retry",
            _id(4),
            "failed",
            "failed",
            note="ignored: operator retry refused: step capture is not one of state shipping's",
            by="alice",
            reason="the card provider is back",
        ),
    ]


def _write(url: str) -> None:
    """Five instances, with times relative to the database's clock."""
    upgrade_database(url)
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            now: datetime = conn.execute(text("SELECT now()")).scalar_one()
            due_soon = Deadline(
                "test.OrderSaga", "o-1002", _id(98), now + timedelta(seconds=630), "checking_out"
            )
            overdue = Deadline(
                "test.OrderSaga", "o-1003", _id(99), now - timedelta(seconds=330), "checking_out"
            )
            rows = [  # instance, created, entered its state
                (
                    _order("o-1001", "completed", "completed", version=5),
                    now - timedelta(hours=3),
                    now - timedelta(hours=2),
                ),
                (
                    _order("o-1002", "checking_out", "running", version=1, deadline=due_soon),
                    now - timedelta(minutes=20),
                    now - timedelta(minutes=20),
                ),
                (
                    _order("o-1003", "checking_out", "running", version=2, deadline=overdue),
                    now - timedelta(days=1, hours=2),
                    now - timedelta(days=1, hours=2),
                ),
                (_parked(), now - timedelta(minutes=50), now - timedelta(minutes=40)),
            ]
            conn.execute(
                text(
                    "INSERT INTO saga_definition (saga, version, description) "
                    "VALUES ('test.OrderSaga', 1, CAST(:d AS jsonb))"
                ),
                {"d": json.dumps(describe(OrderSaga.__saga__))},
            )
            for instance, created, since in rows:
                conn.execute(
                    text(
                        "INSERT INTO saga_instance (saga, instance_id, version, "
                        "definition_version, state, status, snapshot, parked_reason, "
                        "created_at, updated_at) VALUES (:saga, :id, :version, 1, :state, "
                        ":status, CAST(:snapshot AS jsonb), :reason, :created, :since)"
                    ),
                    {
                        "saga": instance.saga,
                        "id": instance.instance_id,
                        "version": instance.version,
                        "state": instance.state,
                        "status": instance.status,
                        "snapshot": json.dumps(instance.to_json()),
                        "reason": instance.parked_reason,
                        "created": created,
                        "since": since,
                    },
                )
                entered = HistoryEntry(
                    1, since, "test.shop.OrderPlaced", _id(50), None, instance.state
                )
                history = _history(now) if instance.instance_id == "o-1004" else [entered]
                for entry in history:
                    conn.execute(
                        text(
                            "INSERT INTO saga_history (saga, instance_id, seq, at, trigger, "
                            "input_id, from_state, to_state, entry, trace_id) VALUES (:saga, "
                            ":id, :seq, :at, :trigger, :input, :from, :to, "
                            "CAST(:entry AS jsonb), :trace)"
                        ),
                        {
                            "saga": instance.saga,
                            "id": instance.instance_id,
                            "seq": entry.seq,
                            "at": entry.at,
                            "trigger": entry.trigger,
                            "input": entry.input_id,
                            "from": entry.from_state,
                            "to": entry.to_state,
                            "entry": json.dumps(entry.to_json()),
                            "trace": entry.trace_id,
                        },
                    )
    finally:
        engine.dispose()


def _compare(name: str, shown: str) -> None:
    expected_file = HERE / name
    if os.environ.get("SAGA_UPDATE_SNAPSHOTS") == "1":
        expected_file.write_text(shown, encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8")
    diff = "\n".join(
        difflib.unified_diff(expected.splitlines(), shown.splitlines(), "expected", "shown")
    )
    assert shown == expected, f"{name} changed:\n{diff}"
    assert max(len(line) for line in shown.splitlines()) <= 120
    assert not re.search(r"\x1b\[", shown), "no colour codes when not on a terminal"


def test_list_and_show_at_120_columns(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    _write(fresh_database_url)
    env = {
        **env_with_endpoints(tmp_path / "stack", fresh_database_url, kafka_bootstrap),
        "COLUMNS": "120",
    }

    listed = run_saga("sagas", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    _compare("expected_sagas_list_120.txt", listed.stdout)

    shown = run_saga("sagas", "show", "o-1004", env=env)
    assert shown.returncode == 0, shown.stderr
    # Times are the database's now(), shifted: the volatile part.
    normalised = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "<time>", shown.stdout)
    normalised = re.sub(r"\(\d+[smhd](\d+[smhd])? ago\)", "(<age> ago)", normalised)
    _compare("expected_sagas_show_120.txt", normalised)
