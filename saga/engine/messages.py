"""What flows into sagas and participants: events with their envelope, fired deadlines,
external signals and operators' commands.

Ids of emitted events are derived from the input that caused them (:func:`derived_id`), so
handling the same input twice emits the same ids: a redelivered input is harmless even
before the inbox sees it, and a replayed history reproduces the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast
from uuid import UUID

from saga.contracts.envelope import Decoded, Envelope
from saga.contracts.events import Event, event_class

# Namespace of the ids this framework derives; fixed forever so replays stay identical.
_ID_NAMESPACE = uuid.UUID("6f1c2f6e-8a51-4a53-9a62-3d8f3c1b7a10")


def derived_id(*parts: str) -> str:
    """A stable id (UUID 5) for an event emitted because of ``parts`` (consumer, input id…)."""
    return str(derived_uuid(*parts))


def derived_uuid(*parts: str) -> UUID:
    """:func:`derived_id` as a UUID (envelopes carry UUIDs: no text round trip)."""
    return uuid.uuid5(_ID_NAMESPACE, "/".join(parts))


def new_id() -> str:
    """A fresh random id for an input that enters the system (a published event, a signal)."""
    return str(uuid.uuid4())


class Message(Decoded):
    """An event with its envelope: what sagas and participants receive and emit.

    It is the serializer's :class:`~saga.contracts.envelope.Decoded` pair with the
    envelope's fields at hand (ids as text) and a constructor for new events.
    """

    __slots__ = ()

    @classmethod
    def new(
        cls,
        event: Event,
        *,
        correlation_id: str,
        producer: str,
        event_id: str | UUID | None = None,
        causation_id: str | UUID | None = None,
        occurred_at: datetime | None = None,
        traceparent: str | None = None,
    ) -> Message:
        """A message for ``event`` with a new envelope (a random id unless given)."""
        return cls(
            event,
            Envelope.new(
                event,
                correlation_id=correlation_id,
                producer=producer,
                event_id=None if event_id is None else _uuid(event_id),
                causation_id=None if causation_id is None else _uuid(causation_id),
                occurred_at=occurred_at,
                traceparent=traceparent,
            ),
        )

    @property
    def event_id(self) -> str:
        return str(self.envelope.event_id)

    @property
    def correlation_id(self) -> str:
        return self.envelope.correlation_id

    @property
    def causation_id(self) -> str | None:
        causation = self.envelope.causation_id
        return None if causation is None else str(causation)

    @property
    def event_type(self) -> str:
        """The Avro full name of the event (the ``event-type`` header on the wire)."""
        return self.envelope.event_type

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


def _uuid(value: str | UUID) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


@dataclass(frozen=True, slots=True)
class DeadlineFired:
    """The clock passed the deadline a saga instance set when it entered its state."""

    saga: str
    instance_id: str
    deadline_id: str
    due: datetime | None = field(default=None, compare=False)
    """When it was due, when the runtime knows (to measure how late it fired)."""

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
    data: Mapping[str, Any] = field(default_factory=dict)
    """What the sender attached (JSON); guards and actions of the transition read it."""
    by: str | None = None
    """Who sent it, when an operator did (``saga sagas cancel``): kept in the history."""
    reason: str | None = None

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
            **({"data": dict(self.data)} if self.data else {}),
            **({"by": self.by} if self.by is not None else {}),
            **({"reason": self.reason} if self.reason is not None else {}),
        }


Operation = Literal["retry", "compensate", "resume"]
#: What an operator may tell one instance to do (:mod:`saga.engine.operations`).
OPERATIONS: tuple[Operation, ...] = ("retry", "compensate", "resume")


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """An operator's command to one saga instance (``saga sagas retry|compensate|resume``).

    It is an input like a signal: applied by a worker through the processing path, once,
    under the instance's version; who gave it and why stay in the instance's history.
    """

    saga: str
    instance_id: str
    operation: Operation
    command_id: str
    by: str
    reason: str
    step: str | None = None
    """``retry`` only: the one step to request again (default: the failed ones)."""

    @property
    def input_id(self) -> str:
        return self.command_id

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "operator",
            "saga": self.saga,
            "instance_id": self.instance_id,
            "operation": self.operation,
            "command_id": self.command_id,
            "by": self.by,
            "reason": self.reason,
            **({"step": self.step} if self.step is not None else {}),
        }


Input = Message | DeadlineFired | SignalReceived | OperatorCommand


def input_from_json(raw: dict[str, Any]) -> Input:
    """The input :meth:`to_json` wrote (event classes are found in the event registry)."""
    kind = raw["kind"]
    if kind == "event":
        cls = event_class(raw["type"])
        return Message.new(
            cls.model_validate(raw["payload"], strict=False),
            event_id=raw["event_id"],
            correlation_id=raw["correlation_id"],
            causation_id=raw["causation_id"],
            producer="recorded",  # recordings keep what decides, not who sent it
        )
    if kind == "deadline":
        return DeadlineFired(raw["saga"], raw["instance_id"], raw["deadline_id"])
    if kind == "operator":
        return OperatorCommand(
            raw["saga"],
            raw["instance_id"],
            cast(Operation, raw["operation"]),
            raw["command_id"],
            raw["by"],
            raw["reason"],
            raw.get("step"),
        )
    return SignalReceived(
        raw["saga"],
        raw["instance_id"],
        raw["name"],
        raw["signal_id"],
        raw.get("data", {}),
        raw.get("by"),
        raw.get("reason"),
    )
