"""The consumer loop blames the right input when a batch handler raises: the batch's try
counts for none of its records, the replay (one record per transaction) hands the handler
one request at a time, and only the one that fails there is retried and dead-lettered.

The loop runs for real here, on records made in memory (a stand-in for the Kafka consumer)
and the in-memory store (what the loop asks of PostgreSQL: claims, outbox, dead letters).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Message as KafkaMessage
from confluent_kafka import TopicPartition

from saga.contracts.schemas import contracts_of
from saga.contracts.serde import Serializer
from saga.definition.participant import Participant
from saga.engine.hosting import Consumer
from saga.engine.messages import Message, derived_id
from saga.kafka.dead_letters import DEAD_LETTER_GROUP
from saga.runtime.loop import ConsumerLoop, LoopOptions
from saga.settings import Settings
from saga.testing._memory import MemoryStore, MemoryUnitOfWork
from tests.sagas.jobs import Ask, Yes

NOW = datetime(2030, 1, 1, tzinfo=UTC)
JOBS = ["a", "b", "bad", "c"]
SERIALIZER = Serializer(Settings(), contracts=contracts_of([Ask, Yes]))


class Records:
    """The Kafka consumer as the loop uses it, over records made in memory."""

    def __init__(self, records: Sequence[KafkaMessage]) -> None:
        self.records = list(records)
        self.position = 0
        self.committed = 0

    def poll(self, timeout: float) -> KafkaMessage | None:
        taken = self.consume(1, timeout)
        return taken[0] if taken else None

    def consume(self, count: int, timeout: float) -> list[KafkaMessage]:
        taken = self.records[self.position : self.position + count]
        self.position += len(taken)
        return taken

    def commit(self, offsets: Sequence[TopicPartition], asynchronous: bool) -> None:
        self.committed = max(tp.offset for tp in offsets)

    def seek(self, partition: TopicPartition) -> None:
        self.position = partition.offset


class _UnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.encoded: list[dict[str, Any]] = []

    def now(self) -> datetime:
        return NOW

    def append_encoded(self, rows: Sequence[dict[str, Any]]) -> None:
        self.encoded.extend(rows)


class Store:
    """The in-memory store with what the loop adds: the time, and dead letters."""

    def __init__(self) -> None:
        self.memory = MemoryStore()
        self.dead_letters: list[dict[str, Any]] = []

    @contextmanager
    def unit_of_work(self) -> Iterator[_UnitOfWork]:
        uow = _UnitOfWork(self.memory)
        yield uow
        uow.commit()  # not reached when the block raises: nothing of it stays
        self.dead_letters.extend(uow.encoded)


def record(offset: int, job_id: str) -> KafkaMessage:
    message = Message.new(
        Ask(job_id=job_id), event_id=derived_id("ask", job_id), correlation_id=job_id, producer="t"
    )
    encoded = SERIALIZER.encode(message.event, message.envelope)
    return KafkaMessage(
        topic="jobs",
        partition=0,
        offset=offset,
        key=encoded.key,
        value=encoded.value,
        headers=list(encoded.headers),
    )


def worker(calls: list[list[str]], *, batch: bool) -> Participant:
    """A participant that cannot answer "bad", with a batch or a single handler."""
    participant = Participant("worker")

    def answer_all(requests: Sequence[Ask]) -> list[Yes]:
        calls.append([r.job_id for r in requests])
        for request in requests:
            if request.job_id == "bad":
                raise RuntimeError("cannot answer bad")
        return [Yes(job_id=r.job_id) for r in requests]

    if batch:

        @participant.batch_handler
        def answers(requests: list[Ask]) -> list[Yes]:
            return answer_all(requests)

    else:

        @participant.handler
        def answer(request: Ask) -> Yes:
            [yes] = answer_all([request])
            return yes

    return participant


def run_loop(participant: Participant, attempts: int = 2) -> tuple[Store, Records, int]:
    store = Store()
    records = Records([record(offset, job) for offset, job in enumerate(JOBS)])
    hosts: list[Consumer] = [participant]
    loop = ConsumerLoop(
        records,  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        SERIALIZER,
        lambda event_type: hosts if event_type == Ask.__event_name__ else [],
        group="jobs-group",
        inboxes=["worker"],
        options=LoopOptions(dead_letter_topic="jobs.dead-letters", attempts=attempts),
        log=logging.getLogger("test.batch_failures"),
        who="test",
        crash="test",
    )
    applied = loop.poll_once()
    return store, records, applied


def test_a_failing_request_in_a_batch_is_dead_lettered_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[list[str]] = []
    with caplog.at_level(logging.WARNING, "test.batch_failures"):
        store, records, applied = run_loop(worker(calls, batch=True))
    # The whole batch once (rolled back), then one request at a time: "bad" alone, twice.
    assert calls == [JOBS, ["a"], ["b"], ["bad"], ["bad"], ["c"]]
    assert applied == 3
    answered = [m.event for m in store.memory.take_outbox()]
    assert answered == [Yes(job_id=j) for j in ("a", "b", "c")]  # each once
    [dead] = store.dead_letters
    assert str(dead["event_id"]) == derived_id("ask", "bad")
    headers = dict(zip(dead["header_names"], dead["header_values"], strict=True))
    assert headers[DEAD_LETTER_GROUP] == b"worker"
    assert records.committed == len(JOBS)
    tries = [r.getMessage() for r in caplog.records if "failed for" in r.getMessage()]
    assert tries == [
        "test: worker failed for jobs[0]@2 (try 1 of 2): RuntimeError: cannot answer bad"
    ]


def test_with_one_attempt_no_innocent_request_is_dead_lettered() -> None:
    calls: list[list[str]] = []
    store, _, applied = run_loop(worker(calls, batch=True), attempts=1)
    assert calls == [JOBS, ["a"], ["b"], ["bad"], ["c"]]
    assert applied == 3
    assert [str(d["event_id"]) for d in store.dead_letters] == [derived_id("ask", "bad")]


def test_a_single_handler_failing_in_a_batch_is_blamed_at_once() -> None:
    calls: list[list[str]] = []
    store, records, applied = run_loop(worker(calls, batch=False))
    # The batch was the first try of "bad": one more alone, and it is dead-lettered.
    assert calls == [["a"], ["b"], ["bad"], ["a"], ["b"], ["bad"], ["c"]]
    assert applied == 3
    [dead] = store.dead_letters
    assert str(dead["event_id"]) == derived_id("ask", "bad")
    assert records.committed == len(JOBS)
