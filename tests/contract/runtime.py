"""What the contract suite needs from a saga runtime, whatever its bus and store.

The in-memory harness satisfies it as it is; the durable runtime (Kafka + PostgreSQL)
provides an adapter and is added as a second parameter of the ``runtime`` fixture in
``conftest.py``. The tests never touch anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from saga.contracts.events import Event
from saga.definition.participant import Participant
from saga.definition.saga import Saga
from saga.engine.instance import HistoryEntry, Instance
from saga.engine.messages import Message
from saga.testing._memory import OrphanEvent


class SagaRuntime(Protocol):
    def publish(
        self, event: Event, *, correlation_id: str | None = None, event_id: str | None = None
    ) -> Message:
        """Publish as an outside service would; the same ``event_id`` again is a redelivery."""
        ...

    def signal(self, saga: type[Saga[Any]], instance_id: str, name: str) -> bool: ...

    # Operators' commands: checked when sent (OperationRefused, UnknownInstanceError), then
    # applied; each returns the history entry it made.
    def retry(
        self,
        saga: type[Saga[Any]],
        instance_id: str,
        *,
        reason: str,
        by: str = ...,
        step: str | None = None,
    ) -> HistoryEntry: ...

    def compensate(
        self, saga: type[Saga[Any]], instance_id: str, *, reason: str, by: str = ...
    ) -> HistoryEntry: ...

    def resume(
        self, saga: type[Saga[Any]], instance_id: str, *, reason: str, by: str = ...
    ) -> HistoryEntry: ...

    def advance(self, delta: timedelta) -> None:
        """Deliver what is pending, then let ``delta`` of time pass, firing due deadlines."""
        ...

    def drain(self) -> int:
        """Deliver until nothing is left to deliver."""
        ...

    def instance(self, saga: type[Saga[Any]], instance_id: str) -> Instance: ...

    def history(self, saga: type[Saga[Any]], instance_id: str) -> Sequence[HistoryEntry]: ...

    def published(
        self, event_type: type[Event] | None = None, *, correlation_id: str | None = None
    ) -> list[Message]: ...

    @property
    def orphans(self) -> list[OrphanEvent]: ...


#: Builds a runtime running the given sagas and participants, empty.
RuntimeFactory = Callable[[Sequence[type[Saga[Any]]], Sequence[Participant]], SagaRuntime]
