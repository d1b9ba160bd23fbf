"""The durable shape of a running saga: its snapshot, its pending deadline and its history.

Everything here is plain data that round-trips through JSON (``to_json``/``from_json``), so
the in-memory store and the PostgreSQL store keep exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from saga.definition.model import COMPENSATING

StepStatus = Literal["requested", "succeeded", "failed", "compensated"]
Status = Literal["running", "compensating", "completed", "compensated", "failed"]
__all__ = [
    "COMPENSATING",
    "TERMINAL",
    "Deadline",
    "HistoryEntry",
    "Instance",
    "Status",
    "StepRun",
    "StepStatus",
]

TERMINAL: frozenset[Status] = frozenset({"completed", "compensated", "failed"})


@dataclass(frozen=True, slots=True)
class StepRun:
    """Progress of one step of one instance."""

    status: StepStatus
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Deadline:
    """A timeout set when an instance entered ``state``; fires once unless cancelled."""

    saga: str
    instance_id: str
    deadline_id: str
    due: datetime
    state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "saga": self.saga,
            "instance_id": self.instance_id,
            "deadline_id": self.deadline_id,
            "due": self.due.isoformat(),
            "state": self.state,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Deadline:
        return cls(
            raw["saga"],
            raw["instance_id"],
            raw["deadline_id"],
            datetime.fromisoformat(raw["due"]),
            raw["state"],
        )


@dataclass(frozen=True, slots=True)
class Instance:
    """A snapshot of one saga instance, saved with an optimistic ``version``."""

    saga: str
    instance_id: str
    state: str
    status: Status
    data: Mapping[str, Any]
    steps: Mapping[str, StepRun] = field(default_factory=dict)
    # Succeeded steps in completion order: compensation walks it backwards.
    completed: tuple[str, ...] = ()
    deadline: Deadline | None = None
    version: int = 0
    # Why compensation started; kept so that late answers are still compensated.
    failure: str | None = None
    parked_reason: str | None = None
    definition_version: int = 1
    # The state the engine parked the instance from (None: not parked, or parked before it
    # entered one): where ``saga sagas resume`` sends it back.
    parked_from: str | None = None

    @property
    def finished(self) -> bool:
        """True once the instance reached completed, compensated or failed (parked)."""
        return self.status in TERMINAL

    def with_version(self, version: int) -> Instance:
        return replace(self, version=version)

    def to_json(self) -> dict[str, Any]:
        return {
            "saga": self.saga,
            "instance_id": self.instance_id,
            "state": self.state,
            "status": self.status,
            "data": dict(self.data),
            "steps": {k: [v.status, v.attempts] for k, v in self.steps.items()},
            "completed": list(self.completed),
            "deadline": None if self.deadline is None else self.deadline.to_json(),
            "version": self.version,
            "failure": self.failure,
            "parked_reason": self.parked_reason,
            "definition_version": self.definition_version,
            # Only when set: snapshots of instances that never parked stay as they were.
            **({"parked_from": self.parked_from} if self.parked_from is not None else {}),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Instance:
        deadline = raw["deadline"]
        return cls(
            saga=raw["saga"],
            instance_id=raw["instance_id"],
            state=raw["state"],
            status=raw["status"],
            data=raw["data"],
            steps={k: StepRun(v[0], v[1]) for k, v in raw["steps"].items()},
            completed=tuple(raw["completed"]),
            deadline=None if deadline is None else Deadline.from_json(deadline),
            version=raw["version"],
            failure=raw["failure"],
            parked_reason=raw["parked_reason"],
            definition_version=raw["definition_version"],
            parked_from=raw.get("parked_from"),
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One input handled by one instance: what it was, where it moved, what it emitted."""

    seq: int
    at: datetime
    trigger: str
    input_id: str
    from_state: str | None
    to_state: str
    emitted: tuple[tuple[str, str], ...] = ()  # (event type, event id)
    compensated: tuple[str, ...] = ()  # steps whose compensation was emitted
    note: str = ""
    trace_id: str | None = None  # of the input's trace, when it carried one
    by: str | None = None  # the operator who sent the input (an operation, a signal)
    reason: str | None = None  # why, in the operator's words

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "trigger": self.trigger,
            "input_id": self.input_id,
            "from": self.from_state,
            "to": self.to_state,
            "emitted": [list(e) for e in self.emitted],
            "compensated": list(self.compensated),
            "note": self.note,
            **({"trace_id": self.trace_id} if self.trace_id else {}),
            # Omitted when empty: recorded histories keep replaying to the same JSON.
            **({"by": self.by} if self.by is not None else {}),
            **({"reason": self.reason} if self.reason is not None else {}),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            seq=raw["seq"],
            at=datetime.fromisoformat(raw["at"]),
            trigger=raw["trigger"],
            input_id=raw["input_id"],
            from_state=raw["from"],
            to_state=raw["to"],
            emitted=tuple((e[0], e[1]) for e in raw["emitted"]),
            compensated=tuple(raw["compensated"]),
            note=raw["note"],
            trace_id=raw.get("trace_id"),
            by=raw.get("by"),
            reason=raw.get("reason"),
        )
