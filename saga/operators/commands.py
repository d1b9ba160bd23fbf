"""Operators' commands to one saga instance, and their outcome.

:func:`request` queues ``retry``, ``compensate`` or ``resume``, :func:`signal` sends one of
the saga's signals (``cancel``, say): each is checked when queued (an operator hears at once
why it cannot apply), then a worker hosting the saga applies it through the processing path,
once, in order with the instance's other inputs, and the instance's history keeps who sent
it and why. :func:`wait` polls that history for the outcome::

    sent = request(engine, "o-17", "retry", by="ana", reason="card provider back")
    outcome = wait(engine, sent, timeout=60)
    if outcome.status != "applied": ...

``saga sagas retry|compensate|resume|cancel`` and ``saga signal`` are these functions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from saga.engine.instance import HistoryEntry
from saga.engine.messages import Operation
from saga.errors import OperationRefused
from saga.operators.sagas import find_instance, history_entry
from saga.postgres.signals import queue_operation, send_signal

__all__ = ["Outcome", "Sent", "outcome", "request", "signal", "wait"]

Status = Literal["pending", "applied", "ignored", "parked"]


@dataclass(frozen=True, slots=True)
class Sent:
    """A queued command: what it is (``what``, for people) and the id its history entry
    will carry."""

    saga: str
    instance_id: str
    command_id: str
    what: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a :class:`Sent` command: its history entry once a worker applied it."""

    sent: Sent
    entry: HistoryEntry | None

    @property
    def status(self) -> Status:
        """``pending`` (no worker applied it yet), ``ignored`` (the worker recorded that the
        instance could not take it any more), ``parked`` (applied, and the instance parked
        on the way) or ``applied``."""
        entry = self.entry
        if entry is None:
            return "pending"
        if entry.note.startswith("ignored:"):
            return "ignored"
        if "parked:" in entry.note:
            return "parked"
        return "applied"

    @property
    def summary(self) -> str:
        """``from → to (history #n); emitted …; note``, or what is still awaited."""
        entry = self.entry
        if entry is None:
            return (
                f"queued (id {self.sent.command_id}); a worker hosting {self.sent.saga} applies it"
            )
        parts = [f"{entry.from_state} → {entry.to_state} (history #{entry.seq})"]
        if entry.emitted:
            parts.append("emitted " + ", ".join(k.rsplit(".", 1)[-1] for k, _ in entry.emitted))
        if entry.note:
            parts.append(entry.note)
        return "; ".join(parts)


def request(
    engine: Engine,
    instance_id: str,
    operation: Operation,
    *,
    by: str,
    reason: str,
    saga: str | None = None,
    step: str | None = None,
) -> Sent:
    """Queue ``operation`` for an instance (``saga``: when its id is not unique across
    sagas); raises :class:`~saga.errors.OperationRefused` when it cannot apply."""
    with engine.connect() as conn:
        name = find_instance(conn, instance_id, saga)
    with Session(engine) as session, session.begin():
        sent = queue_operation(
            session, name, instance_id, operation, by=by, reason=reason, step=step
        )
    return Sent(name, instance_id, sent, f"{operation} of {name} {instance_id}")


def signal(
    engine: Engine,
    instance_id: str,
    name: str,
    *,
    by: str,
    reason: str,
    saga: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> Sent:
    """Send the saga's signal ``name`` to an instance, with who and why; raises
    :class:`~saga.errors.SignalRefused` when the instance's state does not take it."""
    with engine.connect() as conn:
        saga_name = find_instance(conn, instance_id, saga)
    with Session(engine) as session, session.begin():
        sent = send_signal(session, saga_name, instance_id, name, data=data, by=by, reason=reason)
    return Sent(saga_name, instance_id, sent, f"signal {name} to {saga_name} {instance_id}")


def outcome(engine: Engine, sent: Sent) -> Outcome:
    """The command's outcome now (``pending`` until a worker applied it)."""
    with engine.connect() as conn:
        return Outcome(sent, history_entry(conn, sent.saga, sent.instance_id, sent.command_id))


def wait(engine: Engine, sent: Sent, timeout: float, *, interval: float = 0.2) -> Outcome:
    """Poll for the command's outcome until it is known or ``timeout`` seconds passed."""
    if timeout <= 0:
        raise OperationRefused(f"timeout {timeout:g}: give a number of seconds above 0")
    deadline = time.monotonic() + timeout
    while True:
        found = outcome(engine, sent)
        if found.entry is not None or time.monotonic() >= deadline:
            return found
        time.sleep(interval)
