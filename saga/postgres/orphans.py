"""Orphan events taken out of ``saga_orphan_event`` by operators (the store keeps and takes
them for workers: :mod:`saga.postgres.store`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from saga.errors import OperationRefused
from saga.postgres.tables import orphan_event_table

__all__ = ["SHOWN", "take_orphans"]

_p = orphan_event_table.c
#: The columns an operator sees of an orphan event (not its payload).
SHOWN = (
    _p.id,
    _p.consumer,
    _p.instance_id,
    _p.event_id,
    _p.event_type,
    _p.topic,
    _p.reason,
    _p.kept_at,
)
_PAYLOAD = (_p.key, _p.value, _p.header_names, _p.header_values)


def take_orphans(session: Session, ids: Sequence[int], *, payload: bool = False) -> list[Any]:
    """Delete the rows ``ids`` and return them (with the record's bytes when ``payload``); all
    of them must exist. Deleting, not reading, takes each row once, also when two operators
    act at the same time."""
    wanted = sorted(set(ids))
    columns = (*SHOWN, *_PAYLOAD) if payload else SHOWN
    rows = session.execute(
        delete(orphan_event_table).where(_p.id.in_(wanted)).returning(*columns)
    ).all()
    missing = sorted(set(wanted) - {row.id for row in rows})
    if missing:
        raise OperationRefused(
            f"no orphan event with id {', '.join(map(str, missing))}: `saga orphans list` shows "
            "them (another operator or a worker may have taken it)"
        )
    return sorted(rows, key=lambda row: row.id)
