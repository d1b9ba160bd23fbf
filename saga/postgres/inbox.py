"""The inbox: which events each consumer has applied, so that each is applied once.

A consumer records ``(consumer group, event id)`` in ``saga_inbox`` in the same database
transaction as the event's effects. A duplicate delivery finds the row and is skipped
(``INSERT ... ON CONFLICT DO NOTHING RETURNING`` tells new from seen without an error), and
if the transaction rolls back, so does the claim. Every claim in the framework goes through
:func:`claim`; operators release one (:func:`release`) to have an event applied again.

Rows older than the consumers' retention are deleted with :func:`cleanup_inbox`. Keep the
retention longer than any consumer can stay down: an event redelivered after its row is
gone is applied again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
from sqlalchemy import Connection, delete, func, select, tuple_
from sqlalchemy.orm import Session

from saga.errors import ConfigError
from saga.postgres.tables import inbox_table

__all__ = ["Inbox", "claim", "cleanup_inbox", "driver_connection", "release"]

_i = inbox_table.c
_CLAIM = (
    f"INSERT INTO {inbox_table.name} (consumer_group, event_id) "
    "SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id"
)


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The session's own psycopg connection, inside the session's transaction."""
    connection: psycopg.Connection[Any] = session.connection().connection.driver_connection  # type: ignore[assignment]
    return connection


def claim(connection: psycopg.Connection[Any], group: str, event_ids: Sequence[str]) -> set[str]:
    """Record ``event_ids`` (UUIDs as text) as applied by ``group``; returns those not seen
    before. One statement, in the caller's transaction."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    rows = connection.execute(_CLAIM, (group, _uuid_array(ids))).fetchall()
    return {str(r[0]) for r in rows}


def release(connection: Connection, claims: Iterable[tuple[str, UUID]]) -> int:
    """Forget ``(group, event id)`` claims: the groups apply those events as new when they
    come again. Returns how many claims there were."""
    wanted = list(claims)
    if not wanted:
        return 0
    return connection.execute(
        delete(inbox_table).where(tuple_(_i.consumer_group, _i.event_id).in_(wanted))
    ).rowcount


class Inbox:
    """Tracks which events one consumer group has applied (see the module docstring)."""

    def __init__(self, group: str) -> None:
        if not group:
            raise ConfigError("Inbox needs the consumer group name it tracks")
        self.group = group

    def claim(self, session: Session, event_ids: Sequence[UUID]) -> set[UUID]:
        """Record ``event_ids`` as applied; returns those not seen before (one statement).

        Call it in the transaction that applies their effects: if that rolls back, so
        does the claim.
        """
        fresh = claim(driver_connection(session), self.group, [str(e) for e in event_ids])
        return {UUID(e) for e in fresh}

    def seen(self, session: Session, event_id: UUID) -> bool:
        """Whether this group already applied ``event_id``."""
        found = session.scalar(
            select(func.count())
            .select_from(inbox_table)
            .where(_i.consumer_group == self.group, _i.event_id == event_id)
        )
        return bool(found)


def cleanup_inbox(
    conn: Connection, older_than: timedelta, *, group: str | None = None, chunk: int = 10_000
) -> int:
    """Delete up to ``chunk`` inbox rows older than ``older_than`` (of one consumer group,
    or of all). Keep ``older_than`` longer than any consumer can stay down: an event
    redelivered after its row is gone is applied again."""
    old = select(_i.consumer_group, _i.event_id).where(_i.processed_at < func.now() - older_than)
    if group is not None:
        old = old.where(_i.consumer_group == group)
    statement = delete(inbox_table).where(
        tuple_(_i.consumer_group, _i.event_id).in_(old.limit(chunk))
    )
    return conn.execute(statement).rowcount


def _uuid_array(ids: Sequence[str]) -> str:
    """A uuid[] literal; each id is parsed first, so nothing but UUIDs reaches it."""
    return "{" + ",".join(str(UUID(i)) for i in ids) + "}"
