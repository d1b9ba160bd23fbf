"""Events parked for a saga instance that did not exist when they came (``saga_parked_event``):
listed, sent back to their topic, or discarded by an operator (``saga parked ...``).

A parked event was claimed in its saga's inbox when it was parked, so a redelivery is
skipped. Sending it back therefore writes the record to the outbox for its topic, releases
that claim and removes the parked row, all in the caller's transaction: the worker then
handles the record as new (applied if its instance exists by now, parked again if not), and
the other consumers of the event, which handled it already, skip it. Discarding removes the
row and keeps the claim: the event is never applied. Functions take the caller's
``Session`` and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from saga.errors import OperationRefused
from saga.postgres.outbox import insert_rows, outbox_row
from saga.postgres.tables import inbox_table, parked_event_table

__all__ = ["ParkedRecord", "discard_parked_events", "list_parked_events", "replay_parked_events"]

_p = parked_event_table.c
_SHOWN = (
    _p.id,
    _p.consumer,
    _p.instance_id,
    _p.event_id,
    _p.event_type,
    _p.topic,
    _p.reason,
    _p.parked_at,
)


@dataclass(frozen=True, slots=True)
class ParkedRecord:
    """A parked event as an operator sees it (the payload stays in the table)."""

    id: int
    saga: str
    instance_id: str
    event_id: UUID
    event_type: str
    topic: str
    reason: str
    parked_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "saga": self.saga,
            "instance_id": self.instance_id,
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "topic": self.topic,
            "reason": self.reason,
            "parked_at": self.parked_at.isoformat(),
        }


def list_parked_events(
    session: Session,
    *,
    sagas: Sequence[str] = (),
    instance_id: str | None = None,
    limit: int = 100,
) -> list[ParkedRecord]:
    """Parked events, oldest first, of some sagas (all: none given) or one instance."""
    statement = select(*_SHOWN).order_by(_p.id).limit(limit)
    if sagas:
        statement = statement.where(_p.consumer.in_(list(sagas)))
    if instance_id is not None:
        statement = statement.where(_p.instance_id == instance_id)
    return [ParkedRecord(*row) for row in session.execute(statement).all()]


def replay_parked_events(session: Session, ids: Sequence[int]) -> list[ParkedRecord]:
    """Send parked events back to their topics through the outbox (see the module
    docstring). An unknown id raises :class:`~saga.errors.OperationRefused`; roll back then."""
    rows = _take(session, ids, _p.key, _p.value, _p.header_names, _p.header_values)
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
    claims = [(row.consumer, row.event_id) for row in rows]
    session.execute(
        delete(inbox_table).where(
            tuple_(inbox_table.c.consumer_group, inbox_table.c.event_id).in_(claims)
        )
    )
    return [ParkedRecord(*(getattr(row, c.name) for c in _SHOWN)) for row in rows]


def discard_parked_events(session: Session, ids: Sequence[int]) -> list[ParkedRecord]:
    """Delete parked events for good; their inbox claims stay, so they are never applied."""
    return [ParkedRecord(*row) for row in _take(session, ids)]


def _take(session: Session, ids: Sequence[int], *more: Any) -> list[Any]:
    """Delete the rows ``ids`` and return them; all of them must exist. Deleting (not
    reading) takes each row once, also when two operators act at the same time."""
    wanted = sorted(set(ids))
    rows = session.execute(
        delete(parked_event_table).where(_p.id.in_(wanted)).returning(*_SHOWN, *more)
    ).all()
    missing = sorted(set(wanted) - {row.id for row in rows})
    if missing:
        raise OperationRefused(
            f"no parked event with id {', '.join(map(str, missing))}: `saga parked list` shows "
            "them (another operator or a worker may have taken it)"
        )
    return sorted(rows, key=lambda row: row.id)
