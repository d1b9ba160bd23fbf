"""Operators' commands to a saga instance (retry, compensate, resume): checked when queued,
applied by a worker.

:func:`queue_operation` writes the command in the caller's transaction, in the queue that
signals use (``saga_signal``, ``kind = 'operation'``), after checking it against the stored
instance and what the workers registered of its saga (:class:`~saga.engine.operations.SagaShape`):
an operator hears at once why a command cannot apply. A worker hosting the saga then claims
it like a signal and applies it through the processing path under the instance's version,
so it happens once, in order with the instance's other inputs, and lands in its history with
who sent it and why. ``saga sagas retry|compensate|resume`` is this function on the command
line.
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from saga.engine.instance import Instance
from saga.engine.messages import Operation
from saga.engine.operations import SagaShape, check
from saga.errors import OperationRefused, UnknownInstanceError
from saga.tables import instance_table, signal_table
from saga.worker.signals import registered_versions

__all__ = ["queue_operation"]


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
