"""Pieces of the operators' tests: the ``saga`` executable run against a scene, its JSON
output, and orders that wait where a test wants them."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from sqlalchemy import text

from saga.engine.messages import Message
from saga.postgres.connect import engine_for
from saga.testing import eventually
from tests._saga_cli import run_saga
from tests.integration.worker._support import query
from tests.integration.worker.conftest import APP, Scene
from tests.sagas.shop import placed

#: A worker of the order saga alone: no service answers, so orders wait in checking_out.
ORDERS_ONLY = f"{APP}:OrderSaga"


def saga(scene: Scene, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """``saga ARGS`` as an operator runs it against the scene's database and broker."""
    env = {**scene.env(), "SAGA_STACK_DIR": str(scene.logs / "no-stack"), "COLUMNS": "120"}
    return run_saga(*args, env={**env, **settings})


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def json_lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ok(done).splitlines() if line.strip()]


def listed(scene: Scene, *args: str) -> list[tuple[str, str, str]]:
    """(instance, state, status) of ``saga sagas list --json ARGS``."""
    rows = json_lines(saga(scene, "sagas", "list", "--json", *args))
    return [(r["instance_id"], r["state"], r["status"]) for r in rows]


def shown(scene: Scene, instance_id: str, *args: str, **settings: str) -> dict[str, Any]:
    [found] = json_lines(saga(scene, "sagas", "show", instance_id, "--json", *args, **settings))
    return found


def state_of(scene: Scene, instance_id: str) -> tuple[object, ...] | None:
    rows = query(
        scene.url, f"SELECT state, status FROM saga_instance WHERE instance_id = '{instance_id}'"
    )
    return rows[0] if rows else None


def wait_for(scene: Scene, instance_id: str, state: str, status: str) -> None:
    eventually(
        lambda: state_of(scene, instance_id) == (state, status),
        timeout=60,
        interval=0.1,
        what=f"{instance_id} {state} ({status}), now {state_of(scene, instance_id)}",
    )


def dead_letters(scene: Scene) -> list[dict[str, Any]]:
    """The scene's dead letters (the broker holds other tests' dead-letter topics too)."""
    return json_lines(
        saga(scene, "dead-letters", "list", f"{scene.prefix}*.dead-letters", "--json")
    )


def wait_dead_lettered(scene: Scene, order_id: str) -> dict[str, Any]:
    """The dead letter of ``order_id``'s ShipOrder, once the relay published it."""

    def found() -> dict[str, Any] | None:
        return next((d for d in dead_letters(scene) if d["key"] == order_id), None)

    return eventually(found, timeout=60, interval=0.25, what=f"the dead letter of {order_id}")


def place_waiting(scene: Scene, *order_ids: str) -> None:
    """Orders that wait in checking_out: run with a worker of :data:`ORDERS_ONLY`."""
    for order_id in order_ids:
        scene.orders.publish(placed(order_id), order_id)
    scene.orders.flush()
    for order_id in order_ids:
        wait_for(scene, order_id, "checking_out", "running")


def publish(scene: Scene, message: Message) -> None:
    """A message with an envelope of the test's choosing (ids, trace)."""
    encoded = scene.orders.serializer.encode(message.event, message.envelope)
    scene.orders.producer.produce(
        scene.orders.topics.topic_for(message.event_type),
        key=encoded.key,
        value=encoded.value,
        headers=encoded.headers,
    )
    scene.orders.flush()


def repair(scene: Scene, order_id: str) -> None:
    """The shipping service's bug for ``order_id`` is fixed (see the test app)."""
    engine = engine_for(scene.url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO effect (kind, order_id, event_id) "
                    "VALUES ('repaired', :o, gen_random_uuid())"
                ),
                {"o": order_id},
            )
    finally:
        engine.dispose()


def effects(scene: Scene, kind: str, order_id: str) -> int:
    rows = query(
        scene.url,
        f"SELECT count(*) FROM effect WHERE kind = '{kind}' AND order_id = '{order_id}'",
    )
    return int(rows[0][0])  # type: ignore[call-overload]


def execute(scene: Scene, sql: str, **params: object) -> None:
    engine = engine_for(scene.url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()
