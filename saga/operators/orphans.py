"""Orphan events: events for a saga instance that did not exist when they came, kept in
``saga_orphan_event`` (the saga's ``orphans="keep"`` policy). Listed, sent back to their
topic, or discarded by an operator (``saga orphans ...``).

An orphan event was claimed in its saga's inbox when it was kept, so a redelivery is
skipped. Sending it back therefore writes the record to the outbox for its topic, releases
that claim and removes the kept row, all in the caller's transaction: the worker then
handles the record as new (applied if its instance exists by now, kept again if not), and
the other consumers of the event, which handled it already, skip it. Discarding removes the
row and keeps the claim: the event is never applied. Functions take the caller's
``Session`` and never commit; both actions are recorded with who and why
(:mod:`saga.postgres.audit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from saga.postgres import audit, inbox
from saga.postgres.orphans import SHOWN, take_orphans
from saga.postgres.outbox import insert_rows, outbox_row
from saga.postgres.tables import orphan_event_table

__all__ = ["OrphanRecord", "discard_orphans", "list_orphans", "replay_orphans"]

_p = orphan_event_table.c


@dataclass(frozen=True, slots=True)
class OrphanRecord:
    """An orphan event as an operator sees it (the payload stays in the table)."""

    id: int
    saga: str
    instance_id: str
    event_id: UUID
    event_type: str
    topic: str
    reason: str
    kept_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "saga": self.saga,
            "instance_id": self.instance_id,
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "topic": self.topic,
            "reason": self.reason,
            "kept_at": self.kept_at.isoformat(),
        }


def list_orphans(
    session: Session,
    *,
    sagas: Sequence[str] = (),
    instance_id: str | None = None,
    limit: int = 100,
) -> list[OrphanRecord]:
    """Orphan events, oldest first, of some sagas (all: none given) or one instance."""
    statement = select(*SHOWN).order_by(_p.id).limit(limit)
    if sagas:
        statement = statement.where(_p.consumer.in_(list(sagas)))
    if instance_id is not None:
        statement = statement.where(_p.instance_id == instance_id)
    return [OrphanRecord(*row) for row in session.execute(statement).all()]


def replay_orphans(
    session: Session, ids: Sequence[int], *, by: str, reason: str
) -> list[OrphanRecord]:
    """Send orphan events back to their topics through the outbox (see the module
    docstring). An unknown id raises :class:`~saga.errors.OperationRefused`; roll back then."""
    audit.record(session.connection(), "orphans.replay", _targets(ids), by=by, reason=reason)
    rows = take_orphans(session, ids, payload=True)
    insert_rows(
        session,
        [
            outbox_row(
                topic=row.topic,
                key=row.key,
                value=row.value,
                headers=list(zip(row.header_names, row.header_values, strict=True)),
                event_id=row.event_id,
                event_type=row.event_type,
            )
            for row in rows
        ],
    )
    inbox.release(session.connection(), [(row.consumer, row.event_id) for row in rows])
    return [OrphanRecord(*(getattr(row, c.name) for c in SHOWN)) for row in rows]


def discard_orphans(
    session: Session, ids: Sequence[int], *, by: str, reason: str
) -> list[OrphanRecord]:
    """Delete orphan events for good; their inbox claims stay, so they are never applied."""
    audit.record(session.connection(), "orphans.discard", _targets(ids), by=by, reason=reason)
    return [OrphanRecord(*row) for row in take_orphans(session, ids)]


def _targets(ids: Sequence[int]) -> list[str]:
    return [str(i) for i in sorted(set(ids))]
