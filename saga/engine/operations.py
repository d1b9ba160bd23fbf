"""Operators' commands to one saga instance: what each may do, and when it is refused.

* ``retry``: request a failed (or unanswered) step again. A parked instance first goes back
  to the state it was parked in; a running one stays where it is.
* ``resume``: a parked instance goes back to the state it was parked in and carries on: the
  steps of that state that have not succeeded are requested again and its deadline starts
  afresh (parked while compensating: the rollback carries on).
* ``compensate``: force the rollback of a running or parked instance, as a failure would.

:func:`plan` is pure and runs twice: when the command is queued (from the snapshot and the
:class:`SagaShape` the workers registered, so an operator hears at once why a command cannot
apply) and when a worker applies it in :func:`saga.engine.decide.decide` (the instance may
have moved meanwhile; the history then records the command as ignored, with the reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from saga.definition.model import COMPENSATING, SagaDefinition
from saga.engine.instance import Instance
from saga.engine.messages import OPERATIONS, Operation
from saga.errors import OperationRefused

__all__ = ["Plan", "SagaShape", "check", "plan"]

_OPEN = ("requested", "failed")  # step statuses an operator may request again


@dataclass(frozen=True, slots=True)
class SagaShape:
    """What the operations need to know of one version of a saga: each state's steps, the
    final states and each step's kind. Built from the definition, or read back from the
    registry the workers write (``saga_definition``), so the CLI needs no user code."""

    states: Mapping[str, tuple[str, ...]]
    finals: Mapping[str, str]
    kinds: Mapping[str, str]

    @classmethod
    def of(cls, definition: SagaDefinition) -> SagaShape:
        return cls(
            states={name: state.steps for name, state in definition.states.items()},
            finals={s.name: s.final for s in definition.states.values() if s.final is not None},
            kinds={name: step.kind for name, step in definition.steps.items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "states": {name: list(steps) for name, steps in self.states.items()},
            "finals": dict(self.finals),
            "kinds": dict(self.kinds),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SagaShape:
        return cls(
            states={name: tuple(steps) for name, steps in raw["states"].items()},
            finals=dict(raw["finals"]),
            kinds=dict(raw["kinds"]),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What an operation does to an instance, or why it cannot (``refused``)."""

    refused: str | None = None
    state: str | None = None
    """Where the instance carries on (retry, resume)."""
    steps: tuple[str, ...] = ()
    """The steps requested again, in declaration order."""


def plan(
    instance: Instance, operation: Operation, shape: SagaShape, step: str | None = None
) -> Plan:
    """What ``operation`` does to ``instance`` now (see the module docstring)."""
    if step is not None and operation != "retry":
        return Plan(f"only retry takes a step, not {operation}")
    if instance.status in ("completed", "compensated"):
        return Plan(f"it ended {instance.status}: there is nothing to {operation}")
    if operation == "compensate":
        return _compensate(instance, shape)
    if instance.status == "compensating":
        if operation == "resume":
            return Plan("it is compensating, not parked: there is nothing to resume")
        return Plan(
            "it is compensating: steps are not requested again during a rollback; it ends "
            "compensated, or parks and can be resumed"
        )
    if instance.status == "running":
        if operation == "resume":
            return Plan("it is running, not parked: there is nothing to resume (retry a step?)")
        return _retry(instance, shape, instance.state, step, parked=False)
    target = instance.parked_from
    if target is None:
        # Moved to a failed end by its own definition, or parked before it entered a state.
        return Plan(
            f"it ended in {instance.state} with no state to go back to "
            f"({instance.parked_reason}): compensate it to roll it back"
        )
    if target not in shape.states and target != COMPENSATING:
        return Plan(f"it was parked in state {target}, which this version of the saga lacks")
    if operation == "resume":
        if target == COMPENSATING or target in shape.finals:
            return Plan(state=target)
        return Plan(state=target, steps=_open_steps(instance, shape, target))
    if target == COMPENSATING:
        return Plan("it was parked while compensating: resume it to carry on with the rollback")
    if target in shape.finals:
        return Plan(f"it was parked after it ended in {target}: resume it instead")
    return _retry(instance, shape, target, step, parked=True)


def check(
    instance: Instance,
    operation: str,
    shape: SagaShape,
    step: str | None = None,
    *,
    by: str,
    reason: str,
) -> Operation:
    """The checks made when a command is queued (the CLI, the harness): the operation
    exists, says who sends it and why, and the instance can take it now. Raises
    :class:`~saga.errors.OperationRefused` with one line saying why not."""
    if operation not in OPERATIONS:
        raise OperationRefused(f"no operation {operation!r} (operations: {', '.join(OPERATIONS)})")
    chosen: Operation = operation
    if not by.strip() or not reason.strip():
        raise OperationRefused(f"{operation} needs who sends it and why (by and reason)")
    refused = plan(instance, chosen, shape, step).refused
    if refused is not None:
        raise OperationRefused(
            f"cannot {operation} instance {instance.instance_id!r} of saga {instance.saga}: "
            f"{refused}"
        )
    return chosen


def _compensate(instance: Instance, shape: SagaShape) -> Plan:
    if instance.status == "compensating":
        return Plan("it is compensating already")
    pivot = next((s for s in instance.completed if shape.kinds.get(s) == "pivot"), None)
    if pivot is not None:
        return Plan(
            f"its pivot step {pivot} succeeded, and that cannot be undone: retry or resume it "
            "instead"
        )
    return Plan(state=COMPENSATING)


def _retry(
    instance: Instance, shape: SagaShape, target: str, step: str | None, *, parked: bool
) -> Plan:
    where = f"was parked in {target}" if parked else f"is in {target}"
    candidates = _open_steps(instance, shape, target)
    if step is None:
        failed = tuple(s for s in candidates if _status(instance, s) == "failed")
        chosen = failed or candidates
        if not chosen:
            return Plan(f"it {where}, where no step failed or waits for an answer")
        return Plan(state=target, steps=chosen)
    if step not in shape.kinds:
        return Plan(f"its saga has no step {step!r} (steps: {', '.join(shape.kinds) or 'none'})")
    if step not in shape.states.get(target, ()):
        return Plan(f"step {step} is not one of state {target}'s, and the instance {where}")
    if step not in candidates:
        return Plan(f"step {step} {_status(instance, step)}: there is nothing to retry")
    return Plan(state=target, steps=(step,))


def _open_steps(instance: Instance, shape: SagaShape, state: str) -> tuple[str, ...]:
    """The steps of ``state`` that have not succeeded: failed, unanswered or never requested."""
    return tuple(s for s in shape.states.get(state, ()) if _status(instance, s) in (*_OPEN, None))


def _status(instance: Instance, step: str) -> str | None:
    run = instance.steps.get(step)
    return None if run is None else run.status
