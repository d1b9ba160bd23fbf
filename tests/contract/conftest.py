"""The ``runtime`` fixture: one parameter per runtime the contract suite runs on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from saga.definition.participant import Participant
from saga.definition.saga import Saga
from saga.testing.harness import Harness
from tests.contract.runtime import RuntimeFactory, SagaRuntime


def _memory(sagas: Sequence[type[Saga[Any]]], participants: Sequence[Participant]) -> SagaRuntime:
    return Harness(sagas=sagas, participants=participants)


# A durable runtime joins here as ("durable", its factory) with the `integration` mark.
_RUNTIMES = {"memory": _memory}


@pytest.fixture(params=sorted(_RUNTIMES))
def runtime(request: pytest.FixtureRequest) -> RuntimeFactory:
    """A factory of empty runtimes of one kind: runtime(sagas, participants)."""
    factory: RuntimeFactory = _RUNTIMES[request.param]
    return factory
