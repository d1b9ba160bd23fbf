"""What flows into sagas and participants: events with their envelope fields, fired
deadlines and external signals.

Ids of emitted events are derived from the input that caused them (:func:`derived_id`), so
handling the same input twice emits the same ids: a redelivered input is harmless even
before the inbox sees it, and a replayed history reproduces the same ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from saga.events import Event, event_class, event_name

# Namespace of the ids this framework derives; fixed forever so replays stay identical.
_ID_NAMESPACE = uuid.UUID("6f1c2f6e-8a51-4a53-9a62-3d8f3c1b7a10")


def derived_id(*parts: str) -> str:
    """A stable id (UUID 5) for an event emitted because of ``parts`` (consumer, input id…)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


def new_id() -> str:
    """A fresh random id for an input that enters the system (a published event, a signal)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Message:
    """An event with its envelope fields: its id, the saga it belongs to, what caused it."""

    event: Event
    event_id: str
    correlation_id: str
    causation_id: str | None = None

    @property
    def event_type(self) -> str:
        """The Avro full name of the event (the ``event-type`` header on the wire)."""
        return event_name(self.event)

    @property
    def input_id(self) -> str:
        return self.event_id

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "event",
            "type": self.event_type,
            "payload": self.event.model_dump(mode="json"),
            "event_id": self.event_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }


@dataclass(frozen=True, slots=True)
class DeadlineFired:
    """The clock passed the deadline a saga instance set when it entered its state."""

    saga: str
    instance_id: str
    deadline_id: str

    @property
    def input_id(self) -> str:
        return self.deadline_id

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "deadline",
            "saga": self.saga,
            "instance_id": self.instance_id,
            "deadline_id": self.deadline_id,
        }


@dataclass(frozen=True, slots=True)
class SignalReceived:
    """An external signal (a manual cancel…) sent to one saga instance."""

    saga: str
    instance_id: str
    name: str
    signal_id: str

    @property
    def input_id(self) -> str:
        return self.signal_id

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "signal",
            "saga": self.saga,
            "instance_id": self.instance_id,
            "name": self.name,
            "signal_id": self.signal_id,
        }


Input = Message | DeadlineFired | SignalReceived


def input_from_json(raw: dict[str, Any]) -> Input:
    """The input :meth:`to_json` wrote (event classes are found in the event registry)."""
    kind = raw["kind"]
    if kind == "event":
        cls = event_class(raw["type"])
        return Message(
            event=cls.model_validate(raw["payload"], strict=False),
            event_id=raw["event_id"],
            correlation_id=raw["correlation_id"],
            causation_id=raw["causation_id"],
        )
    if kind == "deadline":
        return DeadlineFired(raw["saga"], raw["instance_id"], raw["deadline_id"])
    return SignalReceived(raw["saga"], raw["instance_id"], raw["name"], raw["signal_id"])
