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
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from saga.contracts.events import Event, contract_of, event_name
from saga.definition.signatures import event_types_in, positional_params
from saga.errors import DefinitionError


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


class Handler:
    """One typed handler of a :class:`Participant`; still callable as the plain function."""

    def __init__(
        self,
        participant: Participant,
        fn: Callable[..., Any],
        consumes: type[Event],
        emits: tuple[type[Event], ...],
        wants_context: bool,
        compensates: str | None,
    ) -> None:
        self.participant = participant
        self.fn = fn
        self.name: str = fn.__name__
        self.consumes = consumes
        self.emits = emits
        self.wants_context = wants_context
        self.compensates = compensates

    def __call__(self, event: Event, context: Context | None = None) -> Any:
        return self.fn(event, context) if self.wants_context else self.fn(event)

    def compensation(self, fn: Callable[..., Any]) -> Handler:
        """Declare ``fn`` as the handler that undoes what this handler did."""
        return self.participant._register(fn, compensates=self.name)

    def __repr__(self) -> str:
        return f"<handler {self.participant.name}.{self.name}: {self.consumes.__name__}>"


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
        return self._register(fn, compensates=None)

    def _register(self, fn: Callable[..., Any], *, compensates: str | None) -> Handler:
        where = f"participant {self.name}, handler {getattr(fn, '__name__', fn)!r}"
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:  # an annotation naming something that does not exist
            raise DefinitionError(f"{where}: annotations cannot be resolved ({exc})") from exc
        params = positional_params(fn)
        if not 1 <= len(params) <= 2:
            raise DefinitionError(
                f"{where}: takes the event and optionally the Context, "
                f"def {getattr(fn, '__name__', 'handle')}(event: MyEvent[, ctx: Context])"
            )
        consumes = hints.get(params[0].name)
        if not (isinstance(consumes, type) and issubclass(consumes, Event)):
            raise DefinitionError(
                f"{where}: annotate the first parameter with the event class it handles"
            )
        if "return" not in hints:
            raise DefinitionError(
                f"{where}, event {consumes.__name__}: add a return annotation naming the "
                "events it emits (-> MyEvent, -> A | B, -> list[A]) or -> None"
            )
        emits = event_types_in(hints["return"])
        if emits is None:
            raise DefinitionError(
                f"{where}, event {consumes.__name__}: it may return only events or None, "
                f"not {hints['return']!r}"
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
        handler = Handler(self, fn, consumes, emits, len(params) == 2, compensates)
        self.handlers[key] = handler
        return handler

    def consumes(self) -> dict[str, type[Event]]:
        return {k: h.consumes for k, h in self.handlers.items()}

    def produces(self) -> dict[str, type[Event]]:
        return {event_name(cls): cls for h in self.handlers.values() for cls in h.emits}

    def __repr__(self) -> str:
        return f"<participant {self.name}: {', '.join(self.handlers) or 'no handlers'}>"
