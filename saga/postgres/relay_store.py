"""The relay's SQL: lane leases, reading pending rows, marking them published or refused.

psycopg 3 directly (no ORM on the hot path); every function runs one statement on an
autocommit connection, so each is its own transaction and needs no cleanup after a crash.
Times come from the database clock, so relays on hosts with skewed clocks agree on leases.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import NamedTuple

import psycopg
from psycopg import sql

from saga.postgres.tables import (
    OUTBOX_LANES,
    outbox_identity_table,
    outbox_table,
    relay_lane_table,
    relay_member_table,
)


def _sql(text: str) -> sql.Composed:
    """A statement naming the tables as :mod:`saga.postgres.tables` defines them (the one place)."""
    return sql.SQL(text).format(
        outbox=sql.Identifier(outbox_table.name),
        lane=sql.Identifier(relay_lane_table.name),
        member=sql.Identifier(relay_member_table.name),
        identity=sql.Identifier(outbox_identity_table.name),
    )


class PendingRow(NamedTuple):
    """An outbox row waiting to be published (a tuple: thousands are built per round)."""

    id: int
    lane: int
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, str | bytes | None]]


# Rows of a key wait behind a refused row of the same key: publishing them would break the
# key's order. The anti-join is on a partial index that is empty in normal operation.
# ``skip`` leaves out the rows in flight by id, never by an id range: a row below them whose
# transaction commits late must come in this read, before any later row of its key.
# ``budget`` bounds the batch in bytes too: rows come while the bytes before them are under
# it (at least one row, whatever its size), so a backlog of large events is neither read
# into memory nor published in one Kafka transaction whole. octet_length does not detoast.
_READ = _sql("""
SELECT id, lane, topic, key, value, header_names, header_values FROM (
  SELECT o.id, o.lane, o.topic, o.key, o.value, o.header_names, o.header_values,
         sum(octet_length(o.key) + octet_length(o.value)) OVER (ORDER BY o.id)
           - octet_length(o.key) - octet_length(o.value) AS before
  FROM (
    SELECT o.* FROM {outbox} o
    WHERE o.published_at IS NULL AND o.refused_at IS NULL AND o.lane = ANY(%(lanes)s)
      AND o.id <> ALL(%(skip)s::bigint[])
      AND NOT EXISTS (
        SELECT 1 FROM {outbox} p
        WHERE p.refused_at IS NOT NULL AND p.lane = o.lane AND p.key = o.key AND p.id < o.id
      )
    ORDER BY o.id
    LIMIT %(limit)s
  ) o
) b
WHERE before < %(budget)s
ORDER BY id
""")


def read_in_id_order(conn: psycopg.Connection) -> None:
    """Make :func:`read_pending` walk the pending index in id order on this connection.

    Statistics are mostly taken while few rows are pending, so PostgreSQL estimates a
    backlog at a handful of rows and plans a bitmap scan and a sort: each read then fetches
    and sorts the whole backlog to return its first batch (measured, a 225k-row backlog:
    0.4-0.7 s per 5,000-row read, the sort spilling to disk; the relay ran at half speed).
    Walking the index stops after the batch, whatever the estimate. The connection serves
    only the relay's own small statements, which these settings do not make worse.
    """
    conn.execute("SET enable_bitmapscan = off; SET enable_seqscan = off")


def read_pending(
    conn: psycopg.Connection,
    lanes: list[int],
    limit: int,
    skip: list[int] | None = None,
    *,
    budget: int = 32 * 1024 * 1024,
) -> list[PendingRow]:
    """The first ``limit`` committed, unpublished, unrefused rows of ``lanes`` in id order,
    leaving out the ids in ``skip``, cut once their keys and values reach ``budget`` bytes.

    That is exactly what a read would return once the rows in ``skip`` are published, so a
    read taken while they are in flight keeps every key's order.
    """
    params = {"lanes": lanes, "limit": limit, "skip": _id_array(skip or []), "budget": budget}
    # Binary results: bytea arrays are decoded in C instead of parsed from hex text. Never
    # prepared: with the array as a constant, PostgreSQL hashes the NOT IN list instead of
    # comparing each row with every skipped id (a generic plan would).
    with conn.cursor(binary=True) as cursor:
        rows = cursor.execute(_READ, params, prepare=False).fetchall()
    return [
        PendingRow(row[0], row[1], row[2], row[3], row[4], list(zip(row[5], row[6], strict=True)))
        for row in rows
    ]


def mark_published(conn: psycopg.Connection, ids: list[int]) -> int:
    """Mark rows published (idempotent); returns how many changed."""
    if not ids:
        return 0
    cursor = conn.execute(
        _sql(
            "UPDATE {outbox} SET published_at = now() "
            "WHERE id = ANY(%s::bigint[]) AND published_at IS NULL"
        ),
        (_id_array(ids),),
    )
    return cursor.rowcount


def _id_array(ids: list[int]) -> str:
    """An array literal: psycopg's list adaptation looks at every element (2.5 ms per 5000)."""
    return "{" + ",".join(map(str, ids)) + "}"


def refuse(conn: psycopg.Connection, failures: dict[int, str]) -> None:
    """Mark rows Kafka refused for good (they can never be published), with the error."""
    if not failures:
        return
    ids = list(failures)
    errors = [failures[i] for i in ids]
    conn.execute(
        _sql(
            """
        UPDATE {outbox} o SET refused_at = now(), error = f.error
        FROM unnest(%s::bigint[], %s::text[]) AS f(id, error)
        WHERE o.id = f.id AND o.published_at IS NULL
        """
        ),
        (ids, errors),
    )


# -- lanes ---------------------------------------------------------------------------------


class OutboxIdentity(NamedTuple):
    identity: uuid.UUID
    relay_name: str  # the name its relays run under


def outbox_identity(conn: psycopg.Connection, relay_name: str) -> OutboxIdentity:
    """This outbox's identity (drawn by the migration; here too for ``create_tables``) and
    its relay name: ``relay_name`` when it is the first relay, else the first one's."""
    conn.execute(
        _sql("INSERT INTO {identity} (relay_name) VALUES (%s) ON CONFLICT DO NOTHING"),
        (relay_name,),
    )
    row = conn.execute(
        _sql(
            "UPDATE {identity} SET relay_name = coalesce(relay_name, %s) "
            "RETURNING identity, relay_name"
        ),
        (relay_name,),
    ).fetchone()
    assert row is not None  # the insert above made sure of the row
    return OutboxIdentity(uuid.UUID(str(row[0])), str(row[1]))


def ensure_lanes(conn: psycopg.Connection) -> None:
    conn.execute(
        _sql(
            "INSERT INTO {lane} (lane) SELECT generate_series(0, %s - 1) "
            "ON CONFLICT (lane) DO NOTHING"
        ),
        (OUTBOX_LANES,),
    )


def heartbeat(conn: psycopg.Connection, relay_id: str, ttl: timedelta) -> int:
    """Record this relay as alive; returns how many relays are alive (itself included)."""
    conn.execute(
        _sql(
            """
        INSERT INTO {member} (relay_id, heartbeat_until) VALUES (%s, now() + %s)
        ON CONFLICT (relay_id) DO UPDATE SET heartbeat_until = excluded.heartbeat_until
        """
        ),
        (relay_id, ttl),
    )
    row = conn.execute(
        _sql("SELECT count(*) FROM {member} WHERE heartbeat_until > now()")
    ).fetchone()
    return max(1, int(row[0])) if row else 1


def fair_share(alive: int) -> int:
    return math.ceil(OUTBOX_LANES / max(1, alive))


def renew(conn: psycopg.Connection, relay_id: str, ttl: timedelta) -> set[int]:
    """Extend this relay's leases; returns the lanes it still holds."""
    rows = conn.execute(
        _sql("UPDATE {lane} SET lease_until = now() + %s WHERE owner = %s RETURNING lane"),
        (ttl, relay_id),
    ).fetchall()
    return {int(r[0]) for r in rows}


def acquire(conn: psycopg.Connection, relay_id: str, ttl: timedelta, want: int) -> set[int]:
    """Take up to ``want`` lanes that nobody holds or whose lease expired."""
    if want <= 0:
        return set()
    rows = conn.execute(
        _sql(
            """
        UPDATE {lane} l
        SET owner = %(me)s, lease_until = now() + %(ttl)s, epoch = l.epoch + 1
        WHERE l.lane IN (
            SELECT lane FROM {lane}
            WHERE owner IS NULL OR lease_until < now()
            ORDER BY lane LIMIT %(want)s FOR UPDATE SKIP LOCKED
        )
        RETURNING l.lane
        """
        ),
        {"me": relay_id, "ttl": ttl, "want": want},
    ).fetchall()
    return {int(r[0]) for r in rows}


def release(conn: psycopg.Connection, relay_id: str, lanes: list[int]) -> None:
    conn.execute(
        _sql(
            "UPDATE {lane} SET owner = NULL, lease_until = NULL WHERE owner = %s AND lane = ANY(%s)"
        ),
        (relay_id, lanes),
    )


def leave(conn: psycopg.Connection, relay_id: str) -> None:
    conn.execute(
        _sql("UPDATE {lane} SET owner = NULL, lease_until = NULL WHERE owner = %s"),
        (relay_id,),
    )
    conn.execute(_sql("DELETE FROM {member} WHERE relay_id = %s"), (relay_id,))
    conn.execute(_sql("DELETE FROM {member} WHERE heartbeat_until < now() - interval '1 hour'"))
