"""Small events for the definition and engine unit tests (inline Avro contracts)."""

from __future__ import annotations

from pydantic import BaseModel

from saga.contracts.events import Event
from tests.sagas import avro

_N = "test.unit."


def _schema(name: str) -> dict[str, object]:
    return avro(_N + name, job_id="string")


class Begun(Event, schema=_schema("Begun")):
    job_id: str


class Ask(Event, schema=_schema("Ask")):
    job_id: str


class Yes(Event, schema=_schema("Yes")):
    job_id: str


class No(Event, schema=_schema("No")):
    job_id: str


class Undo(Event, schema=_schema("Undo")):
    job_id: str


class Ask2(Event, schema=_schema("Ask2")):
    job_id: str


class Yes2(Event, schema=_schema("Yes2")):
    job_id: str


class No2(Event, schema=_schema("No2")):
    job_id: str


class Undo2(Event, schema=_schema("Undo2")):
    job_id: str


class Poke(Event, schema=_schema("Poke")):
    job_id: str


class Note(Event, schema=_schema("Note")):
    job_id: str


class Unlisted(Event, name=_N + "Unlisted"):
    """An event class with no Avro contract."""

    job_id: str


class NotAnEvent(BaseModel):
    job_id: str


class Job(BaseModel):
    job_id: str
    pokes: int = 0
