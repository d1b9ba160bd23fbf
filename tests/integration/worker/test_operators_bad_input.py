"""Bad input to the operators' commands, on a real database and broker: one ``error:`` line
naming the fix, exit 2, no traceback (click's usage message for a malformed command line).
The checks that need no stack: ``tests/unit/cli/test_operators_cli.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from saga.testing import eventually
from tests._saga_cli import assert_one_line_error, assert_usage_error, env_with_endpoints, run_saga
from tests.integration.worker import app
from tests.integration.worker._operators import saga
from tests.integration.worker._support import query
from tests.integration.worker.conftest import Scene

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(scene: Scene) -> Scene:
    """A completed order ``o0`` and a ticket of the same id: two sagas share an instance id."""
    worker = scene.start()
    scene.place(1)
    scene.orders.publish(app.TicketOpened(ticket_id="o0"), "o0")
    scene.orders.flush()
    eventually(
        lambda: (
            query(scene.url, "SELECT saga, status FROM saga_instance ORDER BY 1")
            == [("test.OrderSaga", "completed"), ("test.TicketSaga", "failed")]
        ),
        timeout=60,
        what="the order completed and the ticket expired",
    )
    assert scene.stop(worker) == 0
    return scene


BAD = [
    (("sagas", "list", "--saga", "test.OrderSag"), "no saga named 'test.OrderSag'", "did you mean"),
    (("sagas", "list", "--state", "chipping"), "no state 'chipping'", "did you mean 'shipping'"),
    (("sagas", "stats", "--saga", "nope"), "no saga named 'nope'", "sagas: test.OrderSaga"),
    (("sagas", "show", "o0"), "exists in sagas test.OrderSaga, test.TicketSaga", "--saga"),
    (("sagas", "show", "o9"), "no instance 'o9' in this database", "saga sagas list"),
    (("sagas", "show", "o0", "--saga", "test.Nope"), "no saga named 'test.Nope'"),
    (
        ("sagas", "retry", "o0", "--saga", "test.OrderSaga", "--reason", "r"),
        "cannot retry instance 'o0' of saga test.OrderSaga: it ended completed",
    ),
    (
        ("sagas", "resume", "o0", "--saga", "test.TicketSaga", "--reason", "r"),
        "it ended in expired with no state to go back to",
    ),
    (
        ("sagas", "compensate", "o0", "--saga", "test.OrderSaga", "--reason", " "),
        "needs who sends it and why",
    ),
    (("sagas", "retry", "o9", "--reason", "r"), "no instance 'o9'"),
    (
        ("sagas", "cancel", "o0", "--saga", "test.OrderSaga", "--reason", "r"),
        "is in state completed, which does not accept signal 'cancel'",
    ),
    (
        ("sagas", "cancel", "o0", "--saga", "test.OrderSaga", "--signal", "halt", "--reason", "r"),
        "declares no signal 'halt'",
    ),
    (("sagas", "retry", "o0", "--reason", "r", "--timeout", "0"), "--timeout 0"),
    (("orphans", "replay", "999", "--reason", "r"), "no orphan event with id 999"),
    (("orphans", "discard", "998", "999", "--reason", "r"), "no orphan event with id 998, 999"),
    (("orphans", "discard", "1", "--reason", " "), "say why"),
    (("orphans", "list", "--saga", "test.Nope"), "no saga named 'test.Nope'"),
    (("outbox", "requeue", "999", "--reason", "r"), "no refused outbox row with id 999"),
    (("outbox", "discard", "999", "--reason", "r", "--by", " "), "say who"),
    (("dead-letters", "list", "no-such-topic"), "topic 'no-such-topic' does not exist"),
    (
        ("dead-letters", "replay", "shop.dead[0]", "--reason", "r"),
        "is not a position",
        "TOPIC[PARTITION]@OFFSET",
    ),
]


def test_bad_input_is_one_line(shop: Scene) -> None:
    for args, *needles in BAD:  # one scene for all: each case is one command
        done = saga(shop, *args)
        try:
            assert_one_line_error(done, *needles)
        except AssertionError as exc:
            raise AssertionError(f"saga {' '.join(args)}: {exc}") from None


def test_positions_that_hold_no_dead_letter_are_one_line(shop: Scene) -> None:
    dead = f"{shop.prefix}shop.dead-letters"
    assert_one_line_error(
        saga(shop, "dead-letters", "replay", f"{dead}[0]@5", "--reason", "r"), "no record at"
    )
    assert_one_line_error(
        saga(shop, "dead-letters", "replay", f"{dead}[9]@0", "--reason", "r"),
        "there is no partition 9",
    )
    orders = f"{shop.prefix}test.shop"  # the order placed is at offset 0 of some partition
    found = [
        saga(shop, "dead-letters", "replay", f"{orders}[{p}]@0", "--reason", "r").stderr
        for p in range(3)
    ]
    assert any("is not a dead letter: it has no readable dead-letter-source" in e for e in found)


def test_a_missing_reason_is_a_usage_error(shop: Scene) -> None:
    assert_usage_error(saga(shop, "sagas", "retry", "o0"), "Missing option '--reason'")
    assert_usage_error(saga(shop, "orphans", "replay", "one", "--reason", "r"), "valid integer")
    assert_usage_error(saga(shop, "orphans", "discard", "1"), "Missing option '--reason'")
    assert_usage_error(saga(shop, "outbox", "requeue", "1"), "Missing option '--reason'")
    assert_usage_error(saga(shop, "dead-letters", "replay", "t[0]@1"), "Missing option '--reason'")


def test_a_database_without_the_tables_is_one_line(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = env_with_endpoints(tmp_path / "stack", fresh_database_url, kafka_bootstrap)
    for args in (("sagas", "list"), ("sagas", "stats"), ("orphans", "list"), ("outbox", "refused")):
        assert_one_line_error(run_saga(*args, env=env), "tables are missing", "saga db upgrade")
