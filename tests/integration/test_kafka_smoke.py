"""The real broker does what the framework relies on: idempotent production, consumer groups
with committed offsets that survive a restart, and transactions hidden until committed."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from saga import Settings
from tests.integration._kafka import poll_messages

pytestmark = pytest.mark.integration


def _config(bootstrap: str, **extra: str | int | bool) -> dict[str, str | int | float | bool]:
    return Settings().kafka_config(bootstrap, **extra)


def _produce(producer: Producer, topic: str, records: list[tuple[str, str]]) -> None:
    errors: list[object] = []
    for key, value in records:
        producer.produce(
            topic, key=key, value=value, on_delivery=lambda e, _m: e and errors.append(e)
        )
    assert producer.flush(30) == 0
    assert errors == []


def test_group_offsets_survive_a_consumer_restart(kafka_bootstrap: str, kafka_topic: str) -> None:
    producer = Producer(_config(kafka_bootstrap, **{"enable.idempotence": True, "acks": "all"}))
    records = [(f"key-{i % 5}", f"value-{i}") for i in range(20)]
    _produce(producer, kafka_topic, records)

    group = f"group-{uuid.uuid4().hex[:8]}"
    settings = {
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    first = Consumer(_config(kafka_bootstrap, **settings))
    first.subscribe([kafka_topic])
    seen = poll_messages(first, 20)
    assert sorted(m.value().decode() for m in seen) == sorted(v for _, v in records)
    # Per-key order: a key's values arrive in the order they were produced.
    for key in {k for k, _ in records}:
        produced = [v for k, v in records if k == key]
        consumed = [m.value().decode() for m in seen if m.key().decode() == key]
        assert consumed == produced
    first.commit(asynchronous=False)
    committed = first.committed([TopicPartition(kafka_topic, p) for p in range(3)], timeout=10)
    first.close()
    by_partition: dict[int, int] = {}
    for m in seen:
        by_partition[m.partition()] = max(by_partition.get(m.partition(), -1), m.offset())
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == {
        p: last + 1 for p, last in by_partition.items()
    }

    more = [(f"key-{i}", f"late-{i}") for i in range(3)]
    _produce(producer, kafka_topic, more)
    second = Consumer(_config(kafka_bootstrap, **settings))
    second.subscribe([kafka_topic])
    resumed = poll_messages(second, 3)
    second.close()
    # The restarted member continues after the committed offsets: only the new records.
    assert sorted(m.value().decode() for m in resumed) == sorted(v for _, v in more)


def test_aborted_transaction_is_invisible_to_read_committed(
    kafka_bootstrap: str, kafka_topic: str
) -> None:
    producer = Producer(
        _config(kafka_bootstrap, **{"transactional.id": f"tx-{uuid.uuid4().hex[:8]}"})
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(kafka_topic, key="k", value="committed-1")
    producer.produce(kafka_topic, key="k", value="committed-2")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(kafka_topic, key="k", value="aborted")
    assert producer.flush(30) == 0  # written to the log before the abort, not just purged
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(kafka_topic, key="k", value="committed-3")
    producer.commit_transaction(30)

    def read(isolation: str) -> list[str]:
        consumer = Consumer(
            _config(
                kafka_bootstrap,
                **{
                    "group.id": f"g-{uuid.uuid4().hex[:8]}",
                    "auto.offset.reset": "earliest",
                    "isolation.level": isolation,
                    "enable.partition.eof": True,
                },
            )
        )
        consumer.subscribe([kafka_topic])
        values = [m.value().decode() for m in poll_messages(consumer, 4, timeout=15)]
        consumer.close()
        return values

    assert read("read_committed") == ["committed-1", "committed-2", "committed-3"]
    # read_uncommitted sees the aborted record: proof that it reached the log.
    assert "aborted" in read("read_uncommitted")
