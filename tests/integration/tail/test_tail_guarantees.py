"""What ``saga tail`` promises an operator: it never joins a consumer group nor moves one's
offsets, a sensitive value never appears in anything it prints, and ``--follow`` keeps
going until SIGTERM, then exits 0."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from saga.testing import eventually
from services.contracts import Address
from tests._saga_cli import ROOT, saga_executable
from tests._samples import order_placed
from tests.integration.tail._support import (
    AddressV1,
    Writer,
    tail,
    tail_env,
    tail_json,
    v1_order,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(kafka_bootstrap: str) -> Writer:
    return Writer(kafka_bootstrap)


@pytest.fixture
def env(tmp_path: Path, kafka_bootstrap: str) -> dict[str, str]:
    return tail_env(tmp_path, kafka_bootstrap)


@pytest.fixture
def follow(env: dict[str, str]) -> Iterator[Callable[..., Follower]]:
    """Starts followers; any still running after the test is killed."""
    started: list[Follower] = []

    def start(*args: str) -> Follower:
        started.append(Follower(env, *args))
        return started[-1]

    yield start
    for follower in started:
        if follower.process.poll() is None:
            follower.process.kill()
            follower.stop()


class Follower:
    """``saga tail --follow`` as a running process, its output lines gathered as they come."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [saga_executable(), "tail", *args, "--follow", "--format", "json"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[dict[str, object]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(json.loads(line))

    def event_ids(self) -> list[object]:
        return [line["event_id"] for line in self.lines]

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit status and what it wrote on stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(10)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.process.stdout.close()
        with self.process.stderr:
            return status, self.process.stderr.read()


# -- consumer groups -----------------------------------------------------------------------


def _groups(admin: AdminClient) -> set[str]:
    listed = admin.list_consumer_groups(request_timeout=30).result()
    return {group.group_id for group in listed.valid}


def _offsets(admin: AdminClient, group: str) -> dict[tuple[str, int], int]:
    request = [ConsumerGroupTopicPartitions(group)]
    found = admin.list_consumer_group_offsets(request)[group].result()
    return {(tp.topic, tp.partition): tp.offset for tp in found.topic_partitions}


def test_the_tail_never_joins_a_group_nor_moves_its_offsets(
    kafka_bootstrap: str,
    kafka_topic: str,
    writer: Writer,
    env: dict[str, str],
    follow: Callable[..., Follower],
) -> None:
    for n in range(6):
        writer.send(kafka_topic, order_placed(), f"o-{n}", partition=n % 3)
    writer.flush()
    # A service's group that has read one record of each partition.
    group = f"shop-orders-{uuid.uuid4().hex[:8]}"
    service = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    service.commit(
        offsets=[TopicPartition(kafka_topic, p, 1) for p in range(3)], asynchronous=False
    )
    service.close()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    groups_before = _groups(admin)
    offsets_before = _offsets(admin, group)
    assert offsets_before == {(kafka_topic, p): 1 for p in range(3)}

    assert len(tail_json(env, kafka_topic)) == 6
    assert len(tail_json(env, kafka_topic, "--from-offset", "1")) == 3
    follower = follow(kafka_topic, "--from-beginning")
    eventually(lambda: len(follower.lines) == 6, timeout=30, what="the follower read all")
    status, stderr = follower.stop()
    assert status == 0, stderr

    assert _groups(admin) - groups_before == set(), "the tail created a consumer group"
    assert _offsets(admin, group) == offsets_before


# -- redaction -----------------------------------------------------------------------------

SECRETS = ("Secret Lane 7", "Flat 3b", "Hiddenville", "SEC-1234")  # marked in the contract
NAMED = ("COUPON-77Q", "0b9a4f5e-1c2d-4e3f-8a7b-9c0d1e2f3a4b")  # masked with --redact


def _squeezed(text: str) -> str:
    """No blanks: a value that the rich view wrapped across lines is still found."""
    return re.sub(r"\s+", "", text)


def test_a_sensitive_value_never_appears_in_any_output(
    kafka_topic: str, writer: Writer, env: dict[str, str]
) -> None:
    line1, line2, city, postal_code = SECRETS
    v2 = order_placed(
        shipping_address=Address(
            line1=line1, line2=line2, city=city, postal_code=postal_code, country="DE"
        ),
        coupon_code=NAMED[0],
    )
    v1 = v1_order(
        shipping_address=AddressV1(
            line1=line1, line2=line2, city=city, postal_code=postal_code, country="DE"
        )
    )
    writer.send(kafka_topic, v2, "o-1")
    writer.send(kafka_topic, v1, "o-1")
    encoded = writer.serializer.encode(v2, writer.envelope(v2, "o-1"))
    writer.raw(kafka_topic, encoded.value, key=b"o-1")  # no envelope: shown, still masked
    mislabelled = [
        (n, b"shop.orders.OrderApproved" if n == "event-type" else v) for n, v in encoded.headers
    ]
    writer.raw(kafka_topic, encoded.value, key=b"o-1", headers=mislabelled)
    writer.flush()

    named = ("--redact", "coupon_code", "--redact", "customer_id")
    outputs = {
        "json": tail(env, kafka_topic, *named),
        "rich": tail(env, kafka_topic, *named, "--format", "rich"),
        "rich, narrow": tail({**env, "COLUMNS": "40"}, kafka_topic, *named, "--format", "rich"),
        "by type": tail(env, kafka_topic, *named, "--type", "OrderPlaced"),
    }
    for name, done in outputs.items():
        assert done.returncode == 0, (name, done.stderr)
        shown = _squeezed(done.stdout + done.stderr)
        for secret in (*SECRETS, *NAMED):
            assert _squeezed(secret) not in shown, (name, secret)
        # The records are there, with what is not personal.
        assert shown.count('"country":"DE"') == 4, (name, done.stdout)
        assert _squeezed(str(v2.order_id)) in shown, name
    assert len(tail_json(env, kafka_topic)) == 4


# -- following -----------------------------------------------------------------------------


def test_follow_shows_new_records_until_sigterm(
    kafka_topic: str, writer: Writer, follow: Callable[..., Follower]
) -> None:
    before = writer.send(kafka_topic, order_placed(), "before")
    writer.flush()
    from_now = follow(kafka_topic)  # --follow alone starts at the end
    everything = follow(kafka_topic, "--from-beginning")
    eventually(lambda: everything.event_ids() == [str(before.event_id)], what="the first record")

    sent: list[str] = []

    def one_more_seen() -> bool:
        # Until the tail has its partitions, what is sent goes unseen: send until it shows.
        sent.append(str(writer.send(kafka_topic, order_placed(), "after").event_id))
        writer.flush()
        return bool(from_now.lines)

    eventually(one_more_seen, timeout=30, interval=0.2, what="the follower seeing new records")
    eventually(
        lambda: everything.event_ids() == [str(before.event_id), *sent],
        what="every record, in order",
    )
    for follower in (from_now, everything):
        status, stderr = follower.stop()
        assert status == 0, stderr
        assert "Traceback" not in stderr
    assert str(before.event_id) not in from_now.event_ids()
    assert set(from_now.event_ids()) <= set(sent)
