"""A rolling upgrade from version 1 to version 2 of a saga with instances in flight.

Workers of one group host version 1, then version 1 and 2 (instances started on 1 finish on
1, new ones start on 2), then version 2 alone (an instance of version 1 is parked with the
reason, not crashed on).
"""

from __future__ import annotations

import pytest

from saga.testing import eventually
from tests.integration.worker._support import query
from tests.integration.worker.conftest import APP, Scene
from tests.sagas.shop import placed

pytestmark = pytest.mark.integration

V1 = (f"{APP}:OrderSaga", f"{APP}:inventory", f"{APP}:payments")
V1_AND_V2 = ("tests.integration.worker.app_v2",)
V2_ONLY = (
    "tests.integration.worker.app_v2:OrderSagaV2",
    f"{APP}:inventory",
    f"{APP}:payments",
)


def states(scene: Scene) -> list[tuple[object, ...]]:
    """(version, state, count) of the order sagas."""
    return query(
        scene.url,
        "SELECT definition_version, state, count(*) FROM saga_instance "
        "WHERE saga = 'test.OrderSaga' GROUP BY 1, 2 ORDER BY 1, 2",
    )


def place(scene: Scene, *order_ids: str) -> None:
    for order_id in order_ids:
        scene.orders.publish(placed(order_id), order_id)
    scene.orders.flush()


def test_a_rolling_upgrade_keeps_instances_on_their_version(scene: Scene) -> None:
    # No shipping service yet: every order waits in `shipping`, in flight.
    old = scene.start(*V1, name="orders")
    place(scene, *(f"v1-{i}" for i in range(10)))
    eventually(lambda: states(scene) == [(1, "shipping", 10)], timeout=60, what="v1 in flight")
    assert scene.stop(old) == 0

    both = scene.start(*V1_AND_V2, name="orders")
    place(scene, *(f"v2-{i}" for i in range(10)))
    eventually(
        lambda: states(scene) == [(1, "shipping", 10), (2, "shipping", 10)],
        timeout=60,
        what="new orders on version 2",
    )
    shipping = scene.start(f"{APP}:shipping", name="shipping")
    eventually(
        lambda: states(scene) == [(1, "completed", 10), (2, "completed", 10)],
        timeout=60,
        what="both versions completed",
    )
    captured = query(scene.url, "SELECT order_id FROM effect WHERE kind = 'capture'")
    assert sorted(str(r[0]) for r in captured) == sorted(f"v1-{i}" for i in range(10))

    # Version 1 retired too early: its instance in flight is parked with the reason.
    assert scene.stop(both) == 0
    assert scene.stop(shipping) == 0
    old = scene.start(*V1, name="orders")
    place(scene, "late-v1")
    eventually(
        lambda: (1, "shipping", 1) in states(scene), timeout=60, what="a v1 instance in flight"
    )
    assert scene.stop(old) == 0
    new = scene.start(*V2_ONLY, name="orders")
    shipping = scene.start(f"{APP}:shipping", name="shipping")
    eventually(
        lambda: (
            query(scene.url, "SELECT status FROM saga_instance WHERE instance_id = 'late-v1'")
            == [("failed",)]
        ),
        timeout=60,
        what="the unhosted version parked",
    )
    [(reason,)] = query(
        scene.url, "SELECT parked_reason FROM saga_instance WHERE instance_id = 'late-v1'"
    )
    assert "version 1 of saga test.OrderSaga is not hosted here (hosted: 2)" in str(reason)
    for worker in (new, shipping):
        assert scene.stop(worker) == 0
