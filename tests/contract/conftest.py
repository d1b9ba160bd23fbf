"""The ``runtime`` fixture: the contract suite runs once per runtime.

``memory`` is the in-memory harness; ``durable`` is a real worker on Kafka and PostgreSQL
(marked ``integration``), each runtime on a fresh database and topics of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from saga.definition.participant import Participant
from saga.definition.saga import Saga
from saga.testing.harness import Harness
from tests.contract.runtime import RuntimeFactory, SagaRuntime


def _memory(sagas: Sequence[type[Saga[Any]]], participants: Sequence[Participant]) -> SagaRuntime:
    return Harness(sagas=sagas, participants=participants)


@pytest.fixture(
    params=["durable", "memory"],
    ids=["durable", "memory"],
)
def runtime(request: pytest.FixtureRequest) -> Iterator[RuntimeFactory]:
    """A factory of empty runtimes of one kind: runtime(sagas, participants)."""
    if request.param == "memory":
        yield _memory
        return
    request.applymarker(pytest.mark.integration)
    from tests.contract.durable import DurableRuntime

    bootstrap: str = request.getfixturevalue("kafka_bootstrap")
    # Asked for here, not inside the factory: dropped after the runtimes below are closed.
    url: str = request.getfixturevalue("fresh_database_url")
    opened: list[DurableRuntime] = []

    def durable(
        sagas: Sequence[type[Saga[Any]]], participants: Sequence[Participant]
    ) -> DurableRuntime:
        assert not opened, "one durable runtime per test (they would share the database)"
        runtime = DurableRuntime(sagas, participants, database_url=url, kafka_bootstrap=bootstrap)
        opened.append(runtime)
        return runtime

    try:
        yield durable
    finally:
        for runtime in opened:
            runtime.close()
