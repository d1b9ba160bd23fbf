"""The operator's functions on a real PostgreSQL: each changes only what it says, inside the
caller's transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from saga.errors import OperationRefused
from saga.operators.outbox import discard_refused, requeue_refused
from saga.postgres.audit import actions
from saga.postgres.inbox import cleanup_inbox
from saga.postgres.maintenance import cleanup_outbox, outbox_lag
from saga.postgres.tables import inbox_table
from tests.integration.outbox._support import KeyWriter, outbox_counts

pytestmark = pytest.mark.integration


def _age(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql))


def test_cleanup_outbox_deletes_old_published_rows_only_in_chunks(
    outbox_url: str, engine: Engine
) -> None:
    writer = KeyWriter(engine, "t")
    writer.write([f"k{i}" for i in range(10)])
    _age(engine, "UPDATE saga_outbox SET published_at = now() - interval '2 days' WHERE id <= 7")
    _age(engine, "UPDATE saga_outbox SET refused_at = now() - interval '2 days' WHERE id = 8")
    with engine.begin() as conn:
        assert cleanup_outbox(conn, timedelta(days=1), chunk=5) == 5
        assert cleanup_outbox(conn, timedelta(days=1), chunk=5) == 2
        assert cleanup_outbox(conn, timedelta(days=1), chunk=5) == 0
    assert outbox_counts(outbox_url) == (3, 0, 1)  # unpublished and refused rows stay


def test_refused_rows_are_requeued_or_discarded_recorded_and_lag_counts_them(
    outbox_url: str, engine: Engine
) -> None:
    writer = KeyWriter(engine, "t")
    writer.write(["a", "b", "c"])
    _age(engine, "UPDATE saga_outbox SET refused_at = now(), error = 'too big' WHERE id <= 2")
    with engine.begin() as conn:
        lag = outbox_lag(conn)
        assert (lag.backlog, lag.refused) == (1, 2)
    with (
        pytest.raises(OperationRefused, match="no refused outbox row with id 3"),
        engine.begin() as conn,
    ):
        requeue_refused(conn, [1, 3], by="ana", reason="limit raised")  # 3 was never refused
    with engine.begin() as conn:
        assert outbox_lag(conn).refused == 2, "a refused command changes nothing"
        assert actions(conn) == [], "nor is it recorded"
        assert requeue_refused(conn, [1], by="ana", reason="limit raised") == [1]
        assert discard_refused(conn, [2], by="bo", reason="obsolete") == [2]
    with engine.begin() as conn:
        lag = outbox_lag(conn)
        assert (lag.backlog, lag.refused) == (2, 0)
        done = [(a.action, a.target, a.by, a.reason) for a in actions(conn)]
    assert done == [
        ("outbox.discard", "2", "bo", "obsolete"),
        ("outbox.requeue", "1", "ana", "limit raised"),
    ]
    assert outbox_counts(outbox_url) == (2, 0, 0)


@pytest.mark.parametrize(
    ("by", "reason", "message"), [("", "x", "say who"), ("ana", " ", "say why")]
)
def test_who_and_why_are_required(engine: Engine, by: str, reason: str, message: str) -> None:
    with pytest.raises(OperationRefused, match=message), engine.begin() as conn:
        discard_refused(conn, [1], by=by, reason=reason)


def test_a_rolled_back_transaction_changes_nothing(outbox_url: str, engine: Engine) -> None:
    writer = KeyWriter(engine, "t")
    writer.write(["a"])
    _age(engine, "UPDATE saga_outbox SET refused_at = now()")
    with engine.connect() as conn:
        assert discard_refused(conn, [1], by="ana", reason="test") == [1]
        conn.rollback()  # the caller owns the transaction
    assert outbox_counts(outbox_url) == (1, 0, 1)


def test_cleanup_inbox_deletes_old_rows_of_one_group_or_all(
    outbox_url: str, engine: Engine
) -> None:
    rows = [
        {"consumer_group": group, "event_id": uuid.uuid4()}
        for group in ("a", "b")
        for _ in range(3)
    ]
    with engine.begin() as conn:
        conn.execute(insert(inbox_table), rows)
        conn.execute(text("UPDATE saga_inbox SET processed_at = now() - interval '8 days'"))
        conn.execute(insert(inbox_table), [{"consumer_group": "a", "event_id": uuid.uuid4()}])
    with engine.begin() as conn:
        assert cleanup_inbox(conn, timedelta(days=7), group="a", chunk=2) == 2
        assert cleanup_inbox(conn, timedelta(days=7), group="a") == 1
        assert cleanup_inbox(conn, timedelta(days=7)) == 3
        left = conn.execute(text("SELECT consumer_group FROM saga_inbox")).scalars().all()
    assert left == ["a"]  # the recent one
