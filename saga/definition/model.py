"""The compiled, immutable form of a saga definition that the engine, the diagrams and the
choreography check read. Built once per saga class by :mod:`saga.definition._compile`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel

from saga.contracts.events import Event, event_name

StepKind = Literal["compensatable", "pivot", "retriable"]
Outcome = Literal["completed", "compensated", "failed"]
OrphanPolicy = Literal["ignore", "error", "keep"]

#: The built-in state a saga waits in while steps still in flight answer after a failure.
COMPENSATING = "compensating"
#: Target of a transition or timeout that rolls the saga back.
COMPENSATE_TARGET = "<compensate>"

# Builders and hooks are user code of loose types; the engine calls them with the models.
Builder = Callable[[Any], Event]
Hook = Callable[[Any, Any], Any]


def signal_key(name: str) -> str:
    """The trigger key of a signal (event triggers use the event's Avro full name)."""
    return f"signal:{name}"


@dataclass(frozen=True)
class StepDef:
    name: str
    kind: StepKind
    request: Builder
    request_type: type[Event]
    success: tuple[type[Event], ...]
    failure: tuple[type[Event], ...]
    compensation: Builder | None
    compensation_type: type[Event] | None
    on_success: Hook | None
    attempts: int


@dataclass(frozen=True)
class StateDef:
    name: str
    final: Outcome | None = None
    steps: tuple[str, ...] = ()
    then: str | None = None
    timeout: timedelta | None = None
    on_timeout: str = COMPENSATE_TARGET
    implicit: bool = False  # added by the framework (compensated, failed)
    emit: Builder | None = None  # the event announcing the end (terminal states only)
    emit_type: type[Event] | None = None


@dataclass(frozen=True)
class TransitionDef:
    name: str
    sources: tuple[str, ...]
    trigger: str  # event full name or signal_key(name)
    trigger_label: str
    event: type[Event] | None
    target: str
    guard: Hook | None
    action: Hook | None
    emits: tuple[type[Event], ...]


@dataclass(frozen=True)
class StartDef:
    event: type[Event]
    target: str
    data: Callable[[Any], BaseModel]


@dataclass(frozen=True)
class Edge:
    """One possible move of an instance; what diagrams draw and what histories may contain."""

    source: str | None  # None: the instance does not exist yet
    target: str
    label: str
    kind: Literal["start", "join", "transition", "timeout", "failure", "compensation", "park"]


@dataclass(frozen=True)
class SagaDefinition:
    """Everything the engine needs to know about one saga type."""

    name: str
    qualname: str
    data_model: type[BaseModel]
    states: Mapping[str, StateDef]
    steps: Mapping[str, StepDef]
    starts: Mapping[str, StartDef]  # by event full name
    transitions: tuple[TransitionDef, ...]
    signals: tuple[str, ...]
    correlation: Mapping[str, str | None]  # event full name -> field (None: envelope)
    orphans: OrphanPolicy
    compensation_timeout: timedelta
    version: int
    compensated_state: str
    failed_state: str
    can_compensate: bool
    # States entered after a pivot step succeeded: a failure there parks instead of compensating.
    after_pivot: frozenset[str] = frozenset()
    _by_trigger: dict[tuple[str, str], tuple[TransitionDef, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _answers: dict[str, tuple[str, bool]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for t in self.transitions:
            for source in t.sources:
                key = (source, t.trigger)
                self._by_trigger[key] = (*self._by_trigger.get(key, ()), t)
        for step in self.steps.values():
            for ok in step.success:
                self._answers[event_name(ok)] = (step.name, True)
            for bad in step.failure:
                self._answers[event_name(bad)] = (step.name, False)

    def transitions_for(self, state: str, trigger: str) -> tuple[TransitionDef, ...]:
        """Transitions leaving ``state`` on ``trigger``, in declaration order."""
        return self._by_trigger.get((state, trigger), ())

    def answer(self, event_type: str) -> tuple[str, bool] | None:
        """(step name, succeeded?) when ``event_type`` answers a step's request."""
        return self._answers.get(event_type)

    def consumes(self) -> dict[str, type[Event]]:
        """Every event type an instance reacts to, by full name."""
        found: dict[str, type[Event]] = {name: s.event for name, s in self.starts.items()}
        for step in self.steps.values():
            for cls in (*step.success, *step.failure):
                found[event_name(cls)] = cls
        for t in self.transitions:
            if t.event is not None:
                found[event_name(t.event)] = t.event
        return found

    def produces(self) -> dict[str, type[Event]]:
        """Every event type an instance may emit, by full name."""
        found: dict[str, type[Event]] = {}
        for step in self.steps.values():
            found[event_name(step.request_type)] = step.request_type
            if step.compensation_type is not None:
                found[event_name(step.compensation_type)] = step.compensation_type
        for t in self.transitions:
            for cls in t.emits:
                found[event_name(cls)] = cls
        for state in self.states.values():
            if state.emit_type is not None:
                found[event_name(state.emit_type)] = state.emit_type
        return found

    def state_of_step(self, step: str) -> str:
        return next(s.name for s in self.states.values() if step in s.steps)

    def edges(self) -> tuple[Edge, ...]:
        """Every move an instance can make (the implicit park on a raising action aside)."""
        edges: list[Edge] = [
            Edge(None, s.target, s.event.__name__, "start") for s in self.starts.values()
        ]
        rollback: dict[str, list[str]] = {}
        for state in self.states.values():
            if state.final is not None:
                continue
            if state.then is not None and state.steps:
                edges.append(Edge(state.name, state.then, "done", "join"))
            for step_name in state.steps:
                step = self.steps[step_name]
                labels = [cls.__name__ for cls in step.failure]
                if step.kind == "retriable" and labels:
                    labels = [f"{label} x{step.attempts}" for label in labels]
                rollback.setdefault(state.name, []).extend(labels)
            if state.timeout is not None:
                label = f"after {describe_duration(state.timeout)}"
                if state.on_timeout == COMPENSATE_TARGET:
                    rollback.setdefault(state.name, []).append(label)
                else:
                    edges.append(Edge(state.name, state.on_timeout, label, "timeout"))
        for t in self.transitions:
            for source in t.sources:
                if t.target == COMPENSATE_TARGET:
                    rollback.setdefault(source, []).append(t.trigger_label)
                else:
                    edges.append(Edge(source, t.target, t.trigger_label, "transition"))
        for source, labels in rollback.items():
            if not labels:
                continue
            label = ", ".join(labels)
            if source not in self.after_pivot:
                edges.append(Edge(source, COMPENSATING, label, "failure"))
                edges.append(Edge(source, self.compensated_state, label, "failure"))
            edges.append(Edge(source, self.failed_state, label, "park"))
        if self.can_compensate:
            edges.append(Edge(COMPENSATING, self.compensated_state, "all answered", "compensation"))
            edges.append(
                Edge(
                    COMPENSATING,
                    self.failed_state,
                    f"no answer in {describe_duration(self.compensation_timeout)}",
                    "park",
                )
            )
        return tuple(edges)


def describe_duration(value: timedelta) -> str:
    """A short human form of a duration: 15m, 2h, 1d, 90s."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
