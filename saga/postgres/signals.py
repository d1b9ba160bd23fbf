"""Signals from outside (an agent cancels an order): checked when sent, applied by a worker.

:func:`send_signal` writes the signal in the caller's transaction (so it is sent exactly when
the caller's own change commits) after checking it against what the workers registered of
their sagas: the saga and the signal must exist, the instance too, and its current state must
accept the signal. A worker hosting the saga then applies it through the same processing
path as events, under the instance's optimistic version, so it is ordered with the
instance's other inputs; if the state moved on meanwhile, the history records the signal
as ignored. ``saga signal SAGA ID NAME [--data JSON]`` is this function on the command line.

Operators' commands (retry, compensate, resume) share the queue (``kind = 'operation'``):
:func:`queue_operation` checks a command against the stored instance and what the workers
registered of its saga (:class:`~saga.engine.operations.SagaShape`), so an operator hears at
once why it cannot apply; a worker then applies it like a signal, once, in order with the
instance's other inputs, and its history keeps who sent it and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from saga.engine.instance import Instance
from saga.engine.messages import Operation
from saga.engine.operations import SagaShape, check
from saga.errors import OperationRefused, SagaError, SignalRefused, UnknownInstanceError
from saga.postgres.tables import definition_table, instance_table, signal_table

__all__ = ["queue_operation", "registered_versions", "send_signal"]


def registered_versions(
    session: Session, saga: str, refuse: type[SagaError]
) -> dict[int, dict[str, Any]]:
    """What the workers registered of each version of ``saga`` (see ``Worker``'s
    ``describe``); ``refuse`` is raised, naming the sagas there are, when none did."""
    known = session.execute(
        select(definition_table.c.version, definition_table.c.description).where(
            definition_table.c.saga == saga
        )
    ).all()
    if not known:
        sagas = session.scalars(select(definition_table.c.saga).distinct()).all()
        raise refuse(
            f"no worker has hosted a saga named {saga!r} in this database "
            f"(sagas: {', '.join(sorted(sagas)) or 'none'}): check the name"
        )
    return {int(version): description for version, description in known}


def send_signal(
    session: Session,
    saga: str,
    instance_id: str,
    name: str,
    *,
    data: Mapping[str, Any] | None = None,
    signal_id: str | None = None,
    by: str | None = None,
    reason: str | None = None,
) -> str:
    """Queue signal ``name`` for an instance in the caller's transaction; returns its id.

    Raises :class:`~saga.errors.SignalRefused` for a saga or signal no worker hosts or a
    state that does not accept it, :class:`~saga.errors.UnknownInstanceError` for an
    instance that does not exist. Never commits. ``by`` and ``reason`` (an operator's
    signal, ``saga sagas cancel``) are kept in the instance's history.
    """
    known = registered_versions(session, saga, SignalRefused)
    row = session.execute(
        select(instance_table.c.state, instance_table.c.definition_version).where(
            instance_table.c.saga == saga, instance_table.c.instance_id == instance_id
        )
    ).first()
    if row is None:
        raise UnknownInstanceError(f"saga {saga} has no instance {instance_id!r}: check the id")
    state, version = row
    description = known.get(version)
    if description is None:
        raise SignalRefused(
            f"instance {instance_id!r} runs version {version} of saga {saga}, which no worker "
            "has registered: run a worker that hosts it"
        )
    accepting: Mapping[str, list[str]] = description["signals"]
    if name not in accepting:
        raise SignalRefused(
            f"saga {saga} (version {version}) declares no signal {name!r} "
            f"(signals: {', '.join(accepting) or 'none'})"
        )
    if state not in accepting[name]:
        where = ", ".join(accepting[name]) or "no state"
        raise SignalRefused(
            f"instance {instance_id!r} of saga {saga} is in state {state}, which does not "
            f"accept signal {name!r} (accepted in: {where})"
        )
    try:
        sent = str(uuid.UUID(signal_id)) if signal_id else str(uuid.uuid4())
    except ValueError:
        raise SignalRefused(f"signal id {signal_id!r} is not a UUID") from None
    session.execute(
        insert(signal_table).values(
            signal_id=sent,
            saga=saga,
            instance_id=instance_id,
            name=name,
            data=dict(data or {}),
            sent_by=by,
            reason=reason,
        )
    )
    return sent


def queue_operation(
    session: Session,
    saga: str,
    instance_id: str,
    operation: Operation,
    *,
    by: str,
    reason: str,
    step: str | None = None,
    command_id: str | None = None,
) -> str:
    """Queue ``operation`` for an instance in the caller's transaction; returns its id.

    Raises :class:`~saga.errors.OperationRefused` for an unknown saga, operation or step,
    a missing ``by`` or ``reason``, or an instance whose status cannot take the operation;
    :class:`~saga.errors.UnknownInstanceError` for an instance that does not exist. Never
    commits.
    """
    known = registered_versions(session, saga, OperationRefused)
    snapshot = session.scalar(
        select(instance_table.c.snapshot).where(
            instance_table.c.saga == saga, instance_table.c.instance_id == instance_id
        )
    )
    if snapshot is None:
        raise UnknownInstanceError(f"saga {saga} has no instance {instance_id!r}: check the id")
    instance = Instance.from_json(snapshot)
    description = known.get(instance.definition_version)
    if description is None or "shape" not in description:
        raise OperationRefused(
            f"instance {instance_id!r} runs version {instance.definition_version} of saga "
            f"{saga}, which no worker of this release has registered: start one that hosts it"
        )
    check(
        instance, operation, SagaShape.from_json(description["shape"]), step, by=by, reason=reason
    )
    try:
        sent = str(uuid.UUID(command_id)) if command_id else str(uuid.uuid4())
    except ValueError:
        raise OperationRefused(f"command id {command_id!r} is not a UUID") from None
    session.execute(
        insert(signal_table).values(
            signal_id=sent,
            saga=saga,
            instance_id=instance_id,
            name=operation,
            data={"step": step} if step is not None else {},
            kind="operation",
            sent_by=by,
            reason=reason,
        )
    )
    return sent
