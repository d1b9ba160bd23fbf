"""What ``saga sagas`` reads: instances, their history, counts, straight from PostgreSQL.

No user module is imported: what the commands know of a saga comes from the rows the
workers write (``saga_instance``, ``saga_history``) and the definitions they register
(``saga_definition``). Every statement takes its values as bound parameters; the optional
filters only choose among fixed fragments of SQL.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from saga.definition.model import COMPENSATING
from saga.engine.instance import HistoryEntry, Instance
from saga.errors import ConfigError, UnknownInstanceError
from saga.postgres import audit
from saga.postgres.maintenance import prune_ended

STATUSES = ("running", "compensating", "completed", "compensated", "failed")
_ACTIVE = ("running", "compensating")
_LIST_HINT = "`saga sagas list` shows them"


@dataclass(frozen=True, slots=True)
class ListFilter:
    """Which instances ``saga sagas list`` shows: every given criterion holds; a repeated
    option is any of its values."""

    sagas: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    older_than: timedelta | None = None
    """Created at least this long ago."""
    stuck: bool = False
    """Running or compensating past the deadline of its state, or longer than ``threshold``
    in its state."""
    threshold: timedelta | None = None
    limit: int = 100

    @classmethod
    def of(
        cls,
        *,
        sagas: Iterable[str] = (),
        states: Iterable[str] = (),
        statuses: Iterable[str] = (),
        older_than: timedelta | None = None,
        stuck: bool = False,
        threshold: timedelta | None = None,
        limit: int = 100,
    ) -> ListFilter:
        """A filter, checked: what cannot be one is one line."""
        wanted = tuple(statuses)
        for status in wanted:
            if status not in STATUSES:
                raise ConfigError(
                    f"--status {status!r} is not a status (statuses: {', '.join(STATUSES)})"
                )
        if threshold is not None and not stuck:
            raise ConfigError("--threshold says when an instance is stuck: give --stuck too")
        if limit < 1:
            raise ConfigError(f"--limit {limit}: give at least 1")
        return cls(
            sagas=tuple(sagas),
            states=tuple(states),
            statuses=wanted,
            older_than=older_than,
            stuck=stuck,
            threshold=threshold,
            limit=limit,
        )


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One instance as ``saga sagas list`` shows it."""

    saga: str
    instance_id: str
    state: str
    status: str
    version: int
    definition_version: int
    created_at: datetime
    updated_at: datetime
    state_since: datetime | None
    """When it entered its current state (from its history)."""
    deadline: datetime | None
    parked_reason: str | None
    now: datetime
    """The database's time when it was read: ages are measured from it."""

    @property
    def overdue(self) -> bool:
        return self.status in _ACTIVE and self.deadline is not None and self.deadline < self.now

    def to_json(self) -> dict[str, Any]:
        return {
            "saga": self.saga,
            "instance_id": self.instance_id,
            "state": self.state,
            "status": self.status,
            "version": self.version,
            "definition_version": self.definition_version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "state_since": None if self.state_since is None else self.state_since.isoformat(),
            "deadline": None if self.deadline is None else self.deadline.isoformat(),
            "overdue": self.overdue,
            "parked_reason": self.parked_reason,
        }


@dataclass(frozen=True, slots=True)
class Listing:
    rows: list[InstanceRow]
    total: int
    """How many matched (``rows`` holds the first ``--limit`` of them)."""


# When the instance entered its current state: the latest move into it (staying put does
# not count, so a retry or an ignored event does not restart the clock).
_STATE_SINCE = """
    LEFT JOIN LATERAL (
        SELECT max(h.at) AS at FROM saga_history h
        WHERE h.saga = i.saga AND h.instance_id = i.instance_id AND h.to_state = i.state
          AND h.from_state IS DISTINCT FROM h.to_state
    ) since ON true
"""
_DEADLINE = "(i.snapshot -> 'deadline' ->> 'due')::timestamptz"


def list_instances(conn: Connection, wanted: ListFilter) -> Listing:
    """The instances ``wanted`` selects, oldest first, at most ``wanted.limit``."""
    check_names(conn, wanted.sagas, wanted.states)
    where = ["true"]
    params: dict[str, Any] = {"limit": wanted.limit}
    if wanted.sagas:
        where.append("i.saga = ANY(:sagas)")
        params["sagas"] = list(wanted.sagas)
    if wanted.states:
        where.append("i.state = ANY(:states)")
        params["states"] = list(wanted.states)
    if wanted.statuses:
        where.append("i.status = ANY(:statuses)")
        params["statuses"] = list(wanted.statuses)
    if wanted.older_than is not None:
        where.append("i.created_at <= now() - :older_than")
        params["older_than"] = wanted.older_than
    if wanted.stuck:
        late = [f"{_DEADLINE} < now()"]
        if wanted.threshold is not None:
            late.append("coalesce(since.at, i.created_at) <= now() - :threshold")
            params["threshold"] = wanted.threshold
        where.append(f"i.status IN ('running', 'compensating') AND ({' OR '.join(late)})")
    statement = text(
        f"""
        SELECT i.saga, i.instance_id, i.state, i.status, i.version, i.definition_version,
               i.created_at, i.updated_at, since.at, {_DEADLINE}, i.parked_reason, now(),
               count(*) OVER ()
        FROM saga_instance i {_STATE_SINCE}
        WHERE {" AND ".join(where)}
        ORDER BY i.created_at, i.saga, i.instance_id
        LIMIT :limit
        """  # noqa: S608  (fixed fragments; every value is a bound parameter)
    )
    found = conn.execute(statement, params).all()
    rows = [InstanceRow(*r[:12]) for r in found]
    return Listing(rows, int(found[0][12]) if found else 0)


@dataclass(frozen=True, slots=True)
class Count:
    saga: str
    status: str
    state: str
    count: int
    overdue: int
    """Running or compensating past the deadline of their state."""

    def to_json(self) -> dict[str, Any]:
        return {
            "saga": self.saga,
            "status": self.status,
            "state": self.state,
            "count": self.count,
            "overdue": self.overdue,
        }


def count_instances(conn: Connection, sagas: Sequence[str] = ()) -> list[Count]:
    """How many instances each saga has in each status and state."""
    check_names(conn, sagas, ())
    only = "WHERE i.saga = ANY(:sagas)" if sagas else ""
    statement = text(
        f"""
        SELECT i.saga, i.status, i.state, count(*),
               count(*) FILTER (WHERE i.status IN ('running', 'compensating')
                                  AND {_DEADLINE} < now())
        FROM saga_instance i {only}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """  # noqa: S608  (fixed fragments; every value is a bound parameter)
    )
    return [Count(*r) for r in conn.execute(statement, {"sagas": list(sagas)}).all()]


@dataclass(frozen=True, slots=True)
class Waiting:
    """A signal or an operator's command sent to the instance that no worker applied yet."""

    kind: str
    name: str
    sent_at: datetime
    by: str | None
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "sent_at": self.sent_at.isoformat(),
            "by": self.by,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Shown:
    """Everything ``saga sagas show`` prints of one instance."""

    instance: Instance
    created_at: datetime
    updated_at: datetime
    now: datetime
    history: list[HistoryEntry]
    waiting: list[Waiting] = field(default_factory=list)
    orphans: int = 0
    """Orphan events kept for this instance (they wait for it to exist, or an operator)."""
    step_order: list[str] = field(default_factory=list)
    """The saga's steps in declaration order, as the workers registered them (the snapshot
    keeps no order)."""


def find_instance(conn: Connection, instance_id: str, saga: str | None) -> str:
    """The saga of instance ``instance_id`` (one line when none or several have it)."""
    statement = "SELECT saga FROM saga_instance WHERE instance_id = :id"
    params = {"id": instance_id}
    if saga is not None:
        check_names(conn, (saga,), ())
        statement += " AND saga = :saga"
        params["saga"] = saga
    found = sorted(str(s) for s in conn.execute(text(statement), params).scalars())
    if not found:
        of = f" of saga {saga}" if saga else ""
        raise UnknownInstanceError(
            f"no instance {instance_id!r}{of} in this database: {_LIST_HINT}"
        )
    if len(found) > 1:
        raise ConfigError(
            f"instance {instance_id!r} exists in sagas {', '.join(found)}: name one with --saga"
        )
    return found[0]


def show_instance(conn: Connection, saga: str, instance_id: str) -> Shown:
    key = {"saga": saga, "id": instance_id}
    row = conn.execute(
        text(
            "SELECT snapshot, created_at, updated_at, now() FROM saga_instance "
            "WHERE saga = :saga AND instance_id = :id"
        ),
        key,
    ).one()
    history = [
        HistoryEntry.from_json(raw)
        for raw in conn.execute(
            text(
                "SELECT entry FROM saga_history WHERE saga = :saga AND instance_id = :id "
                "ORDER BY seq"
            ),
            key,
        ).scalars()
    ]
    waiting = [
        Waiting(*r)
        for r in conn.execute(
            text(
                "SELECT kind, name, sent_at, sent_by, reason FROM saga_signal "
                "WHERE saga = :saga AND instance_id = :id ORDER BY sent_at"
            ),
            key,
        ).all()
    ]
    orphans = conn.execute(
        text("SELECT count(*) FROM saga_orphan_event WHERE consumer = :saga AND instance_id = :id"),
        key,
    ).scalar_one()
    instance = Instance.from_json(row[0])
    # States in declaration order (a list) and their steps (a jsonb object keeps no order).
    registered = conn.execute(
        text(
            "SELECT description -> 'states', description -> 'shape' -> 'states' "
            "FROM saga_definition WHERE saga = :saga AND version = :version"
        ),
        {"saga": saga, "version": instance.definition_version},
    ).first()
    states, steps = registered if registered is not None else ([], {})
    order = list(
        dict.fromkeys(step for state in states or () for step in (steps or {}).get(state, ()))
    )
    return Shown(instance, row[1], row[2], row[3], history, waiting, int(orphans), order)


def history_entry(
    conn: Connection, saga: str, instance_id: str, input_id: str
) -> HistoryEntry | None:
    """The entry an input made in an instance's history, once a worker applied it."""
    raw = conn.execute(
        text(
            "SELECT entry FROM saga_history WHERE saga = :saga AND instance_id = :id "
            "AND input_id = :input ORDER BY seq LIMIT 1"
        ),
        {"saga": saga, "id": instance_id, "input": input_id},
    ).scalar()
    return None if raw is None else HistoryEntry.from_json(raw)


def check_names(conn: Connection, sagas: Iterable[str], states: Iterable[str]) -> None:
    """Unknown saga or state names are one line (with the names this database knows)."""
    sagas, states = list(sagas), list(states)
    if not sagas and not states:
        return
    known = set(
        conn.execute(
            text("SELECT saga FROM saga_definition UNION SELECT DISTINCT saga FROM saga_instance")
        ).scalars()
    )
    for saga in sagas:
        if saga not in known:
            raise ConfigError(f"no saga named {saga!r} in this database{_suggest(saga, known)}")
    if not states:
        return
    rows = conn.execute(
        text(
            "SELECT description -> 'states' FROM saga_definition "
            "WHERE cardinality(CAST(:sagas AS text[])) = 0 OR saga = ANY(CAST(:sagas AS text[]))"
        ),
        {"sagas": sagas},
    ).scalars()
    declared = {COMPENSATING, *(s for listed in rows for s in listed or ())}
    if len(declared) == 1:
        return  # no worker registered these sagas: nothing to check the states against
    for state in states:
        if state not in declared:
            of = f" of saga {', '.join(sagas)}" if sagas else ""
            raise ConfigError(f"no state {state!r}{of}{_suggest(state, declared, 'states')}")


def _suggest(name: str, known: Iterable[str], what: str = "sagas") -> str:
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return f" ({what}: {shown or 'none'})"


# -- retention -------------------------------------------------------------------------------

PRUNABLE = ("completed", "compensated", "failed")


def prune_instances(
    engine: Engine,
    older_than: timedelta,
    *,
    by: str,
    reason: str,
    statuses: Sequence[str] = ("completed", "compensated"),
    sagas: Sequence[str] = (),
    chunk: int = 1_000,
) -> int:
    """Delete instances that ended more than ``older_than`` ago, with their history,
    deadlines and signals, ``chunk`` at a time (one transaction each, so a long prune
    holds no locks for long and a crash loses no more than the chunk under way); recorded
    with who and why. Returns how many went.

    Keep ``older_than`` well beyond the inbox horizon: an event that arrives for a pruned
    instance finds none (a start event would start it again)."""
    wrong = sorted(set(statuses) - set(PRUNABLE))
    if wrong or not statuses:
        raise ConfigError(
            f"--status {', '.join(wrong) or '(none)'}: only ended instances go: "
            f"{', '.join(PRUNABLE)}"
        )
    if older_than < timedelta(days=1):
        raise ConfigError(
            f"--older-than {older_than}: give at least 1d, well past the inbox horizon "
            "(an event arriving for a pruned instance would find none)"
        )
    with engine.begin() as conn:
        audit.record(
            conn,
            "sagas.prune",
            [",".join(sagas) or "*"],
            by=by,
            reason=reason,
            detail={"older_than_s": older_than.total_seconds(), "statuses": list(statuses)},
        )
    total = 0
    while True:
        with engine.begin() as conn:
            gone = prune_ended(conn, older_than, statuses=statuses, sagas=sagas, chunk=chunk)
        total += gone
        if gone < chunk:
            return total
