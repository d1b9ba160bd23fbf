"""The parts a saga is declared with: steps, states, starts, signals and transitions.

A saga is a class that reads like the business process (see :mod:`saga.definition.saga`):

::

    class OrderSaga(Saga[Order], correlation="order_id"):
        reserve = Step(ReserveStock, success=StockReserved, failure=OutOfStock,
                       compensation=ReleaseStock)
        pay = Step(ChargeCard, success=CardCharged, failure=CardDeclined, kind="pivot")

        start = Start(OrderPlaced, to="reserving")
        reserving = State(run=reserve, then="paying", timeout=timedelta(minutes=5))
        paying = State(run=pay, then="completed")
        completed = State(final="completed")

* ``Saga[Order]``: the instance's data, a pydantic model, filled from the start event's
  fields of the same names (or by ``Start(..., data=fn)``).
* ``Step``: a request the saga emits when it enters the state that runs it, the events
  that answer it, and the event that undoes it. A step's request (and compensation) given
  as an event class is filled from the data's fields of the same names; pass a function of
  the data for anything else. Success answers copy their fields of the same names into the
  data unless ``on_success`` says otherwise.
* ``State(run=(a, b), then=...)`` runs steps in parallel and joins: it moves on when all
  succeeded; if one fails, the ones that succeeded (even later) are compensated.
* ``timeout=`` sets a deadline on entry, cancelled on exit; it fires ``on_timeout``
  (default: compensate).
* ``transition(...)`` moves on an event or a ``Signal``, with an optional guard and action.
* Terminal states: ``State(final="completed")``; ``compensated`` and ``failed`` (parked)
  states are added when not declared. A completed or compensated state may announce the
  end to other services: ``State(final="compensated", emit=OrderCancelled)`` (built from
  the data like a step's request).

The whole definition is checked when the class is created (:mod:`saga.definition._compile`): a
mistake is one :class:`~saga.errors.DefinitionError` naming the saga, state and event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from saga.contracts.events import Event
from saga.definition.model import Outcome, StepKind


class Compensate:
    """Type of :data:`COMPENSATE`."""

    def __repr__(self) -> str:
        return "COMPENSATE"


#: Target that rolls the saga back: completed steps are compensated in reverse order.
COMPENSATE = Compensate()


class _Named:
    """A declaration that learns its name from the class attribute it is assigned to."""

    name: str = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name


class Step(_Named):
    """One request to another service, the answers that end it and how to undo it.

    ``kind``: ``"compensatable"`` (the default; needs ``compensation``), ``"pivot"`` (the
    point of no return: once it succeeded nothing is compensated) or ``"retriable"`` (a
    failure re-sends the request up to ``attempts`` times; the only kind allowed after the
    pivot).
    """

    def __init__(
        self,
        request: type[Event] | Callable[[Any], Event],
        *,
        success: type[Event] | Sequence[type[Event]],
        failure: type[Event] | Sequence[type[Event]] = (),
        compensation: type[Event] | Callable[[Any], Event] | None = None,
        kind: StepKind = "compensatable",
        attempts: int = 3,
        on_success: Callable[[Any, Any], None] | None = None,
    ) -> None:
        self.request = request
        self.success = _as_tuple(success)
        self.failure = _as_tuple(failure)
        self.compensation = compensation
        self.kind = kind
        self.attempts = attempts
        self.on_success = on_success


class State(_Named):
    """A state of the saga: the steps it runs, where it goes next, its deadline.

    ``emit`` (completed or compensated states only): the event the saga emits when it ends
    here, so that other services learn the outcome; an Event class filled from the data's
    fields of the same names, or a function of the data.
    """

    def __init__(
        self,
        *,
        run: Step | Sequence[Step] = (),
        then: State | str | None = None,
        timeout: timedelta | None = None,
        on_timeout: State | str | Compensate = COMPENSATE,
        final: Outcome | None = None,
        emit: type[Event] | Callable[[Any], Event] | None = None,
    ) -> None:
        self.run: tuple[Step, ...] = (run,) if isinstance(run, Step) else tuple(run)
        self.then = then
        self.timeout = timeout
        self.on_timeout = on_timeout
        self.final = final
        self.emit = emit


class Start(_Named):
    """An event that creates an instance and the state it enters."""

    def __init__(
        self,
        event: type[Event],
        *,
        to: State | str,
        data: Callable[[Any], BaseModel] | None = None,
    ) -> None:
        self.event = event
        self.to = to
        self.data = data


class Signal(_Named):
    """An external signal (a manual cancel…) that transitions accept in given states."""

    def __init__(self, description: str = "") -> None:
        self.description = description


class Transition(_Named):
    """A move from one or more states on an event or signal; see :func:`transition`."""

    def __init__(
        self,
        source: State | str | Sequence[State | str],
        on: type[Event] | Signal,
        to: State | str | Compensate,
        guard: Callable[[Any, Any], bool] | None,
    ) -> None:
        self.sources: tuple[State | str, ...] = (
            (source,) if isinstance(source, State | str) else tuple(source)
        )
        self.on = on
        self.to = to
        self.guard = guard
        self.action: Callable[[Any, Any], Any] | None = None

    def __call__(self, action: Callable[[Any, Any], Any]) -> Transition:
        """Use as a decorator: ``action(data, event)`` runs on the move and returns the events
        it emits (its return annotation names them: ``-> Shipped | None``)."""
        self.action = action
        return self


def transition(
    source: State | str | Sequence[State | str],
    *,
    on: type[Event] | Signal,
    to: State | str | Compensate,
    guard: Callable[[Any, Any], bool] | None = None,
) -> Transition:
    """A transition from ``source`` on an event or signal to a state (or ``COMPENSATE``).

    ``guard(data, event)`` must be true for it to fire; among transitions on the same
    trigger the first whose guard holds wins, and only the last may omit its guard. Assign it
    to a class attribute, or decorate an action with it.
    """
    return Transition(source, on, to, guard)


def _as_tuple(value: type[Event] | Sequence[type[Event]]) -> tuple[type[Event], ...]:
    return (value,) if isinstance(value, type) else tuple(value)
