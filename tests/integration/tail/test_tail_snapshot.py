"""The rich view of ``saga tail`` at a fixed terminal width, against an expected text.

Everything volatile is fixed when the records are written (event ids, times, Kafka
timestamps, one partition); only the topic's name is normalised. After a deliberate change
of the view, rewrite the expected text with ``SAGA_UPDATE_SNAPSHOTS=1`` and review its diff.
"""

from __future__ import annotations

import difflib
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from services.contracts import OrderRejected
from tests._samples import AT, order_placed
from tests.integration.tail._support import ORDER, Writer, millis, tail, tail_env, v1_order

pytestmark = pytest.mark.integration

EXPECTED = Path(__file__).with_name("expected_rich_120.txt")
WRITTEN = datetime(2024, 5, 1, 12, 31, 0, 250_000, tzinfo=UTC)


def _id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def test_the_rich_view_at_120_columns(
    kafka_bootstrap: str, kafka_topic: str, tmp_path: Path
) -> None:
    writer = Writer(kafka_bootstrap)
    at = millis(WRITTEN)
    common = {"occurred_at": WRITTEN, "timestamp_ms": at}
    writer.send(kafka_topic, v1_order(), ORDER, producer="orders", event_id=_id(1), **common)
    writer.send(
        kafka_topic,
        order_placed(),
        ORDER,
        producer="orders",
        event_id=_id(2),
        causation_id=_id(1),
        **common,
    )
    rejected = OrderRejected(order_id=UUID(ORDER), rejected_at=AT, reason="PAYMENT_DECLINED")
    writer.send(
        kafka_topic,
        rejected,
        ORDER,
        producer="orders",
        event_id=_id(3),
        extra_headers=[("dead-letter-source", b"shop.orders[0]@7")],
        **common,
    )
    envelope = writer.serializer.encode(rejected, writer.envelope(rejected, ORDER, **_ids(4)))
    writer.raw(
        kafka_topic,
        b"\xc3\x01" + bytes(12),
        key=ORDER.encode(),
        headers=envelope.headers,
        timestamp_ms=at,
    )
    writer.raw(kafka_topic, b'{"json": "not avro"}', timestamp_ms=at)
    writer.flush()

    done = tail(
        {**tail_env(tmp_path, kafka_bootstrap), "COLUMNS": "120"},
        kafka_topic,
        "--format",
        "rich",
    )
    assert done.returncode == 0, done.stderr
    shown = done.stdout.replace(kafka_topic, "TOPIC")

    if os.environ.get("SAGA_UPDATE_SNAPSHOTS") == "1":
        EXPECTED.write_text(shown, encoding="utf-8")
    expected = EXPECTED.read_text(encoding="utf-8")
    diff = "\n".join(
        difflib.unified_diff(expected.splitlines(), shown.splitlines(), "expected", "shown")
    )
    assert shown == expected, f"the rich view changed:\n{diff}"
    assert max(len(line) for line in shown.splitlines()) <= 120
    assert not re.search(r"\x1b\[", shown), "no colour codes when not on a terminal"


def _ids(n: int) -> dict[str, object]:
    return {"producer": "orders", "event_id": _id(n), "occurred_at": WRITTEN}
