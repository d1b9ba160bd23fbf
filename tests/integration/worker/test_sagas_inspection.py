"""``saga sagas list|show|stats`` on the real stack: every kind of instance found by its
filters, stuck ones among them, one instance's whole history with event and trace ids, and
sensitive data masked; all read straight from PostgreSQL by the installed executable."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from saga.engine.messages import Message
from saga.testing import eventually
from tests.integration.worker import app
from tests.integration.worker._operators import (
    ORDERS_ONLY,
    execute,
    json_lines,
    listed,
    ok,
    place_waiting,
    publish,
    saga,
    shown,
    wait_dead_lettered,
    wait_for,
)
from tests.integration.worker.conftest import Scene
from tests.sagas.shop import placed

pytestmark = pytest.mark.integration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_list_and_stats_find_every_kind_of_instance_and_the_stuck_ones(scene: Scene) -> None:
    worker = scene.start()
    scene.place(5)  # o0..o4; o3-fragile cannot ship: compensated
    scene.orders.publish(placed("o5-flaky"), "o5-flaky")  # shipping raises: waits in shipping
    scene.orders.publish(app.TicketOpened(ticket_id="t-1"), "t-1")  # expires after 1 s
    scene.orders.flush()
    for order in ("o0", "o1", "o2", "o4"):
        wait_for(scene, order, "completed", "completed")
    wait_for(scene, "o3-fragile", "compensated", "compensated")
    wait_for(scene, "t-1", "expired", "failed")
    wait_dead_lettered(scene, "o5-flaky")

    everyone = listed(scene)
    assert len(everyone) == 7
    assert ("o5-flaky", "shipping", "running") in everyone
    assert listed(scene, "--status", "failed") == [("t-1", "expired", "failed")]
    assert listed(scene, "--saga", "test.TicketSaga") == [("t-1", "expired", "failed")]
    assert listed(scene, "--state", "shipping") == [("o5-flaky", "shipping", "running")]
    assert len(listed(scene, "--status", "completed", "--status", "compensated")) == 5
    assert len(json_lines(saga(scene, "sagas", "list", "--json", "--limit", "2"))) == 2
    assert listed(scene, "--older-than", "1h") == []
    eventually(lambda: len(listed(scene, "--older-than", "1s")) == 7, what="a second old")
    # No deadline passed: stuck only for a threshold, once it has waited that long.
    assert listed(scene, "--stuck") == []
    eventually(
        lambda: (
            listed(scene, "--stuck", "--threshold", "2s") == [("o5-flaky", "shipping", "running")]
        ),
        timeout=30,
        what="o5-flaky stuck for 2 s",
    )
    table = ok(saga(scene, "sagas", "list", "--status", "failed"))
    assert "t-1" in table
    assert "moved to expired by deadline:waiting" in table
    assert "1 instance" in table

    counts = json_lines(saga(scene, "sagas", "stats", "--json"))
    assert {(c["saga"], c["status"], c["state"], c["count"]) for c in counts} == {
        ("test.OrderSaga", "completed", "completed", 4),
        ("test.OrderSaga", "compensated", "compensated", 1),
        ("test.OrderSaga", "running", "shipping", 1),
        ("test.TicketSaga", "failed", "expired", 1),
    }
    assert scene.stop(worker) == 0

    # A deadline that passed with no worker to fire it: stuck without a threshold.
    orders_only = scene.start(ORDERS_ONLY, name="orders")
    place_waiting(scene, "o-late")
    assert scene.stop(orders_only) == 0
    execute(
        scene,
        "UPDATE saga_instance SET snapshot = jsonb_set(snapshot, '{deadline,due}', "
        "to_jsonb(now() - interval '1 minute')) WHERE instance_id = 'o-late'",
    )
    [late] = json_lines(saga(scene, "sagas", "list", "--json", "--stuck"))
    assert (late["instance_id"], late["state"], late["overdue"]) == ("o-late", "checking_out", True)
    assert "overdue 1m" in ok(saga(scene, "sagas", "list", "--stuck"))
    stats = json_lines(saga(scene, "sagas", "stats", "--json", "--saga", "test.OrderSaga"))
    assert [(c["state"], c["overdue"]) for c in stats if c["overdue"]] == [("checking_out", 1)]


def test_show_prints_the_whole_history_with_event_and_trace_ids(
    scene: Scene, tmp_path: Path
) -> None:
    worker = scene.start()
    event_id = str(uuid.uuid4())
    message = Message.new(
        placed("o-traced"),
        event_id=event_id,
        correlation_id="o-traced",
        producer="test",
        traceparent=f"00-{TRACE}-00f067aa0ba902b7-01",
    )
    publish(scene, message)
    wait_for(scene, "o-traced", "completed", "completed")

    found = shown(scene, "o-traced")
    assert (found["saga"], found["status"], found["version"]) == ("test.OrderSaga", "completed", 5)
    history = found["history"]
    triggers = [e["trigger"].rsplit(".", 1)[-1] for e in history]
    assert triggers[0] == "OrderPlaced"
    assert sorted(triggers[1:3]) == ["PaymentAuthorized", "StockReserved"]  # either order
    assert triggers[3:] == ["OrderShipped", "PaymentCaptured"]
    assert history[0]["input_id"] == event_id
    assert {e["trace_id"] for e in history} == {TRACE}  # every answer continues the trace
    emitted = [event for e in history for _, event in e["emitted"]]
    assert len(emitted) == 4  # reserve, authorize, ship, capture

    view = ok(saga(scene, "sagas", "show", "o-traced"))
    assert f"trace    {TRACE}" in view
    assert f"input    {event_id}" in view
    for event in emitted:
        assert event in view  # ids are never cut
    assert '"sku": "book"' in view
    assert scene.stop(worker) == 0

    # Marked sensitive in a contract (the data copies the field by name), or named: masked.
    marked = tmp_path / "marked"
    for path in scene.contracts.rglob("*.avsc"):
        target = marked / path.relative_to(scene.contracts)
        target.parent.mkdir(parents=True, exist_ok=True)
        schema = json.loads(path.read_text())
        for field in schema["fields"]:
            if path.name == "OrderPlaced.v1.avsc" and field["name"] == "sku":
                field["sensitive"] = True
        target.write_text(json.dumps(schema))
    masked = shown(scene, "o-traced", "--redact", "amount_cents", SAGA_SCHEMA_DIR=str(marked))
    assert (masked["data"]["sku"], masked["data"]["amount_cents"]) == ("***", "***")
    assert masked["data"]["order_id"] == "o-traced"
    view = ok(saga(scene, "sagas", "show", "o-traced", SAGA_SCHEMA_DIR=str(marked)))
    assert "book" not in view
    assert '"sku": "***"' in view
