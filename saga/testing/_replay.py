"""Replaying a recorded instance through the engine, as a regression test of a definition.

A recording (``Harness.recording`` or a durable runtime's export) holds the inputs one
instance handled, with the time each was handled, and the history they produced. Replaying
feeds the same inputs to :func:`saga.engine.decide.decide` and returns the history it produces
now: compare it with the recorded one to catch a change that alters running instances.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from saga.definition.model import SagaDefinition
from saga.definition.saga import Saga, definition_of
from saga.engine.decide import decide
from saga.engine.instance import HistoryEntry, Instance
from saga.engine.messages import input_from_json


def replay(
    saga: type[Saga[Any]] | SagaDefinition, recording: Mapping[str, Any]
) -> list[HistoryEntry]:
    """The history the current definition produces for the recorded inputs."""
    definition = definition_of(saga)
    instance: Instance | None = None
    history: list[HistoryEntry] = []
    for item in recording["inputs"]:
        decision = decide(
            definition, instance, input_from_json(item["input"]), datetime.fromisoformat(item["at"])
        )
        if decision.outcome == "applied":
            assert decision.instance is not None
            assert decision.history is not None
            instance = decision.instance
            history.append(decision.history)
    return history


def recorded_history(recording: Mapping[str, Any]) -> list[HistoryEntry]:
    """The history stored in a recording."""
    return [HistoryEntry.from_json(raw) for raw in recording["history"]]
