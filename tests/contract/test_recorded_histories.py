"""The recorded histories come out again on every runtime (times aside)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from saga.engine.instance import HistoryEntry
from saga.testing._replay import recorded_history
from saga.testing.harness import EPOCH
from tests.contract.recordings import HISTORIES, SCENARIOS
from tests.contract.runtime import RuntimeFactory


def timeless(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    return [dataclasses.replace(e, at=EPOCH) for e in entries]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_recorded_history_comes_out_again(runtime: RuntimeFactory, name: str) -> None:
    recording = json.loads((HISTORIES / f"{name}.json").read_text())
    scenario = SCENARIOS[name]
    rt = scenario.play(runtime)
    history = list(rt.history(scenario.saga, scenario.instance_id))
    assert timeless(history) == timeless(recorded_history(recording))
