"""Checks over the state graph of a compiled saga: reachability, traps, steps on cycles,
and the pivot rule (only retriable steps after the pivot)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from saga.definition._problems import Problems
from saga.definition.model import (
    COMPENSATE_TARGET,
    COMPENSATING,
    SagaDefinition,
    StateDef,
    StepDef,
    TransitionDef,
)


def can_compensate(
    states: Mapping[str, StateDef],
    steps: Mapping[str, StepDef],
    transitions: Iterable[TransitionDef],
) -> bool:
    if any(t.target == COMPENSATE_TARGET for t in transitions):
        return True
    for state in states.values():
        if state.final is None and state.timeout and state.on_timeout == COMPENSATE_TARGET:
            return True
        if any(steps[s].failure for s in state.steps if s in steps):
            return True
    return False


def with_implicit_finals(states: dict[str, StateDef], can_compensate: bool) -> dict[str, StateDef]:
    present = {s.final for s in states.values()}
    result = dict(states)
    for outcome, needed in (("compensated", can_compensate), ("failed", True)):
        if outcome not in present and needed:
            result[outcome] = StateDef(name=outcome, final=outcome, implicit=True)  # type: ignore[arg-type]
    return result


def check_graph(definition: SagaDefinition, problems: Problems) -> frozenset[str]:
    """Reachability, traps, steps on cycles and the pivot rule; returns the after-pivot states."""
    forward: dict[str, set[str]] = {name: set() for name in definition.states}
    forward[COMPENSATING] = set()
    for edge in definition.edges():
        if edge.source is not None:
            forward.setdefault(edge.source, set()).add(edge.target)

    reachable = _closure({s.target for s in definition.starts.values()}, forward)
    for state in definition.states.values():
        # Any instance can park (an action that raises), so a failed state is never unreachable.
        if state.name not in reachable and not state.implicit and state.final != "failed":
            problems.add(
                "unreachable: no start, transition, then= or timeout leads here; connect it or "
                "remove it",
                state=state.name,
            )
    finals = {s.name for s in definition.states.values() if s.final is not None}
    for state in definition.states.values():
        if state.final is not None or state.name not in reachable:
            continue
        if not _closure({state.name}, forward) & finals:
            problems.add(
                "no path to a terminal state: give it then=, a transition or a timeout",
                state=state.name,
            )
    for state in definition.states.values():
        if not state.steps:
            continue
        onward = _closure(forward[state.name] - {state.name}, forward)
        if state.name in onward:
            problems.add(
                f"runs steps {', '.join(state.steps)} but can be entered again (it is on a "
                "cycle): a step runs once per instance; declare another state and step",
                state=state.name,
            )
    return _check_pivots(definition, forward, problems)


def _check_pivots(
    definition: SagaDefinition, forward: Mapping[str, set[str]], problems: Problems
) -> frozenset[str]:
    after: set[str] = set()
    for step in definition.steps.values():
        if step.kind != "pivot":
            continue
        state = definition.states[definition.state_of_step(step.name)]
        if len(state.steps) > 1:
            problems.add(
                "a pivot step must run alone in its state (the steps beside it would run after "
                "the point of no return): move the others to an earlier state",
                state=state.name,
                step=step.name,
            )
        if state.then is None:
            continue
        successors = _closure({state.then}, _progress_edges(definition))
        after |= successors
        for name in sorted(successors):
            later = definition.states[name]
            for later_step in later.steps:
                if definition.steps[later_step].kind != "retriable":
                    problems.add(
                        f"comes after the pivot step {step.name}, so it cannot be compensated: "
                        "declare it kind='retriable'",
                        state=name,
                        step=later_step,
                    )
    for name in sorted(after):
        state = definition.states[name]
        if state.final is None and state.timeout and state.on_timeout == COMPENSATE_TARGET:
            problems.add(
                "its timeout would compensate after the pivot, which is impossible: set "
                "on_timeout= to a state",
                state=name,
            )
        for t in definition.transitions:
            if name in t.sources and t.target == COMPENSATE_TARGET:
                problems.add(
                    f"transition {t.name} compensates after the pivot, which is impossible: "
                    "send it to a state",
                    state=name,
                    event=t.event,
                )
    return frozenset(after)


def _progress_edges(definition: SagaDefinition) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for edge in definition.edges():
        if edge.source is not None and edge.kind in ("join", "transition", "timeout"):
            edges.setdefault(edge.source, set()).add(edge.target)
    return edges


def _closure(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
