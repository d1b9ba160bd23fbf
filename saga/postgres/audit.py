"""What operators did outside a saga's history (``saga_operator_action``): the one writer.

An operator's command to a saga instance lands in the instance's history. Everything else an
operator does — an orphan event sent back or discarded, a dead letter sent back, a refused
outbox row requeued or discarded — is recorded here, in the transaction that does it: who,
what, on what, and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from saga.errors import OperationRefused
from saga.postgres.tables import operator_action_table

__all__ = ["Action", "actions", "record"]

_a = operator_action_table.c


@dataclass(frozen=True, slots=True)
class Action:
    """One recorded operator action."""

    id: int
    at: datetime
    action: str
    target: str
    by: str
    reason: str
    detail: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "action": self.action,
            "target": self.target,
            "by": self.by,
            "reason": self.reason,
            "detail": dict(self.detail),
        }


def record(
    conn: Connection,
    action: str,
    targets: Sequence[str],
    *,
    by: str,
    reason: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record ``action`` on each of ``targets`` in the caller's transaction; ``by`` and
    ``reason`` are required (one line naming the fix when either is blank)."""
    if not by.strip():
        raise OperationRefused("say who you are: give by (--by NAME)")
    if not reason.strip():
        raise OperationRefused("say why: give a reason (--reason TEXT); it is recorded")
    if not targets:
        return
    conn.execute(
        insert(operator_action_table),
        [
            {
                "action": action,
                "target": target,
                "by": by,
                "reason": reason,
                "detail": dict(detail or {}),
            }
            for target in targets
        ],
    )


def actions(conn: Connection, *, limit: int = 100, action: str | None = None) -> list[Action]:
    """The latest recorded actions, newest first (of one kind, when ``action`` is given)."""
    statement = select(_a.id, _a.at, _a.action, _a.target, _a.by, _a.reason, _a.detail).order_by(
        _a.id.desc()
    )
    if action is not None:
        statement = statement.where(_a.action == action)
    return [Action(*row) for row in conn.execute(statement.limit(limit)).all()]
