"""The relay's progress, kept in Kafka inside each lane's transaction.

Every Kafka transaction of lane ``L`` carries, next to the events, one record on partition
``L`` of the progress topic listing the outbox ids it publishes, and the ids of the lane's
previous transaction while the relay is still marking them (it marks one batch while the
next one is in flight). The record commits or aborts with the events, so after any crash
the last committed record of the partition names every row that reached the topic and may
not be marked yet; marking is idempotent, so naming a marked row again is harmless. Only the
lane's transactional producer writes that partition, so once ``init_transactions`` has
fenced the previous owner no transaction is open there and the partition can be read to
its end. The topic is compacted: the last record per lane is all that is ever needed.

A record carries the identity of the outbox it was written for
(:func:`saga.postgres.relay_store.outbox_identity`): row ids are only meaningful in that
outbox, and a record of another one (its database dropped and created again under the same
name, or another service's relay under the same name) must never mark rows here.
"""

from __future__ import annotations

import uuid
import zlib
from array import array
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, NamedTuple

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.cimpl import NewTopic

from saga.errors import ConfigError, TransportError
from saga.kafka.admin import admin_client, broker_topics, unreachable

_LEGACY = b"\x01"  # ids only: written before outboxes had an identity
_FORMAT = b"\x02"  # the outbox's identity (16 bytes), then the ids
_WINDOW = 64


class Progress(NamedTuple):
    """A progress record: the outbox it was written for (None: a record from before
    outboxes had an identity) and the row ids it names."""

    outbox: uuid.UUID | None
    ids: list[int]


def encode_progress(outbox: uuid.UUID, ids: Sequence[int]) -> bytes:
    """The outbox's identity, then ascending ids as compressed 64-bit deltas."""
    deltas = array("q", [ids[0]] if ids else [])
    deltas.extend(b - a for a, b in pairwise(ids))
    return _FORMAT + outbox.bytes + zlib.compress(deltas.tobytes(), 1)


def decode_progress(value: bytes) -> Progress:
    kind = value[:1]
    if kind not in (_FORMAT, _LEGACY):
        raise TransportError(
            f"progress record in an unknown format ({kind.hex()}): the topic is shared "
            "with another program; give this relay its own name"
        )
    outbox: uuid.UUID | None = None
    body = value[1:]
    try:
        if kind == _FORMAT:
            outbox, body = uuid.UUID(bytes=value[1:17]), value[17:]
        deltas = array("q")
        deltas.frombytes(zlib.decompress(body))
    except (zlib.error, ValueError, TypeError) as exc:
        raise TransportError(
            f"corrupt progress record ({exc}): delete the relay's progress topic only if "
            "every outbox row it names is marked published, or give the relay a new name"
        ) from None
    ids: list[int] = []
    total = 0
    for delta in deltas:
        total += delta
        ids.append(total)
    return Progress(outbox, ids)


def lane_key(lane: int) -> bytes:
    return f"lane-{lane}".encode()


def ensure_topic(config: dict[str, Any], topic: str, partitions: int, timeout: float) -> None:
    """Create the compacted progress topic unless it exists with enough partitions."""
    admin = admin_client(config)
    new = NewTopic(
        topic,
        num_partitions=partitions,
        replication_factor=-1,
        config={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
    )
    try:
        admin.create_topics([new])[topic].result(timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise TransportError(f"cannot create progress topic {topic}: {exc}") from exc
    except TimeoutError as exc:  # unreachable, or refusing the login: librdkafka retries
        raise unreachable(config, timeout, exc) from None
    known = broker_topics(admin, config, timeout).get(topic)
    if known is not None and len(known.partitions) < partitions:
        raise ConfigError(
            f"progress topic {topic} has {len(known.partitions)} partitions but the relay "
            f"needs {partitions} (one per lane): delete it or choose another relay name"
        )


class ProgressReader:
    """Reads the last committed progress record of a lane (read_committed)."""

    def __init__(self, config: dict[str, Any], topic: str) -> None:
        self._topic = topic
        self._consumer = Consumer(
            {
                **config,
                "group.id": f"{topic}.reader",  # never commits; librdkafka wants a group
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 20,
            }
        )

    def close(self) -> None:
        self._consumer.close()

    def last(self, lanes: list[int], timeout: float) -> dict[int, Progress]:
        """Each lane's last committed progress record (none: a lane never published)."""
        found: dict[int, Progress] = {}
        windows: dict[int, tuple[int, int, int]] = {}  # lane: (low, start, end)
        for lane in lanes:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, lane), timeout=timeout, cached=False
                )
            except KafkaException as exc:
                raise TransportError(f"cannot read progress of lane {lane}: {exc}") from exc
            if high > low:
                windows[lane] = (low, max(low, high - _WINDOW), high)
        size = _WINDOW
        for _ in range(64):  # bounded: each pass reaches 4 times further back
            if not windows:
                break
            last = self._read(windows, timeout)
            further: dict[int, tuple[int, int, int]] = {}
            for lane, (low, start, _) in windows.items():
                value = last.get(lane)
                if value is not None:
                    found[lane] = decode_progress(value)
                elif start > low:  # only aborted transactions and markers: look further back
                    further[lane] = (low, max(low, start - size * 4), start)
            windows = further
            size *= 4
        return found

    def _read(self, windows: dict[int, tuple[int, int, int]], timeout: float) -> dict[int, bytes]:
        """The last record with the lane's key in each lane's window [start, end)."""
        self._consumer.assign(
            [TopicPartition(self._topic, lane, start) for lane, (_, start, _) in windows.items()]
        )
        last: dict[int, bytes] = {}
        open_lanes = set(windows)
        try:
            for _ in range(1_000_000):  # bounded: one pass over the windows plus EOF events
                if not open_lanes:
                    break
                message = self._consumer.poll(timeout)
                if message is None:
                    raise TransportError(f"no answer reading relay progress within {timeout}s")
                lane = message.partition()
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise TransportError(f"reading relay progress: {error}")
                    open_lanes.discard(lane or 0)
                    continue
                if lane is None or lane not in open_lanes:
                    continue
                if (message.offset() or 0) >= windows[lane][2]:
                    open_lanes.discard(lane)
                    continue
                value = message.value()
                if message.key() == lane_key(lane) and isinstance(value, bytes):
                    last[lane] = value
        finally:
            self._consumer.unassign()
        return last
