"""Several versions of one saga side by side: instances stay on the version they started
with, new ones start on the newest, and an instance whose version is not hosted is parked
with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from saga import Saga, Start, State, transition
from saga.engine.hosting import SagaVersions, Subscriptions
from saga.engine.messages import Message, derived_id
from saga.engine.processing import handle_inputs
from saga.errors import DefinitionError
from saga.testing._memory import MemoryStore
from tests.sagas.jobs import Begun, Job, No, Yes

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class JobV1(Saga[Job], name="test.Versioned", correlation="job_id", version=1):
    start = Start(Begun, to="waiting")
    waiting = State()
    done = State(final="completed")
    finish = transition(waiting, on=Yes, to=done)


class JobV2(Saga[Job], name="test.Versioned", correlation="job_id", version=2):
    start = Start(Begun, to="waiting")
    waiting = State()
    done = State(final="completed")
    refused = State(final="compensated")
    finish = transition(waiting, on=Yes, to=done)
    refuse = transition(waiting, on=No, to=refused)  # new in version 2


def msg(event: BaseModel, name: str) -> Message:
    return Message.new(event, event_id=derived_id("v", name), correlation_id="x", producer="t")  # type: ignore[arg-type]


def run(store: MemoryStore, hosted: SagaVersions, message: Message) -> None:
    with store.unit_of_work() as uow:
        handle_inputs(uow, hosted, [message], NOW)


def test_instances_keep_their_version_and_new_ones_start_on_the_newest() -> None:
    store = MemoryStore()
    (only_v1,) = SagaVersions.group([JobV1])
    run(store, only_v1, msg(Begun(job_id="old"), "old-start"))
    (both,) = SagaVersions.group([JobV2, JobV1])
    assert both.newest.version == 2
    run(store, both, msg(Begun(job_id="new"), "new-start"))
    run(store, both, msg(No(job_id="old"), "old-no"))  # v1 has no such transition
    run(store, both, msg(No(job_id="new"), "new-no"))
    old, new = store.load("test.Versioned", "old"), store.load("test.Versioned", "new")
    assert old is not None
    assert new is not None
    assert (old.definition_version, old.state) == (1, "waiting")
    assert (new.definition_version, new.status) == (2, "compensated")


def test_an_instance_whose_version_is_not_hosted_is_parked_with_the_reason() -> None:
    store = MemoryStore()
    (only_v1,) = SagaVersions.group([JobV1])
    run(store, only_v1, msg(Begun(job_id="j"), "start"))
    (only_v2,) = SagaVersions.group([JobV2])
    run(store, only_v2, msg(Yes(job_id="j"), "yes"))
    parked = store.load("test.Versioned", "j")
    assert parked is not None
    assert parked.status == "failed"
    assert parked.parked_reason is not None
    assert "version 1 of saga test.Versioned is not hosted here (hosted: 2)" in parked.parked_reason


def test_the_same_version_twice_and_a_name_shared_with_a_participant_are_refused() -> None:
    from saga import Participant

    class Clash(Saga[Job], name="test.Versioned", correlation="job_id", version=1):
        start = Start(Begun, to="done")
        done = State(final="completed")

    with pytest.raises(DefinitionError, match="version 1 is given twice"):
        SagaVersions.group([JobV1, Clash])
    with pytest.raises(DefinitionError, match="share a name"):
        Subscriptions.of([JobV1], [Participant("test.Versioned")])
