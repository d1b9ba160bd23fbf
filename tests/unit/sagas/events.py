"""Small events for the definition and engine unit tests (inline Avro contracts)."""

from __future__ import annotations

from pydantic import BaseModel

from saga.contracts.events import Event
from tests.contract.shop import avro

_N = "test.unit."


def _schema(name: str) -> dict[str, object]:
    return avro(_N + name, job_id="string")


class Begun(Event, name=_N + "Begun", schema=_schema("Begun")):
    job_id: str


class Ask(Event, name=_N + "Ask", schema=_schema("Ask")):
    job_id: str


class Yes(Event, name=_N + "Yes", schema=_schema("Yes")):
    job_id: str


class No(Event, name=_N + "No", schema=_schema("No")):
    job_id: str


class Undo(Event, name=_N + "Undo", schema=_schema("Undo")):
    job_id: str


class Ask2(Event, name=_N + "Ask2", schema=_schema("Ask2")):
    job_id: str


class Yes2(Event, name=_N + "Yes2", schema=_schema("Yes2")):
    job_id: str


class No2(Event, name=_N + "No2", schema=_schema("No2")):
    job_id: str


class Undo2(Event, name=_N + "Undo2", schema=_schema("Undo2")):
    job_id: str


class Poke(Event, name=_N + "Poke", schema=_schema("Poke")):
    job_id: str


class Note(Event, name=_N + "Note", schema=_schema("Note")):
    job_id: str


class Unlisted(Event, name=_N + "Unlisted"):
    """An event class with no Avro contract."""

    job_id: str


class NotAnEvent(BaseModel):
    job_id: str


class Job(BaseModel):
    job_id: str
    pokes: int = 0
