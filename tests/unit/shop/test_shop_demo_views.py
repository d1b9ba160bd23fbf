"""The demo's live view and summary render from a run's facts (no stack needed; the short
demo in tests/integration runs them for real, with --json)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from services.demo import display
from services.demo.report import Check, OrderRow, Report, outage_summary
from services.demo.run import traces_hint

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def row(
    placed: float, took: float, *, status: str = "completed", failure: str | None = None
) -> OrderRow:
    return OrderRow(
        order_id=uuid.uuid4(),
        status="completed" if status == "completed" else "cancelled",
        total_cents=1_000,
        placed_at=T0 + timedelta(seconds=placed),
        saga_status=status,
        saga_state="completed" if status == "completed" else "cancelled",
        failure=failure,
        capture_attempts=2 if placed == 0 else 1,
        ended_at=T0 + timedelta(seconds=placed + took),
    )


def rendered(renderable: object) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_the_summary_shows_outcomes_timing_the_outage_and_the_checks() -> None:
    orders = [
        row(0, 0.5),
        row(1, 10.0),  # held up: in flight while the inventory was down
        row(25, 0.4, status="compensated", failure="step reserve_stock failed (X)"),
        row(20, 0.6),
    ]
    report = Report(
        orders=orders,
        checks=[Check("money conserved", True, "ok"), Check("all sagas ended", False, "1 left")],
        outcomes={"completed": 3, "out of stock": 1},
        capture_retries=1,
        sagas_per_second=12.5,
        latency_ms={"p50": 550.0, "p99": 9900.0, "max": 10000.0},
    )
    ended = [o for o in orders if o.ended_at]
    report.outage = outage_summary(
        "inventory", T0 + timedelta(seconds=1.5), T0 + timedelta(seconds=11), ended
    )
    assert report.outage["orders_in_flight"] == 1
    text = rendered(display.summary(report, 30.0))
    assert "completed  (1 after a capture retry)" in text
    assert "inventory down" in text
    assert "9.5 s" in text
    assert "1 orders: p50 10000 ms" in text
    assert "3 orders: p50 500 ms" in text
    assert "✓ │ money conserved" in text
    assert "✗ │ all sagas ended" in text
    assert not report.ok


def test_the_live_view_shows_sagas_by_state_and_what_happened() -> None:
    live = display.Live("saga demo", total=10, placed=4, elapsed=2.0)
    live.states = {"checking_out": 3, "completed": 1}
    live.note("inventory killed")
    text = rendered(live)
    assert "checking_out" in text
    assert "completed" in text
    assert "placed 4/10 (2/s) · ended 1" in text
    assert "inventory killed" in text


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "http://localhost:4318"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "workers' logs in .saga/demo"),
    ],
)
def test_the_demo_says_where_the_traces_go(env: dict[str, str], needle: str | None) -> None:
    hint = traces_hint(env, ".saga/demo")
    if needle is None:
        assert hint is None
    else:
        assert hint is not None
        assert needle in hint
        assert "one trace per order" in hint
