"""Turning a saga class into a checked :class:`~saga.definition.model.SagaDefinition`.

Every problem found is collected and raised as one :class:`DefinitionError` whose lines
each name the saga, the state and the event at fault, and how to fix it. Structural
problems are reported first; the graph checks (reachability, traps, pivot order) run on a
structurally sound definition only.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from saga.contracts.events import Event, contract_of, event_name
from saga.definition._graph_checks import can_compensate, check_graph, with_implicit_finals
from saga.definition._problems import Problems
from saga.definition.declarations import Compensate, Signal, Start, State, Step, Transition
from saga.definition.model import (
    COMPENSATE_TARGET,
    COMPENSATING,
    Builder,
    OrphanPolicy,
    SagaDefinition,
    StartDef,
    StateDef,
    StepDef,
    TransitionDef,
    signal_key,
)
from saga.definition.signatures import event_types_in

_OUTCOMES = ("completed", "compensated", "failed")
_KINDS = ("compensatable", "pivot", "retriable")


def compile_saga(
    cls: type,
    *,
    base: type,
    name: str,
    correlation: str | Mapping[type[Event], str] | None,
    orphans: OrphanPolicy,
    compensation_timeout: timedelta,
    version: int,
) -> SagaDefinition:
    """Check the declarations of ``cls`` and compile them; raise one DefinitionError."""
    problems = Problems(name)
    data_model = _data_model(cls, base, problems)
    members = dict(vars(cls))
    states = {n: v for n, v in members.items() if isinstance(v, State)}
    steps = {n: v for n, v in members.items() if isinstance(v, Step)}
    starts = [v for v in members.values() if isinstance(v, Start)]
    signals = {n: v for n, v in members.items() if isinstance(v, Signal)}
    transitions = [v for v in members.values() if isinstance(v, Transition)]

    if orphans not in ("ignore", "error", "keep"):
        problems.add(f"orphans={orphans!r} is not a policy: use 'keep', 'ignore' or 'error'")
    if compensation_timeout <= timedelta(0):
        problems.add("compensation_timeout must be positive")
    if COMPENSATING in members:
        problems.add(
            f"{COMPENSATING!r} is the framework's own state (waiting for answers after a "
            "failure): rename this attribute",
            state=COMPENSATING,
        )
    if not starts:
        problems.add(
            "no start event: add `start = Start(SomeEvent, to=first_state)` so that an "
            "event creates instances"
        )
    if data_model is None:
        problems.raise_if_any()
        raise AssertionError("unreachable: a missing data model is always a problem")

    compiler = _Compiler(name, data_model, states, steps, signals, problems)
    step_defs = compiler.steps()
    state_defs = compiler.states()
    start_defs = compiler.starts(starts)
    transition_defs = compiler.transitions(transitions)
    correlation_map = compiler.correlation(correlation, start_defs, step_defs, transition_defs)
    problems.raise_if_any()

    compensates = can_compensate(state_defs, step_defs, transition_defs)
    state_defs = with_implicit_finals(state_defs, compensates)
    outcomes = {s.final: s.name for s in state_defs.values() if s.final is not None}
    definition = SagaDefinition(
        name=name,
        qualname=f"{cls.__module__}.{cls.__qualname__}",
        data_model=data_model,
        states=state_defs,
        steps=step_defs,
        starts=start_defs,
        transitions=tuple(transition_defs),
        signals=tuple(signals),
        correlation=correlation_map,
        orphans=orphans,
        compensation_timeout=compensation_timeout,
        version=version,
        compensated_state=outcomes.get("compensated", "compensated"),
        failed_state=outcomes["failed"],
        can_compensate=compensates,
    )
    after_pivot = check_graph(definition, problems)
    problems.raise_if_any()
    return dataclasses.replace(definition, after_pivot=after_pivot)


def _data_model(cls: type, saga_base: type, problems: Problems) -> type[BaseModel] | None:
    for base in getattr(cls, "__orig_bases__", ()):
        if typing.get_origin(base) is saga_base:
            (model,) = typing.get_args(base)
            if isinstance(model, type) and issubclass(model, BaseModel):
                return model
            problems.add(f"the data model {model!r} is not a pydantic BaseModel subclass")
            return None
    problems.add(
        f"no data model: declare it as class {cls.__name__}(Saga[MyData]) "
        "with MyData a pydantic model"
    )
    return None


class _Compiler:
    def __init__(
        self,
        saga: str,
        data_model: type[BaseModel],
        states: dict[str, State],
        steps: dict[str, Step],
        signals: dict[str, Signal],
        problems: Problems,
    ) -> None:
        self.saga = saga
        self.data_model = data_model
        self.state_decls = states
        self.step_decls = steps
        self.signal_decls = signals
        self.problems = problems
        self.step_state: dict[str, str] = {}
        for state in states.values():
            for step in state.run:
                if step.name in self.step_state:
                    problems.add(
                        f"is run by states {self.step_state[step.name]} and {state.name}: "
                        "a step runs in one state; declare a second Step",
                        step=step.name,
                    )
                self.step_state.setdefault(step.name, state.name)

    # -- references --------------------------------------------------------------------

    def target(self, value: object, *, state: str | None, what: str) -> str:
        if isinstance(value, Compensate):
            return COMPENSATE_TARGET
        name = value.name if isinstance(value, State) else value
        if not isinstance(name, str) or name not in self.state_decls:
            known = ", ".join(self.state_decls) or "none"
            self.problems.add(
                f"{what} names {name!r}, which is not a state of this saga (states: {known})",
                state=state,
            )
            return str(name)
        if isinstance(value, State) and self.state_decls[name] is not value:
            self.problems.add(f"{what} names a State of another saga", state=state)
        return name

    def check_event(
        self, cls: object, *, role: str, state: str | None = None, step: str | None = None
    ) -> bool:
        if not (isinstance(cls, type) and issubclass(cls, Event)):
            self.problems.add(
                f"the {role} {cls!r} is not an Event class: declare it as "
                "class X(Event, name=..., schema=...) mirroring its contract in avro/",
                state=state,
                step=step,
            )
            return False
        if contract_of(cls) is None:
            self.problems.add(
                f"the {role} {cls.__name__} ({event_name(cls) or 'no name'}) has no Avro "
                "contract: add its .avsc to avro/ and declare the class with schema=...",
                state=state,
                step=step,
                event=cls,
            )
            return False
        return True

    def fields_builder(
        self, cls: type[Event], *, role: str, state: str | None, step: str | None
    ) -> Builder:
        """A builder filling ``cls`` from the data's fields of the same names."""
        data_fields = set(self.data_model.model_fields)
        missing = [
            n for n, f in cls.model_fields.items() if f.is_required() and n not in data_fields
        ]
        if missing:
            self.problems.add(
                f"the {role} {cls.__name__} needs {', '.join(missing)}, which the data model "
                f"{self.data_model.__name__} lacks: add the fields to the data or pass a "
                "function of the data that builds the event",
                state=state,
                step=step,
                event=cls,
            )
        shared = [n for n in cls.model_fields if n in data_fields]

        def build(data: BaseModel) -> Event:
            return cls.model_validate({n: getattr(data, n) for n in shared})

        return build

    def builder(
        self, value: object, *, role: str, state: str | None, step: str | None
    ) -> tuple[Builder, type[Event]] | None:
        if isinstance(value, type):
            if not self.check_event(value, role=role, state=state, step=step):
                return None
            return self.fields_builder(value, role=role, state=state, step=step), value
        if callable(value):
            emitted = self.emitted_by(value, role=role, state=state, step=step)
            if emitted is None:
                return None
            if len(emitted) != 1:
                self.problems.add(
                    f"the {role} function {getattr(value, '__name__', value)!r} must return "
                    "exactly one event class (annotate it: -> MyEvent)",
                    state=state,
                    step=step,
                )
                return None
            return value, emitted[0]
        self.problems.add(
            f"the {role} must be an Event class or a function of the data, not {value!r}",
            state=state,
            step=step,
        )
        return None

    def emitted_by(
        self, fn: Callable[..., Any], *, role: str, state: str | None, step: str | None
    ) -> tuple[type[Event], ...] | None:
        """Event classes in ``fn``'s return annotation (checked against avro/)."""
        label = getattr(fn, "__name__", repr(fn))
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:  # an annotation naming something that does not exist
            self.problems.add(
                f"the {role} {label!r} has annotations that cannot be resolved ({exc})",
                state=state,
                step=step,
            )
            return None
        if "return" not in hints:
            hint = " (a lambda cannot be annotated: use a def)" if label == "<lambda>" else ""
            self.problems.add(
                f"the {role} {label!r} needs a return annotation naming the events it emits "
                f"(-> MyEvent, -> A | B, -> list[A], or -> None){hint}",
                state=state,
                step=step,
            )
            return None
        emitted = event_types_in(hints["return"])
        if emitted is None:
            self.problems.add(
                f"the {role} {label!r} is annotated -> {hints['return']!r}: it may return only "
                "events (-> MyEvent, -> A | B, -> list[A]) or None",
                state=state,
                step=step,
            )
            return None
        ok = all(
            self.check_event(e, role=f"event emitted by {label!r}", state=state) for e in emitted
        )
        return emitted if ok else None

    # -- declarations ------------------------------------------------------------------

    def steps(self) -> dict[str, StepDef]:
        compiled: dict[str, StepDef] = {}
        answered_by: dict[type[Event], str] = {}
        for name, step in self.step_decls.items():
            state = self.step_state.get(name)
            if state is None:
                self.problems.add(
                    "no state runs this step: add it to a State(run=...) or remove it",
                    step=name,
                )
            if step.kind not in _KINDS:
                self.problems.add(
                    f"kind={step.kind!r} is not a step kind: use 'compensatable', 'pivot' or "
                    "'retriable'",
                    state=state,
                    step=name,
                )
            request = self.builder(step.request, role="request", state=state, step=name)
            if not step.success:
                self.problems.add(
                    "no success event: pass success=TheAnswerEvent", state=state, step=name
                )
            for role, answers in (("success event", step.success), ("failure event", step.failure)):
                for answer in answers:
                    if not self.check_event(answer, role=role, state=state, step=name):
                        continue
                    if answer in answered_by:
                        self.problems.add(
                            f"answers both steps {answered_by[answer]} and {name}: each answer "
                            "event must say which request it answers; give each step its own",
                            state=state,
                            event=answer,
                        )
                    answered_by[answer] = name
            compensation: tuple[Builder, type[Event]] | None = None
            if step.compensation is not None:
                if step.kind != "compensatable":
                    self.problems.add(
                        f"a {step.kind} step is never compensated: remove compensation= or make "
                        "it kind='compensatable'",
                        state=state,
                        step=name,
                    )
                compensation = self.builder(
                    step.compensation, role="compensation", state=state, step=name
                )
            elif step.kind == "compensatable":
                event = step.request if isinstance(step.request, type) else None
                self.problems.add(
                    "compensatable step without a compensation: pass compensation=UndoEvent "
                    "(or declare kind='pivot' or kind='retriable' if it is not undone)",
                    state=state,
                    step=name,
                    event=event,
                )
            if step.kind == "retriable" and step.attempts < 1:
                self.problems.add("attempts must be at least 1", state=state, step=name)
            if step.on_success is not None and not callable(step.on_success):
                self.problems.add(
                    "on_success must be a function (data, event) -> None", state=state, step=name
                )
            if request is None:
                continue
            compiled[name] = StepDef(
                name=name,
                kind=step.kind,
                request=request[0],
                request_type=request[1],
                success=step.success,
                failure=step.failure,
                compensation=None if compensation is None else compensation[0],
                compensation_type=None if compensation is None else compensation[1],
                on_success=step.on_success,
                attempts=step.attempts if step.kind == "retriable" else 1,
            )
        return compiled

    def states(self) -> dict[str, StateDef]:
        compiled: dict[str, StateDef] = {}
        finals: dict[str, list[str]] = {}
        for name, state in self.state_decls.items():
            then = on_timeout = None
            if state.final is not None:
                if state.final not in _OUTCOMES:
                    self.problems.add(
                        f"final={state.final!r} is not an outcome: use 'completed', "
                        "'compensated' or 'failed'",
                        state=name,
                    )
                finals.setdefault(state.final, []).append(name)
                if state.timeout is not None:
                    self.problems.add(
                        "a terminal state cannot have a deadline: remove timeout=", state=name
                    )
                if state.run:
                    self.problems.add("a terminal state cannot run steps: remove run=", state=name)
                if state.then is not None:
                    self.problems.add(
                        "a terminal state has no next state: remove then=", state=name
                    )
            else:
                if state.then is not None:
                    then = self.target(state.then, state=name, what="then=")
                    if then == COMPENSATE_TARGET:
                        self.problems.add(
                            "then= must name a state; COMPENSATE is for failures", state=name
                        )
                elif state.run:
                    self.problems.add(
                        "runs steps but has no then=: name the state to enter once they "
                        "all succeeded",
                        state=name,
                    )
                if state.timeout is not None:
                    if state.timeout <= timedelta(0):
                        self.problems.add("timeout= must be positive", state=name)
                    on_timeout = self.target(state.on_timeout, state=name, what="on_timeout=")
                elif not isinstance(state.on_timeout, Compensate):
                    self.problems.add(
                        "on_timeout= without timeout=: add timeout=timedelta(...)", state=name
                    )
            steps = tuple(s.name for s in state.run)
            emit = self.end_event(state)
            compiled[name] = StateDef(
                name=name,
                final=state.final,
                steps=steps,
                then=then,
                timeout=state.timeout,
                on_timeout=on_timeout or COMPENSATE_TARGET,
                emit=None if emit is None else emit[0],
                emit_type=None if emit is None else emit[1],
            )
        for outcome in ("compensated", "failed"):
            if len(finals.get(outcome, ())) > 1:
                self.problems.add(
                    f"{len(finals[outcome])} states are final={outcome!r} "
                    f"({', '.join(finals[outcome])}): declare at most one",
                )
        if not finals.get("completed"):
            self.problems.add('no completed state: add `completed = State(final="completed")`')
        return compiled

    def end_event(self, state: State) -> tuple[Builder, type[Event]] | None:
        """The builder of the event a terminal state announces its end with, if any."""
        if state.emit is None:
            return None
        if state.final is None:
            self.problems.add(
                "only a terminal state emits an event when the saga ends there: remove emit= "
                "or declare the state final",
                state=state.name,
            )
            return None
        if state.final == "failed":
            self.problems.add(
                "a failed (parked) end emits nothing, the instance waits for a person: remove "
                "emit=",
                state=state.name,
            )
            return None
        return self.builder(state.emit, role="end event", state=state.name, step=None)

    def starts(self, starts: list[Start]) -> dict[str, StartDef]:
        compiled: dict[str, StartDef] = {}
        for start in starts:
            if not self.check_event(start.event, role="start event"):
                continue
            key = event_name(start.event)
            target = self.target(start.to, state=None, what=f"Start({start.event.__name__}, to=)")
            if key in compiled:
                self.problems.add("starts the saga twice: keep one Start", event=start.event)
            data = start.data or self.data_from_event(start.event)
            compiled[key] = StartDef(event=start.event, target=target, data=data)
        return compiled

    def data_from_event(self, event: type[Event]) -> Callable[[Any], BaseModel]:
        model = self.data_model
        missing = [
            n
            for n, f in model.model_fields.items()
            if f.is_required() and n not in event.model_fields
        ]
        if missing:
            self.problems.add(
                f"the data model {model.__name__} needs {', '.join(missing)}, which the start "
                "event lacks: give those fields defaults or pass Start(..., data=fn)",
                event=event,
            )
        shared = [n for n in model.model_fields if n in event.model_fields]

        def build(e: Event) -> BaseModel:
            return model.model_validate({n: getattr(e, n) for n in shared})

        return build

    def transitions(self, transitions: list[Transition]) -> list[TransitionDef]:
        compiled: list[TransitionDef] = []
        for t in transitions:
            trigger, label, event = self.trigger(t)
            sources = [
                self.target(s, state=None, what=f"transition {t.name} source") for s in t.sources
            ]
            for source in sources:
                decl = self.state_decls.get(source)
                if decl is not None and decl.final is not None:
                    self.problems.add(
                        f"transition {t.name} leaves a terminal state: terminal states are final",
                        state=source,
                        event=t.on,
                    )
            target = self.target(
                t.to, state=sources[0] if sources else None, what=f"transition {t.name} to="
            )
            emits: tuple[type[Event], ...] = ()
            if t.action is not None:
                emits = (
                    self.emitted_by(
                        t.action, role=f"action of transition {t.name}", state=None, step=None
                    )
                    or ()
                )
            if t.guard is not None and not callable(t.guard):
                self.problems.add(
                    f"transition {t.name}: guard must be a function (data, event) -> bool"
                )
            compiled.append(
                TransitionDef(
                    name=t.name,
                    sources=tuple(sources),
                    trigger=trigger,
                    trigger_label=label,
                    event=event,
                    target=target,
                    guard=t.guard,
                    action=t.action,
                    emits=emits,
                )
            )
        self.check_ambiguity(compiled)
        return compiled

    def trigger(self, t: Transition) -> tuple[str, str, type[Event] | None]:
        if isinstance(t.on, Signal):
            if self.signal_decls.get(t.on.name) is not t.on:
                self.problems.add(
                    f"transition {t.name} listens to a Signal that is not declared on this saga: "
                    "declare it as a class attribute (cancel = Signal())",
                    event=t.on,
                )
            return signal_key(t.on.name), t.on.name, None
        if self.check_event(t.on, role=f"trigger of transition {t.name}"):
            return event_name(t.on), t.on.__name__, t.on
        return repr(t.on), repr(t.on), None

    def check_ambiguity(self, transitions: list[TransitionDef]) -> None:
        by_key: dict[tuple[str, str], list[TransitionDef]] = {}
        for t in transitions:
            for source in t.sources:
                by_key.setdefault((source, t.trigger), []).append(t)
        for (source, _), group in by_key.items():
            unguarded = [t.name for t in group[:-1] if t.guard is None]
            if unguarded:
                names = ", ".join(t.name for t in group)
                self.problems.add(
                    f"ambiguous transitions {names}: {unguarded[0]} has no guard but is not the "
                    "last; give every transition on the same trigger but the last a guard",
                    state=source,
                    event=group[0].event or f"signal {group[0].trigger_label}",
                )
        answers = {
            a: step.name
            for step in self.step_decls.values()
            for a in (*step.success, *step.failure)
        }
        for t in transitions:
            if t.event is not None and t.event in answers:
                self.problems.add(
                    f"ambiguous: transition {t.name} and step {answers[t.event]} both react to "
                    "this event; handle the answer in the step (on_success=) or use another event",
                    state=t.sources[0] if t.sources else None,
                    event=t.event,
                )

    def correlation(
        self,
        correlation: str | Mapping[type[Event], str] | None,
        starts: Mapping[str, StartDef],
        steps: Mapping[str, StepDef],
        transitions: list[TransitionDef],
    ) -> dict[str, str | None]:
        consumed: dict[str, type[Event]] = {k: s.event for k, s in starts.items()}
        for step in steps.values():
            consumed.update({event_name(c): c for c in (*step.success, *step.failure)})
        consumed.update({event_name(t.event): t.event for t in transitions if t.event})
        if correlation is None:
            return dict.fromkeys(consumed)
        if isinstance(correlation, str):
            mapping: dict[str, str | None] = {}
            for key, cls in consumed.items():
                if correlation not in cls.model_fields:
                    self.problems.add(
                        f"has no field {correlation!r} to find its instance: add the field or "
                        f"map this event to its own field, correlation={{{cls.__name__}: ...}}",
                        event=cls,
                    )
                mapping[key] = correlation
            return mapping
        result: dict[str, str | None] = dict.fromkeys(consumed)
        for cls, field_name in correlation.items():
            key = event_name(cls) if isinstance(cls, type) and issubclass(cls, Event) else None
            if key is None or key not in consumed:
                self.problems.add(
                    "correlation names an event this saga does not consume: remove it",
                    event=cls,
                )
                continue
            if field_name not in cls.model_fields:
                self.problems.add(
                    f"correlation names field {field_name!r}, which this event lacks", event=cls
                )
            result[key] = field_name
        return result
