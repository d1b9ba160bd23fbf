"""Handling inputs inside one unit of work: the path every runtime shares.

``inbox claim → load → decide → save (optimistic version) → history → outbox → deadlines``
for sagas, ``inbox claim → handler → outbox`` for participants. The runtime opens the unit
of work, calls these functions for a batch of inputs, and commits; an exception rolls
everything back (the inbox claims too), so the inputs are handled again on redelivery.

A participant's batch handler (:mod:`saga.definition.participant`) is called once for the
fresh inputs of its event type, in input order, without reordering one saga instance's
inputs (:func:`saga.engine.participants.calls`); whatever the calls, emitted events are
queued in input order.

This module is the only place that claims inputs in an inbox (:meth:`UnitOfWork.claim`):
one call per consumer and batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from saga.definition.model import SagaDefinition
from saga.definition.participant import Handler as ParticipantHandler
from saga.definition.participant import Participant
from saga.engine.decide import Decision, decide, instance_id_of, park
from saga.engine.hosting import Consumer, Handler, SagaVersions
from saga.engine.instance import TERMINAL, Instance, Status
from saga.engine.messages import (
    DeadlineFired,
    Input,
    Message,
    OperatorCommand,
    SignalReceived,
)
from saga.engine.participants import calls, run_batch_handler, run_handler
from saga.engine.ports import Observer, UnitOfWork
from saga.errors import UnknownInstanceError


@dataclass(frozen=True, slots=True)
class Handled:
    """What handling one input did for one consumer."""

    consumer: str
    duplicate: bool = False
    decision: Decision | None = None
    emitted: tuple[Message, ...] = ()
    replayed: tuple[Message, ...] = ()
    """Orphan events kept before this input created their instance, applied after it."""
    started: bool = False  # this input created the instance
    ended: Status | None = None  # the final status the instance reached with this input


def handle_inputs(
    uow: UnitOfWork,
    consumer: Consumer | SagaDefinition,
    inputs: Sequence[Input],
    now: datetime,
    *,
    observer: Observer | None = None,
    parents: Sequence[object | None] | None = None,
) -> list[Handled]:
    """Claim ``inputs`` in the consumer's inbox, then handle each new one, in order (a
    participant's batch handlers take theirs together: see the module docstring).

    An input seen before (or twice in ``inputs``) is a duplicate and changes nothing.
    ``observer`` (tracing, metrics) watches each input's handling; ``parents`` (one per
    input) are what it watches them under, e.g. the span of the record each came in.
    """
    if isinstance(consumer, SagaDefinition):
        consumer = SagaVersions(consumer.name, {consumer.version: consumer})
    ids = [inp.input_id for inp in inputs]
    fresh = uow.claim(consumer.name, ids)
    if isinstance(consumer, Participant) and consumer.has_batch_handlers:
        return _participant_inputs(uow, consumer, inputs, ids, fresh, now, observer, parents)
    if isinstance(consumer, SagaVersions):
        uow.prefetch(consumer.name, [_instance_id(consumer, i) for i in inputs])
    handled: list[Handled] = []
    for index, (inp, input_id) in enumerate(zip(inputs, ids, strict=True)):
        if input_id not in fresh:
            handled.append(Handled(consumer.name, duplicate=True))
            continue
        fresh.discard(input_id)
        if observer is None:
            handled.append(_handle_one(uow, consumer, inp, now, None))
            continue
        parent = parents[index] if parents else None
        with observer.watch(consumer, inp, subject_of(consumer, inp), parent) as watch:
            result = _handle_one(uow, consumer, inp, now, watch.traceparent)
            watch.done(result)
        handled.append(result)
    return handled


def _handle_one(
    uow: UnitOfWork,
    consumer: Consumer,
    inp: Input,
    now: datetime,
    traceparent: str | None,
) -> Handled:
    if isinstance(consumer, SagaVersions):
        return _saga_input(uow, consumer, inp, now, traceparent)
    assert isinstance(inp, Message), "participants and handlers handle events only"
    if isinstance(consumer, Handler):
        consumer.function(uow.session, inp)
        return Handled(consumer.name)
    emitted = run_handler(consumer, inp, now, session=uow.session, traceparent=traceparent)
    uow.append_outbox(emitted)
    return Handled(consumer.name, emitted=tuple(emitted))


def _participant_inputs(
    uow: UnitOfWork,
    participant: Participant,
    inputs: Sequence[Input],
    ids: Sequence[str],
    fresh: set[str],
    now: datetime,
    observer: Observer | None,
    parents: Sequence[object | None] | None,
) -> list[Handled]:
    """:func:`handle_inputs` for a participant with batch handlers (see the module
    docstring)."""
    handled: list[Handled | None] = [None] * len(inputs)
    messages: list[Message] = []
    todo: list[int] = []
    for index, (inp, input_id) in enumerate(zip(inputs, ids, strict=True)):
        assert isinstance(inp, Message), "participants handle events only"
        messages.append(inp)
        if input_id in fresh:
            fresh.discard(input_id)
            todo.append(index)
        else:
            handled[index] = Handled(participant.name, duplicate=True)
    for handler, indices in calls(participant, messages, todo):
        batch = [messages[i] for i in indices]
        under = [parents[i] if parents else None for i in indices]
        if handler is not None and handler.batch:
            results = _batch(uow, participant, handler, batch, now, observer, under)
        else:
            results = [
                _single(uow, participant, m, now, observer, p)
                for m, p in zip(batch, under, strict=True)
            ]
        for index, result in zip(indices, results, strict=True):
            handled[index] = result
    done = [h for h in handled if h is not None]
    assert len(done) == len(inputs)
    uow.append_outbox([m for h in done for m in h.emitted])
    return done


def _single(
    uow: UnitOfWork,
    participant: Participant,
    message: Message,
    now: datetime,
    observer: Observer | None,
    parent: object | None,
) -> Handled:
    """One input of a single handler (its events are queued by the caller)."""
    if observer is None:
        emitted = run_handler(participant, message, now, session=uow.session)
        return Handled(participant.name, emitted=tuple(emitted))
    with observer.watch(participant, message, message.correlation_id, parent) as watch:
        emitted = run_handler(
            participant, message, now, session=uow.session, traceparent=watch.traceparent
        )
        result = Handled(participant.name, emitted=tuple(emitted))
        watch.done(result)
    return result


def _batch(
    uow: UnitOfWork,
    participant: Participant,
    handler: ParticipantHandler,
    messages: Sequence[Message],
    now: datetime,
    observer: Observer | None,
    parents: Sequence[object | None],
) -> list[Handled]:
    """One call of a batch handler, each input watched as if handled alone (its own span,
    its emitted events in its trace); its events are queued by the caller."""
    with ExitStack() as watching:
        watches = (
            []
            if observer is None
            else [
                watching.enter_context(observer.watch(participant, m, m.correlation_id, p))
                for m, p in zip(messages, parents, strict=True)
            ]
        )
        emitted = run_batch_handler(
            participant,
            handler,
            messages,
            now,
            session=uow.session,
            traceparents=[w.traceparent for w in watches] if watches else None,
        )
        results = [Handled(participant.name, emitted=tuple(e)) for e in emitted]
        for watch, result in zip(watches, results, strict=False):  # no watches: unobserved
            watch.done(result)
    return results


def skip_input(uow: UnitOfWork, consumer: str, input_id: str) -> bool:
    """Claim an input without handling it (the runtime gave up on it: a dead letter).

    False when the consumer had it already: whatever the runtime does instead must happen
    only when this returns True, so it happens once.
    """
    return input_id in uow.claim(consumer, [input_id])


def handle_saga_input(
    uow: UnitOfWork,
    definition: SagaVersions | SagaDefinition,
    inp: Input,
    now: datetime,
    *,
    observer: Observer | None = None,
) -> Handled:
    """Feed one event, fired deadline, signal or operator's command to its instance."""
    return handle_inputs(uow, definition, [inp], now, observer=observer)[0]


def handle_participant_message(
    uow: UnitOfWork, participant: Participant, message: Message, now: datetime
) -> Handled:
    """Run a participant's handler for ``message`` once, queueing what it emits."""
    return handle_inputs(uow, participant, [message], now)[0]


def _instance_id(hosted: SagaVersions, inp: Input) -> str:
    if isinstance(inp, Message):
        return instance_id_of(hosted.correlation_definition(inp.event_type), inp)
    return inp.instance_id


def subject_of(consumer: Consumer, inp: Input) -> str:
    """The saga instance an input is about: its id for a saga, the correlation id of the
    event otherwise."""
    if isinstance(consumer, SagaVersions):
        return _instance_id(consumer, inp)
    assert isinstance(inp, Message), "participants and handlers handle events only"
    return inp.correlation_id


def _saga_input(
    uow: UnitOfWork, hosted: SagaVersions, inp: Input, now: datetime, traceparent: str | None
) -> Handled:
    instance_id = _instance_id(hosted, inp)
    instance = uow.load(hosted.name, instance_id)
    definition = hosted.for_instance(instance)
    if definition is None:
        assert instance is not None
        hosts = ", ".join(map(str, hosted.versions))
        reason = (
            f"version {instance.definition_version} of saga {hosted.name} is not hosted here "
            f"(hosted: {hosts}): run a worker that hosts it, then resume the instance"
        )
        parking = park(hosted.newest, instance, inp, now, reason, traceparent=traceparent)
        _apply(uow, hosted.newest, instance, parking)
        return Handled(hosted.name, decision=parking)
    decision = decide(definition, instance, inp, now, traceparent=traceparent)
    if decision.outcome == "orphan":
        _orphan(uow, definition, decision, inp, instance_id)
        return Handled(definition.name, decision=decision)
    if decision.outcome != "applied":
        return Handled(definition.name, decision=decision)
    _apply(uow, definition, instance, decision)
    emitted = list(decision.emitted)
    replayed: list[Message] = []
    assert decision.instance is not None
    final = decision.instance
    if instance is None:
        # Choreography gives no order across topics: events that came before the one that
        # creates the instance were kept as orphans; they apply now, after it, in arrival order.
        for orphan in uow.take_orphans(definition.name, instance_id):
            later = decide(definition, final, orphan, now, traceparent=traceparent)
            if later.outcome != "applied":
                continue
            _apply(uow, definition, final, later)
            assert later.instance is not None
            final = later.instance
            replayed.append(orphan)
            emitted.extend(later.emitted)
    ended = final.status in TERMINAL and (instance is None or instance.status not in TERMINAL)
    return Handled(
        definition.name,
        decision=decision,
        emitted=tuple(emitted),
        replayed=tuple(replayed),
        started=instance is None,
        ended=final.status if ended else None,
    )


def _apply(
    uow: UnitOfWork, definition: SagaDefinition, before: Instance | None, decision: Decision
) -> None:
    assert decision.instance is not None
    assert decision.history is not None
    uow.save(decision.instance, expected_version=0 if before is None else before.version)
    uow.append_history(definition.name, decision.instance.instance_id, decision.history)
    uow.append_outbox(decision.emitted)
    if decision.cancel is not None:
        uow.cancel(decision.cancel)
    if decision.schedule is not None:
        uow.schedule(decision.schedule)


def _orphan(
    uow: UnitOfWork, definition: SagaDefinition, decision: Decision, inp: Input, instance_id: str
) -> None:
    if isinstance(inp, SignalReceived):
        raise UnknownInstanceError(
            f"saga {definition.name}: no instance {instance_id!r} to send signal "
            f"{inp.name!r} to; check the id"
        )
    if isinstance(inp, OperatorCommand):
        raise UnknownInstanceError(
            f"saga {definition.name}: no instance {instance_id!r} to {inp.operation}; check the id"
        )
    if isinstance(inp, DeadlineFired):
        return  # the instance is gone: nothing is waiting for this deadline any more
    reason = (
        f"saga {definition.name}: no instance {instance_id!r} for "
        f"{type(inp.event).__name__} (event id {inp.event_id})"
    )
    if decision.orphan_policy == "keep":
        uow.keep_orphan(definition.name, instance_id, inp, reason)
    elif decision.orphan_policy == "error":
        raise UnknownInstanceError(
            f"{reason}; the saga declares orphans='error' (use 'keep' or 'ignore' to accept it)"
        )
