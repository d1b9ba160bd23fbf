"""Reading and making topics on the real broker, the same way in every integration test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from saga.testing import eventually


def poll_messages(consumer: Consumer, count: int, timeout: float = 30.0) -> list[Message]:
    """Up to ``count`` records from a subscribed or assigned consumer, fewer if ``timeout``
    runs out first (the caller's assertion then says what is missing)."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        error = msg.error()
        if error is not None:
            assert error.code() == KafkaError._PARTITION_EOF, error
            continue
        got.append(msg)
    return got


def read_committed_messages(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 60.0
) -> list[Message]:
    """Every committed record of ``topic`` (read_committed), in order within a partition.

    It reads on to the end of every partition once ``expect`` records arrived, so that a
    record published twice shows up twice.
    """
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    records: list[Message] = []
    try:
        partitions = set(reader.list_topics(topic, timeout=30).topics[topic].partitions)
        reader.assign([TopicPartition(topic, p, 0) for p in partitions])
        at_end: set[int] = set()

        def read_some() -> bool:
            for message in reader.consume(100, 0.5):
                error = message.error()
                if error is None:
                    records.append(message)
                    at_end.discard(message.partition() or 0)
                else:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    at_end.add(message.partition() or 0)
            return len(records) >= expect and at_end == partitions

        eventually(read_some, timeout=timeout, interval=0, what=f"{expect} records and the end")
    finally:
        reader.close()
    return records


@contextmanager
def new_topic(
    bootstrap: str, name: str, *, partitions: int = 3, config: dict[str, str] | None = None
) -> Iterator[str]:
    """The topic ``name`` (three partitions unless told; ``config``: topic settings), deleted
    afterwards (tests share the broker)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})
    admin.create_topics([topic])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)
