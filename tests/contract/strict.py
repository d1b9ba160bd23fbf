"""A saga whose events must always find their instance (policy ``error``)."""

from __future__ import annotations

from pydantic import BaseModel

from saga.contracts.events import Event
from saga.definition.declarations import Start, State, transition
from saga.definition.saga import Saga
from tests.sagas import avro

_N = "test.strict."


class Opened(Event, schema=avro(_N + "Opened", ping_id="string")):
    ping_id: str


class Ping(Event, schema=avro(_N + "Ping", ping_id="string")):
    ping_id: str


class Pinged(BaseModel):
    ping_id: str


class StrictSaga(Saga[Pinged], name="test.StrictSaga", correlation="ping_id", orphans="error"):
    start = Start(Opened, to="open")
    open = State()
    done = State(final="completed")
    ping = transition(open, on=Ping, to=done)
