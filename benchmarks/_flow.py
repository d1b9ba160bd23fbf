"""The saga the worker benchmark runs: four steps one after the other, answered from a
pre-filled topic (``bench.flow``); its requests go to a topic nobody reads (``bench.work``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from saga import Event, Saga, Start, State, Step


def _avro(full_name: str) -> dict[str, Any]:
    namespace, _, name = full_name.rpartition(".")
    fields = [{"name": "flow_id", "type": "string"}, {"name": "amount", "type": "long"}]
    return {"type": "record", "name": name, "namespace": namespace, "fields": fields}


def _event(full_name: str) -> type[Event]:
    """Every event of the flow carries the flow id and an amount."""
    namespace = {"__annotations__": {"flow_id": str, "amount": int}, "__module__": __name__}
    return type(full_name.rpartition(".")[2], (Event,), namespace, schema=_avro(full_name))


Opened, Done1, Done2, Done3, Done4 = (
    _event(f"bench.flow.{n}") for n in ("Opened", "Done1", "Done2", "Done3", "Done4")
)
Do1, Do2, Do3, Do4 = (_event(f"bench.work.{n}") for n in ("Do1", "Do2", "Do3", "Do4"))


class Flow(BaseModel):
    flow_id: str
    amount: int


class FlowSaga(Saga[Flow], name="bench.FlowSaga", correlation="flow_id"):
    """Opened, then four requests answered one after the other, then completed."""

    first = Step(Do1, success=Done1, kind="retriable")
    second = Step(Do2, success=Done2, kind="retriable")
    third = Step(Do3, success=Done3, kind="retriable")
    fourth = Step(Do4, success=Done4, kind="retriable")

    start = Start(Opened, to="one")
    one = State(run=first, then="two")
    two = State(run=second, then="three")
    three = State(run=third, then="four")
    four = State(run=fourth, then="done")
    done = State(final="completed")


ANSWERS: tuple[type[Event], ...] = (Opened, Done1, Done2, Done3, Done4)
EVENTS: tuple[type[Event], ...] = (*ANSWERS, Do1, Do2, Do3, Do4)


Armed = _event("bench.timer.Armed")


class Timer(BaseModel):
    flow_id: str
    amount: int


class TimerSaga(Saga[Timer], name="bench.TimerSaga", correlation="flow_id"):
    """Waits one second for nothing: the deadline ends it (its delay is what is measured)."""

    start = Start(Armed, to="waiting")
    waiting = State(timeout=timedelta(seconds=1), on_timeout="expired")
    expired = State(final="completed")


EVENTS = (*EVENTS, Armed)
