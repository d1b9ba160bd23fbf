"""Mermaid ``stateDiagram-v2`` of a saga, compensation paths drawn apart.

Parallel steps are a composite state with one region per step; every failure leads to a
``rollback`` choice that either waits in ``compensating`` (steps still in flight) or ends
``compensated``; a note lists the compensations, newest first; compensation states are
styled ``undo``. Failures after the pivot go straight to the failed (parked) state.
"""

from __future__ import annotations

from typing import Any

from saga.definition.model import (
    COMPENSATE_TARGET,
    COMPENSATING,
    SagaDefinition,
    describe_duration,
)
from saga.definition.saga import Saga, definition_of

_ROLLBACK = "rollback"
_UNDO_STYLE = "fill:#fdecea,stroke:#c0392b,color:#922b21"


def mermaid(saga: type[Saga[Any]] | SagaDefinition) -> str:
    """The Mermaid state diagram of ``saga`` (paste into Markdown inside ```mermaid)."""
    d = definition_of(saga)
    lines = ["stateDiagram-v2", f"    %% saga {d.name} (version {d.version})"]
    add = lines.append
    for start in d.starts.values():
        add(f"    [*] --> {start.target} : {start.event.__name__}")
    rollback: dict[str, list[str]] = {}
    parks: dict[str, list[str]] = {}
    for state in d.states.values():
        if state.final is not None:
            continue
        lines.extend(_state_body(d, state.name))
        if state.then is not None and state.steps:
            add(f"    {state.name} --> {state.then} : done")
        failures = rollback if state.name not in d.after_pivot else parks
        for step_name in state.steps:
            step = d.steps[step_name]
            suffix = f" x{step.attempts}" if step.kind == "retriable" else ""
            failures.setdefault(state.name, []).extend(
                f"{cls.__name__}{suffix}" for cls in step.failure
            )
        if state.timeout is not None:
            label = f"after {describe_duration(state.timeout)}"
            if state.on_timeout == COMPENSATE_TARGET:
                rollback.setdefault(state.name, []).append(label)
            else:
                add(f"    {state.name} --> {state.on_timeout} : {label}")
    for t in d.transitions:
        label = t.trigger_label if t.event is not None else f"signal {t.trigger_label}"
        if t.guard is not None:
            label += " [guarded]"
        if t.emits:
            label += " / " + ", ".join(cls.__name__ for cls in t.emits)
        for source in t.sources:
            if t.target == COMPENSATE_TARGET:
                rollback.setdefault(source, []).append(label)
            else:
                add(f"    {source} --> {t.target} : {label}")
    for source, labels in parks.items():
        if labels:
            add(f"    {source} --> {d.failed_state} : {', '.join(labels)}")
    if any(rollback.values()):
        lines.extend(_rollback(d, rollback))
    for state in d.states.values():
        if state.final is not None:
            end = f" : / {state.emit_type.__name__}" if state.emit_type is not None else ""
            add(f"    {state.name} --> [*]{end}")
    return "\n".join(lines) + "\n"


def _state_body(d: SagaDefinition, name: str) -> list[str]:
    state = d.states[name]
    if len(state.steps) > 1:
        body = [f"    state {name} {{"]
        for index, step_name in enumerate(state.steps):
            step = d.steps[step_name]
            inner = f"{name}__{step_name}"
            if index:
                body.append("        --")
            body.append(f"        [*] --> {inner}")
            body.append(f"        {inner} : {step_name} - {step.request_type.__name__}")
            answers = ", ".join(cls.__name__ for cls in step.success)
            body.append(f"        {inner} --> [*] : {answers}")
        body.append("    }")
        return body
    if len(state.steps) == 1:
        step = d.steps[state.steps[0]]
        kind = "" if step.kind == "compensatable" else f" ({step.kind})"
        answers = ", ".join(cls.__name__ for cls in step.success)
        return [f"    {name} : {step.name}{kind} - {step.request_type.__name__} until {answers}"]
    return []


def _rollback(d: SagaDefinition, rollback: dict[str, list[str]]) -> list[str]:
    lines = [f"    state {_ROLLBACK} <<choice>>"]
    for source, labels in rollback.items():
        if labels:
            lines.append(f"    {source} --> {_ROLLBACK} : {', '.join(labels)}")
    lines.append(f"    {_ROLLBACK} --> {COMPENSATING} : steps still in flight")
    lines.append(f"    {_ROLLBACK} --> {d.compensated_state} : nothing in flight")
    lines.append(f"    {COMPENSATING} --> {d.compensated_state} : late answers in")
    lines.append(
        f"    {COMPENSATING} --> {d.failed_state} : "
        f"no answer in {describe_duration(d.compensation_timeout)}"
    )
    undo = [
        f"{step.name} by {step.compensation_type.__name__}"
        for step in reversed(list(d.steps.values()))
        if step.compensation_type is not None
    ]
    lines.append(f"    note right of {_ROLLBACK}")
    lines.append(f"        undo, newest first: {', '.join(undo) if undo else 'nothing'}")
    lines.append("    end note")
    lines.append(f"    classDef undo {_UNDO_STYLE}")
    lines.append(f"    class {COMPENSATING},{d.compensated_state} undo")
    return lines
