"""Outbox rows Kafka refused for good (``saga outbox refused|requeue|discard``).

A row Kafka refuses for good (over the topic's ``max.message.bytes``, say) is marked refused
with the error, and the later rows of its key wait behind it: per-key order is never
broken. An operator fixes the cause and requeues it, or discards it to let its key move on
without it. Both are recorded with who and why (:mod:`saga.postgres.audit`), in the caller's
transaction. Functions take the caller's ``Connection`` and never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from saga.errors import OperationRefused
from saga.postgres import audit
from saga.postgres.maintenance import (
    RefusedRow,
    discard_refused_rows,
    refused_rows,
    requeue_refused_rows,
)

__all__ = ["RefusedRow", "discard_refused", "list_refused", "requeue_refused"]


def list_refused(conn: Connection, *, limit: int = 100) -> list[RefusedRow]:
    """Rows Kafka refused, oldest first."""
    if limit < 1:
        raise OperationRefused(f"limit {limit}: give at least 1")
    return refused_rows(conn, limit=limit)


def requeue_refused(conn: Connection, ids: Sequence[int], *, by: str, reason: str) -> list[int]:
    """Give refused rows another try (after raising the limit that refused them, say); every
    id must name a refused row, or nothing is done."""
    return _act(conn, "outbox.requeue", requeue_refused_rows, ids, by, reason)


def discard_refused(conn: Connection, ids: Sequence[int], *, by: str, reason: str) -> list[int]:
    """Delete refused rows for good: their keys' later rows flow again without them; every
    id must name a refused row, or nothing is done."""
    return _act(conn, "outbox.discard", discard_refused_rows, ids, by, reason)


def _act(
    conn: Connection,
    action: str,
    apply: Callable[[Connection, Sequence[int]], list[int]],
    ids: Sequence[int],
    by: str,
    reason: str,
) -> list[int]:
    wanted = sorted(set(ids))
    if not wanted:
        raise OperationRefused("name at least one refused row (`saga outbox refused` lists them)")
    audit.record(conn, action, [str(i) for i in wanted], by=by, reason=reason)
    done = apply(conn, wanted)
    missing = sorted(set(wanted) - set(done))
    if missing:
        raise OperationRefused(
            f"no refused outbox row with id {', '.join(map(str, missing))}: `saga outbox "
            "refused` lists them (another operator may have acted on it); nothing was changed"
        )
    return done
