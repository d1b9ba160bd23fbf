"""Watching and trimming what grows: the outbox (its lag, the retention of published
rows, refused rows) and ended saga instances with their history.

Every function takes the caller's SQLAlchemy ``Connection`` (``engine.begin()``, or
``session.connection()``) and never commits: what it changes commits with the caller's
transaction. Deletions work in chunks; call again while a call returns ``chunk`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ARRAY, Connection, Text, bindparam, delete, func, select, text, update

from saga.postgres.tables import OUTBOX_CHANNEL, outbox_table

__all__ = [
    "Lag",
    "RefusedRow",
    "cleanup_outbox",
    "discard_refused_rows",
    "outbox_lag",
    "prune_ended",
    "refused_rows",
    "requeue_refused_rows",
]

_o = outbox_table.c


def prune_ended(
    conn: Connection,
    older_than: timedelta,
    *,
    statuses: Sequence[str] = ("completed", "compensated"),
    sagas: Sequence[str] = (),
    chunk: int = 1_000,
) -> int:
    """Delete up to ``chunk`` instances that ended with one of ``statuses`` more than
    ``older_than`` ago (their last change), with their history, deadlines and queued
    signals, in one statement; returns how many instances went."""
    sql = text(
        """
        WITH gone AS (
            DELETE FROM saga_instance
            WHERE (saga, instance_id) IN (
                SELECT saga, instance_id FROM saga_instance
                WHERE status = ANY(:statuses) AND updated_at < now() - :older_than
                  AND (cardinality(:sagas) = 0 OR saga = ANY(:sagas))
                LIMIT :chunk
            )
            RETURNING saga, instance_id
        ),
        history AS (
            DELETE FROM saga_history h USING gone g
            WHERE h.saga = g.saga AND h.instance_id = g.instance_id
        ),
        deadlines AS (
            DELETE FROM saga_deadline d USING gone g
            WHERE d.saga = g.saga AND d.instance_id = g.instance_id
        ),
        signals AS (
            DELETE FROM saga_signal s USING gone g
            WHERE s.saga = g.saga AND s.instance_id = g.instance_id
        )
        SELECT count(*) FROM gone
        """
    ).bindparams(
        bindparam("statuses", type_=ARRAY(Text)),
        bindparam("sagas", type_=ARRAY(Text)),
    )
    found = conn.execute(
        sql,
        {
            "statuses": list(statuses),
            "sagas": list(sagas),
            "older_than": older_than,
            "chunk": chunk,
        },
    ).scalar_one()
    return int(found)


@dataclass(frozen=True, slots=True)
class Lag:
    """How far behind the relay is."""

    backlog: int
    """Rows committed but not yet published (refused rows not counted)."""
    oldest_seconds: float
    """Age of the oldest such row; 0 when there is none."""
    refused: int
    """Rows that could not be published and wait for an operator."""


def outbox_lag(conn: Connection) -> Lag:
    """Backlog size, oldest unpublished row age and refused count of the outbox."""
    waiting = _o.refused_at.is_(None)
    row = conn.execute(
        select(
            func.count().filter(waiting),
            func.coalesce(
                func.extract("epoch", func.now() - func.min(_o.created_at).filter(waiting)), 0
            ),
            func.count().filter(_o.refused_at.is_not(None)),
        ).where(_o.published_at.is_(None))
    ).one()
    return Lag(backlog=int(row[0]), oldest_seconds=float(row[1]), refused=int(row[2]))


def cleanup_outbox(conn: Connection, older_than: timedelta, *, chunk: int = 10_000) -> int:
    """Delete up to ``chunk`` rows published more than ``older_than`` ago; never unpublished
    or refused ones. Returns how many went."""
    old = (
        select(_o.id)
        .where(_o.published_at.is_not(None), _o.published_at < func.now() - older_than)
        .order_by(_o.id)
        .limit(chunk)
    )
    return conn.execute(delete(outbox_table).where(_o.id.in_(old))).rowcount


@dataclass(frozen=True, slots=True)
class RefusedRow:
    """An outbox row Kafka refused for good, as an operator sees it (not its payload)."""

    id: int
    topic: str
    event_type: str
    event_id: str
    key_bytes: int
    value_bytes: int
    created_at: datetime
    refused_at: datetime
    error: str


def refused_rows(conn: Connection, *, limit: int = 100) -> list[RefusedRow]:
    """Rows Kafka refused, oldest first."""
    rows = conn.execute(
        select(
            _o.id,
            _o.topic,
            _o.event_type,
            _o.event_id,
            func.length(_o.key),
            func.length(_o.value),
            _o.created_at,
            _o.refused_at,
            func.coalesce(_o.error, ""),
        )
        .where(_o.refused_at.is_not(None))
        .order_by(_o.id)
        .limit(limit)
    ).all()
    return [RefusedRow(r[0], r[1], r[2], str(r[3]), *r[4:]) for r in rows]


def requeue_refused_rows(conn: Connection, ids: Sequence[int]) -> list[int]:
    """Mark refused rows pending again; returns the ids that were refused."""
    done = (
        conn.execute(
            update(outbox_table)
            .where(_o.id.in_(list(ids)), _o.refused_at.is_not(None))
            .values(refused_at=None, error=None)
            .returning(_o.id)
        )
        .scalars()
        .all()
    )
    if done:
        conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))  # relays wake at commit
    return sorted(done)


def discard_refused_rows(conn: Connection, ids: Sequence[int]) -> list[int]:
    """Delete refused rows for good (the rows of their keys waiting behind them flow again);
    returns the ids that were refused."""
    done = (
        conn.execute(
            delete(outbox_table)
            .where(_o.id.in_(list(ids)), _o.refused_at.is_not(None))
            .returning(_o.id)
        )
        .scalars()
        .all()
    )
    if done:
        conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
    return sorted(done)
