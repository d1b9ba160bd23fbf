"""Participants: the services' side of the choreography, as typed event handlers.

::

    inventory = Participant("inventory")

    @inventory.handler
    def reserve(request: ReserveStock) -> StockReserved | OutOfStock:
        ...

    @reserve.compensation
    def release(request: ReleaseStock) -> None:
        ...

The parameter's annotation says which event a handler consumes, the return annotation which
events it may emit (checked when the handler is declared and each time it runs). A handler
may take a second parameter, the :class:`Context` (event id, correlation id, time). Emitted
events carry the input's correlation id, the input's id as causation id, and ids derived
from the input, so handling a redelivered event emits the same ids.

**Batch handlers** take the requests of a poll batch at once, so that a service writes them
with one set-based statement per table instead of a few statements per request::

    @inventory.batch_handler
    def reserve(
        requests: list[ReserveStock], context: BatchContext
    ) -> list[StockReserved | OutOfStock]:
        ...  # one result per request, in order

    @reserve.batch_compensation  # or @reserve.compensation, one request at a time
    def release(requests: list[ReleaseStock], context: BatchContext) -> None:
        ...

``list[X]`` on the first parameter names the event consumed; the return annotation is
``list[...]`` of what a single handler would return for one request (an event, a list of
events, or None), or ``None`` for a handler that never emits. It returns one result per
request, in the requests' order (or None: nothing for any of them). The
:class:`BatchContext` gives the session, the time and, per request, the :class:`Context` a
single handler would get. What a batch handler emits for a request carries exactly the ids
a single handler's would (:func:`~saga.engine.messages.derived_id` of the participant, the
request's event id and the event's index in its result): switching between the two changes
nothing on the wire, and a redelivered request still emits the same ids.

The runtime (:mod:`saga.engine.processing`) calls a batch handler with the fresh requests
of a poll batch (the inbox has dropped those seen before), in input order, and never
reorders the inputs of one saga instance (correlation id) across handlers. When it raises,
no request is blamed: the runtime handles the batch again one record per transaction, the
handler getting one request at a time, so that the one that fails is retried and
dead-lettered and the others go through (:mod:`saga.runtime.loop`). Its writes and its
events commit with the inbox claims of the whole batch, or not at all.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from saga.contracts.events import Event, contract_of, event_name
from saga.definition.signatures import event_types_in, positional_params
from saga.errors import DefinitionError

_LISTS = (list, collections.abc.Sequence)  # what a batch's annotations may wrap


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may know about the event it handles besides its payload."""

    participant: str
    event_id: str
    correlation_id: str
    causation_id: str | None
    now: datetime
    session: Any = field(default=None, compare=False, repr=False)
    """The unit of work's transaction (a SQLAlchemy ``Session`` in the durable runtime,
    ``None`` in memory): write the service's own rows here, and they commit together with
    the inbox claim and the events the handler returns. Never commit it yourself."""


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What a batch handler may know about its requests besides their payloads."""

    participant: str
    now: datetime
    per_request: tuple[Context, ...]
    """One per request, in the requests' order: the :class:`Context` a single handler
    would get for it (its event id, correlation id and causation id)."""
    session: Any = field(default=None, compare=False, repr=False)
    """The unit of work's transaction, as :attr:`Context.session`: never commit it."""


class Handler:
    """One typed handler of a :class:`Participant`; still callable as the plain function.

    ``batch``: it takes a list of requests and a :class:`BatchContext` (see the module
    docstring) instead of one request and a :class:`Context`.
    """

    def __init__(
        self,
        participant: Participant,
        fn: Callable[..., Any],
        consumes: type[Event],
        emits: tuple[type[Event], ...],
        wants_context: bool,
        compensates: str | None,
        batch: bool = False,
    ) -> None:
        self.participant = participant
        self.fn = fn
        self.name: str = fn.__name__
        self.consumes = consumes
        self.emits = emits
        self.wants_context = wants_context
        self.compensates = compensates
        self.batch = batch

    def __call__(self, event: Any, context: Context | BatchContext | None = None) -> Any:
        return self.fn(event, context) if self.wants_context else self.fn(event)

    def compensation(self, fn: Callable[..., Any]) -> Handler:
        """Declare ``fn(request[, context])`` as the handler that undoes what this one did."""
        return self.participant._register(fn, compensates=self.name, batch=False)

    def batch_compensation(self, fn: Callable[..., Any]) -> Handler:
        """Declare ``fn(requests[, context])``, a batch handler, as the one that undoes what
        this one did."""
        return self.participant._register(fn, compensates=self.name, batch=True)

    def __repr__(self) -> str:
        kind = "batch handler" if self.batch else "handler"
        return f"<{kind} {self.participant.name}.{self.name}: {self.consumes.__name__}>"


class Participant:
    """A service taking part in sagas: a router of typed handlers, one per event type."""

    def __init__(self, name: str) -> None:
        if not name or not name.replace("-", "_").replace(".", "_").isidentifier():
            raise DefinitionError(
                f"participant name {name!r} must be a short identifier such as 'inventory' "
                "(it names the consumer group and the inbox)"
            )
        self.name = name
        self.handlers: dict[str, Handler] = {}

    def handler(self, fn: Callable[..., Any]) -> Handler:
        """Register ``fn(event[, context]) -> events`` for the event type it is annotated with."""
        return self._register(fn, compensates=None, batch=False)

    def batch_handler(self, fn: Callable[..., Any]) -> Handler:
        """Register ``fn(events[, context]) -> [events of each]`` for the event type of its
        ``list[...]`` annotation: one call for many requests (see the module docstring)."""
        return self._register(fn, compensates=None, batch=True)

    @property
    def has_batch_handlers(self) -> bool:
        """Whether one of its handlers is a batch handler."""
        return any(h.batch for h in self.handlers.values())

    def _register(self, fn: Callable[..., Any], *, compensates: str | None, batch: bool) -> Handler:
        where = f"participant {self.name}, handler {getattr(fn, '__name__', fn)!r}"
        fn_name = getattr(fn, "__name__", "handle")
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:  # an annotation naming something that does not exist
            raise DefinitionError(f"{where}: annotations cannot be resolved ({exc})") from exc
        params = positional_params(fn)
        if not 1 <= len(params) <= 2:
            raise DefinitionError(
                f"{where}: takes the list of requests and optionally the BatchContext, "
                f"def {fn_name}(requests: list[MyEvent][, context: BatchContext])"
                if batch
                else f"{where}: takes the event and optionally the Context, "
                f"def {fn_name}(event: MyEvent[, ctx: Context])"
            )
        first = hints.get(params[0].name)
        consumes = _listed(first) if batch else first
        if not (isinstance(consumes, type) and issubclass(consumes, Event)):
            raise DefinitionError(f"{where}: {_first_parameter_fix(first, batch)}")
        if len(params) == 2:
            _check_context(where, hints.get(params[1].name), batch)
        if "return" not in hints:
            raise DefinitionError(
                f"{where}, event {consumes.__name__}: add a return annotation naming the "
                + (
                    "events it emits per request (-> list[MyEvent], -> list[A | B | None]) "
                    "or -> None"
                    if batch
                    else "events it emits (-> MyEvent, -> A | B, -> list[A]) or -> None"
                )
            )
        returned = _per_request(hints["return"]) if batch else hints["return"]
        if returned is _NOT_LISTED:
            raise DefinitionError(
                f"{where}, event {consumes.__name__}: a batch handler returns one result "
                f"per request, in order; annotate -> list[...] of what one request may "
                f"give (-> list[A | B | None]), or -> None, not {hints['return']!r}"
            )
        emits = event_types_in(returned)
        if emits is None:
            raise DefinitionError(
                f"{where}, event {consumes.__name__}: it may return only events or None"
                f"{' per request' if batch else ''}, not {hints['return']!r}"
            )
        for cls in (consumes, *emits):
            if contract_of(cls) is None:
                raise DefinitionError(
                    f"{where}, event {cls.__name__}: no Avro contract; add its .avsc to avro/ "
                    "and declare the class with schema=..."
                )
        key = event_name(consumes)
        if key in self.handlers:
            raise DefinitionError(
                f"{where}, event {consumes.__name__}: already handled by "
                f"{self.handlers[key].name}; one handler per event type"
            )
        handler = Handler(self, fn, consumes, emits, len(params) == 2, compensates, batch)
        self.handlers[key] = handler
        return handler

    def consumes(self) -> dict[str, type[Event]]:
        return {k: h.consumes for k, h in self.handlers.items()}

    def produces(self) -> dict[str, type[Event]]:
        return {event_name(cls): cls for h in self.handlers.values() for cls in h.emits}

    def __repr__(self) -> str:
        return f"<participant {self.name}: {', '.join(self.handlers) or 'no handlers'}>"


_NOT_LISTED = object()


def _per_request(annotation: object) -> object:
    """What a batch handler's return ``annotation`` allows for one request: ``X`` of
    ``list[X]`` or ``list[X] | None``, None for ``None``; else ``_NOT_LISTED``."""
    if annotation is None or annotation is type(None):
        return None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        lists = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(lists) == 1 and _listed(lists[0]) is not None:
            return _listed(lists[0])
    inner = _listed(annotation)
    return _NOT_LISTED if inner is None else inner


def _listed(annotation: object) -> Any:
    """``X`` of ``list[X]`` (or ``Sequence[X]``); None for anything else."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in _LISTS and len(args) == 1:
        return args[0]
    return None


def _first_parameter_fix(annotation: object, batch: bool) -> str:
    """What to write instead of the first parameter's ``annotation``."""
    if batch:
        if isinstance(annotation, type) and issubclass(annotation, Event):
            return (
                f"a batch handler takes a list of requests: annotate the first parameter "
                f"requests: list[{annotation.__name__}], or declare it with .handler or "
                ".compensation to take one request at a time"
            )
        return (
            "annotate the first parameter with a list of the one event class it handles, "
            "requests: list[MyEvent]"
        )
    inner = _listed(annotation)
    if isinstance(inner, type) and issubclass(inner, Event):
        return (
            f"it takes a list of {inner.__name__}: declare it with .batch_handler or "
            ".batch_compensation, or annotate the first parameter with the event class alone"
        )
    return "annotate the first parameter with the event class it handles"


def _check_context(where: str, annotation: object, batch: bool) -> None:
    """A second parameter annotated with the other kind of context is a mix-up: say so."""
    wrong, right = (Context, "BatchContext") if batch else (BatchContext, "Context")
    if annotation is wrong:
        raise DefinitionError(
            f"{where}: a {'batch ' if batch else ''}handler's second parameter is a {right}, "
            f"not a {wrong.__name__}; annotate it context: {right}"
        )
