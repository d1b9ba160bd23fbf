"""Operating the outbox and inbox: lag, retention, parked rows.

Every function takes the caller's SQLAlchemy ``Connection`` (``engine.begin()``, or
``session.connection()``) and never commits: what it changes commits with the caller's
transaction. Deletions work in chunks; call again while a call returns ``chunk`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, delete, func, select, text, update

from saga.postgres.tables import OUTBOX_CHANNEL, outbox_table

__all__ = [
    "Lag",
    "cleanup_outbox",
    "discard_parked",
    "outbox_lag",
    "requeue_parked",
]

_o = outbox_table.c


@dataclass(frozen=True, slots=True)
class Lag:
    """How far behind the relay is."""

    backlog: int
    """Rows committed but not yet published (parked rows not counted)."""
    oldest_seconds: float
    """Age of the oldest such row; 0 when there is none."""
    parked: int
    """Rows that could not be published and wait for an operator."""


def outbox_lag(conn: Connection) -> Lag:
    """Backlog size, oldest unpublished row age and parked count of the outbox."""
    waiting = _o.parked_at.is_(None)
    row = conn.execute(
        select(
            func.count().filter(waiting),
            func.coalesce(
                func.extract("epoch", func.now() - func.min(_o.created_at).filter(waiting)), 0
            ),
            func.count().filter(_o.parked_at.is_not(None)),
        ).where(_o.published_at.is_(None))
    ).one()
    return Lag(backlog=int(row[0]), oldest_seconds=float(row[1]), parked=int(row[2]))


def cleanup_outbox(conn: Connection, older_than: timedelta, *, chunk: int = 10_000) -> int:
    """Delete up to ``chunk`` rows published more than ``older_than`` ago; never unpublished
    or parked ones. Returns how many went."""
    old = (
        select(_o.id)
        .where(_o.published_at.is_not(None), _o.published_at < func.now() - older_than)
        .order_by(_o.id)
        .limit(chunk)
    )
    return conn.execute(delete(outbox_table).where(_o.id.in_(old))).rowcount


def requeue_parked(conn: Connection, ids: Sequence[int]) -> int:
    """Give parked rows another try (e.g. after raising the broker's size limit)."""
    done = conn.execute(
        update(outbox_table)
        .where(_o.id.in_(list(ids)), _o.parked_at.is_not(None))
        .values(parked_at=None, error=None)
    ).rowcount
    if done:
        conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))  # relays wake at commit
    return done


def discard_parked(conn: Connection, ids: Sequence[int]) -> int:
    """Delete parked rows for good; the rows of their keys waiting behind them flow again."""
    done = conn.execute(
        delete(outbox_table).where(_o.id.in_(list(ids)), _o.parked_at.is_not(None))
    ).rowcount
    if done:
        conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
    return done
