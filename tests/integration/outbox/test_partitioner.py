"""Which partition a key lands on: librdkafka's CRC32 by default, or, with
``SAGA_PARTITIONER=murmur2_random``, the Java clients' murmur2, so that a key lands on the
same partition whichever client produces it. Checked against both formulas."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy.engine import Engine

from saga.settings import Settings
from tests.integration._kafka import read_committed_messages
from tests.integration.outbox._support import KeyWriter, wait_until_published
from tests.integration.outbox.conftest import RelayFactory

pytestmark = pytest.mark.integration

KEYS = [f"order-{i}" for i in range(40)]
PARTITIONS = 3  # the kafka_topic fixture's


def murmur2(data: bytes) -> int:
    """The Java client's ``Utils.murmur2`` (seed 0x9747b28c), as an unsigned 32-bit int."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def java_partition(key: bytes) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def crc32_partition(key: bytes) -> int:
    return zlib.crc32(key) % PARTITIONS


@pytest.mark.parametrize(
    ("partitioner", "expected"),
    [("consistent_random", crc32_partition), ("murmur2_random", java_partition)],
)
def test_keys_land_where_the_partitioner_says(
    partitioner: str,
    expected: object,
    outbox_url: str,
    engine: Engine,
    kafka_topic: str,
    kafka_bootstrap: str,
    running_relay: RelayFactory,
) -> None:
    writer = KeyWriter(engine, kafka_topic, pad=10)
    writer.write(KEYS)
    running_relay(outbox_url, settings=Settings(partitioner=partitioner), poll_interval=0.1)
    wait_until_published(outbox_url, len(KEYS), timeout=60)
    landed = {
        m.key(): m.partition()
        for m in read_committed_messages(kafka_bootstrap, kafka_topic, expect=len(KEYS))
    }
    assert callable(expected)
    assert landed == {k.encode(): expected(k.encode()) for k in KEYS}
    # The two formulas disagree on many keys: the test tells them apart.
    assert sum(java_partition(k.encode()) != crc32_partition(k.encode()) for k in KEYS) > 10
