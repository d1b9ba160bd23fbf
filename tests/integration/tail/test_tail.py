"""``saga tail`` on a real broker, run as the installed executable: what it shows, which
records its filters keep, a saga's journey across topics, committed reads, and bad input."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from saga.cli import app
from services.contracts import (
    OrderApproved,
    OrderRejected,
    PaymentAuthorized,
    ShipmentScheduled,
    StockReservationFailed,
    StockReserved,
)
from tests._saga_cli import assert_one_line_error, assert_usage_error
from tests._samples import AT, OTHER, order_placed
from tests.integration.tail._support import (
    AVRO,
    NO_BROKER,
    ORDER,
    Writer,
    millis,
    tail,
    tail_env,
    tail_json,
    topics,
    v1_order,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(kafka_bootstrap: str) -> Writer:
    return Writer(kafka_bootstrap)


@pytest.fixture
def env(tmp_path: Path, kafka_bootstrap: str) -> dict[str, str]:
    return tail_env(tmp_path, kafka_bootstrap)


# -- what a tail shows ---------------------------------------------------------------------


def test_two_schema_versions_and_undecodable_records_all_show_and_never_stop_it(
    writer: Writer, kafka_topic: str, env: dict[str, str]
) -> None:
    v1 = writer.send(kafka_topic, v1_order(), ORDER)
    good = writer.serializer.encode(order_placed(), writer.envelope(order_placed(), ORDER))
    writer.raw(kafka_topic, b"\x00\x00\x00\x00\x2aregistry?", key=b"o", headers=good.headers)
    writer.raw(kafka_topic, b"plain text, not Avro", key=b"o")  # and no envelope
    writer.raw(kafka_topic, good.value[:30], key=b"o", headers=good.headers)  # truncated
    writer.raw(kafka_topic, None, key=b"o", headers=good.headers)  # a tombstone
    v2 = writer.send(kafka_topic, order_placed(), ORDER)  # after all of them
    writer.flush()

    records = tail_json(env, kafka_topic)

    assert [(r["partition"], r["offset"]) for r in records] == [(0, n) for n in range(6)]
    first, registry, text, truncated, tombstone, last = records
    assert (first["event_type"], first["version"], first["event_id"]) == (
        "shop.orders.OrderPlaced",
        1,
        str(v1.event_id),
    )
    assert "channel" not in first["payload"]  # as written, not resolved to v2
    assert first["payload"]["shipping_address"]["city"] == "***"
    assert first["undecodable"] is None
    assert (last["version"], last["event_id"], last["payload"]["channel"]) == (
        2,
        str(v2.event_id),
        "MOBILE",
    )
    assert last["correlation_id"] == ORDER
    assert last["key"] == ORDER

    assert registry["undecodable"] == {
        "reason": "UnknownSchemaError: payload is in the Confluent wire format but no schema "
        "registry is configured: set SAGA_SCHEMA_REGISTRY_URL",
        "size": 14,
        "preview": "00 00 00 00 2a 72 65 67 69 73 74 72 79 3f",
    }
    assert registry["event_id"] == str(good.envelope.event_id)  # the envelope still shows
    assert text["undecodable"]["reason"].startswith("envelope: event headers lack event-id")
    assert "neither Avro single-object (c301) nor Confluent (00)" in text["undecodable"]["reason"]
    assert text["undecodable"]["size"] == len(b"plain text, not Avro")
    assert "not valid Avro for its schema" in truncated["undecodable"]["reason"]
    assert truncated["undecodable"]["preview"] == good.value[:16].hex(" ")
    assert tombstone["undecodable"]["reason"] == "the record has no value (a tombstone)"
    for record in (registry, text, truncated, tombstone):
        assert record["payload"] is None


def test_json_is_the_default_when_piped_and_every_line_parses_back(
    writer: Writer, kafka_topic: str, env: dict[str, str]
) -> None:
    for partition in range(3):
        writer.send(kafka_topic, order_placed(), f"o-{partition}", partition=partition)
    writer.flush()

    piped = tail(env, kafka_topic)
    asked = tail(env, kafka_topic, "--format", "json")

    assert piped.returncode == asked.returncode == 0
    records = [json.loads(line) for line in piped.stdout.splitlines()]
    assert sorted(r["key"] for r in records) == ["o-0", "o-1", "o-2"]
    assert sorted(piped.stdout.splitlines()) == sorted(asked.stdout.splitlines())
    assert set(records[0]) == {
        "time", "topic", "partition", "offset", "key", "event_type", "version", "event_id",
        "correlation_id", "causation_id", "occurred_at", "producer", "traceparent", "headers",
        "payload", "undecodable",
    }  # fmt: skip
    assert piped.stderr == ""


# -- filters -------------------------------------------------------------------------------

NOW = datetime.now(UTC)
EARLY = NOW - timedelta(hours=3)


@pytest.fixture(scope="module")
def filtered_topic(kafka_bootstrap: str) -> Iterator[str]:
    """Five records on partition 0, the first two three hours old:

    0 OrderPlaced   o-1  producer orders    tenant=eu   3 h ago
    1 OrderApproved o-1  producer orders                3 h ago
    2 OrderPlaced   o-2  producer orders    tenant=us
    3 PaymentAuthorized o-2 producer payments
    4 OrderRejected key k-9, correlation id c-9
    """
    writer = Writer(kafka_bootstrap)
    with topics(kafka_bootstrap, "filters") as (topic,):
        old = millis(EARLY)
        writer.send(
            topic,
            order_placed(),
            "o-1",
            producer="orders",
            timestamp_ms=old,
            extra_headers=[("tenant", b"eu")],
        )
        approved = OrderApproved(
            order_id=uuid.UUID(ORDER), approved_at=AT, payment_id=OTHER, shipment_id=OTHER
        )
        writer.send(topic, approved, "o-1", producer="orders", timestamp_ms=old)
        writer.send(
            topic, order_placed(), "o-2", producer="orders", extra_headers=[("tenant", b"us")]
        )
        paid = PaymentAuthorized(
            order_id=uuid.UUID(ORDER),
            payment_id=OTHER,
            authorized_at=AT,
            amount_cents=1,
            currency="EUR",
        )
        writer.send(topic, paid, "o-2", producer="payments")
        rejected = OrderRejected(order_id=uuid.UUID(ORDER), rejected_at=AT, reason="OUT_OF_STOCK")
        writer.send(topic, rejected, "c-9", key=b"k-9")
        writer.flush()
        yield topic


@pytest.mark.parametrize(
    ("args", "offsets"),
    [
        ((), [0, 1, 2, 3, 4]),
        (("--type", "OrderPlaced"), [0, 2]),
        (("--type", "shop.orders.OrderApproved", "-t", "PaymentAuthorized"), [1, 3]),
        (("--key", "o-2"), [2, 3]),
        (("--key", "k-9"), [4]),
        (("--key", "c-9"), []),  # the key, not the correlation id
        (("--correlation-id", "c-9"), [4]),
        (("--header", "producer=payments"), [3]),
        (("--header", "tenant=eu"), [0]),
        (("-H", "tenant=eu", "-H", "producer=payments"), []),
        (("--since", "1h"), [2, 3, 4]),
        pytest.param(
            ("--since", (NOW - timedelta(hours=2)).isoformat()),
            [2, 3, 4],
            id="--since <ISO time 2 h ago>",  # stable across pytest-xdist's processes
        ),
        (("--until", "1h"), [0, 1]),
        (("--from-offset", "3"), [3, 4]),
        (("--from-offset=-2",), [3, 4]),  # the last two
        (("--from-beginning", "--type", "OrderPlaced", "--key", "o-2"), [2]),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_filters_and_start_positions(
    filtered_topic: str, kafka_bootstrap: str, args: tuple[str, ...], offsets: list[int]
) -> None:
    # In-process (the executable's own path is tested above and below): sixteen process
    # starts would cost more than the reads.
    done = CliRunner().invoke(
        app,
        ["tail", filtered_topic, *args],
        env={"SAGA_KAFKA_BOOTSTRAP": kafka_bootstrap, "SAGA_SCHEMA_DIR": str(AVRO)},
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    assert [json.loads(line)["offset"] for line in done.stdout.splitlines()] == offsets


def test_one_correlation_id_across_the_four_topics_of_a_saga(
    kafka_bootstrap: str, writer: Writer, env: dict[str, str]
) -> None:
    with topics(kafka_bootstrap, "orders", "inventory", "payments", "shipping") as names:
        orders, inventory, payments, shipping = names
        prefix = orders.rsplit(".", 1)[0]
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        order_a, order_b = uuid.UUID(a), uuid.UUID(b)
        journey = []
        placed = writer.send(orders, order_placed(order_id=order_a), a, producer="orders")
        journey.append(placed)
        other = writer.send(orders, order_placed(order_id=order_b), b, producer="orders")
        reserved = StockReserved(order_id=order_a, reservation_id=OTHER, reserved_at=AT, items=[])
        journey.append(
            writer.send(inventory, reserved, a, producer="inventory", causation_id=placed.event_id)
        )
        failed = StockReservationFailed(order_id=order_b, failed_at=AT, unavailable_skus=["X"])
        refused = writer.send(
            inventory, failed, b, producer="inventory", causation_id=other.event_id
        )
        paid = PaymentAuthorized(
            order_id=order_a, payment_id=OTHER, authorized_at=AT, amount_cents=1, currency="EUR"
        )
        journey.append(
            writer.send(payments, paid, a, producer="payments", causation_id=journey[-1].event_id)
        )
        scheduled = ShipmentScheduled(
            order_id=order_a,
            shipment_id=OTHER,
            scheduled_at=AT,
            carrier="DHL",
            estimated_delivery=date(2024, 5, 3),
        )
        journey.append(
            writer.send(
                shipping, scheduled, a, producer="shipping", causation_id=journey[-1].event_id
            )
        )
        rejected = OrderRejected(order_id=order_b, rejected_at=AT, reason="OUT_OF_STOCK")
        writer.send(orders, rejected, b, producer="orders", causation_id=refused.event_id)
        approved = OrderApproved(
            order_id=order_a, approved_at=AT, payment_id=OTHER, shipment_id=OTHER
        )
        journey.append(
            writer.send(orders, approved, a, producer="orders", causation_id=journey[-1].event_id)
        )
        writer.flush()

        by_regex = tail_json(env, f"^{re.escape(prefix)}\\.", "--correlation-id", a)
        by_glob = tail_json(env, f"{prefix}.*", "--key", b)

    assert {r["event_id"] for r in by_regex} == {str(e.event_id) for e in journey}
    assert {r["topic"] for r in by_regex} == set(names)
    causes = {r["event_id"]: r["causation_id"] for r in by_regex}
    for cause, effect in itertools.pairwise(journey):
        assert causes[str(effect.event_id)] == str(cause.event_id)
    assert [r["event_type"].rsplit(".", 1)[1] for r in by_glob if r["topic"] == orders] == [
        "OrderPlaced",
        "OrderRejected",
    ]
    assert len(by_glob) == 3
    assert {r["correlation_id"] for r in by_glob} == {b}


# -- transactions --------------------------------------------------------------------------


def test_committed_records_only_unless_read_uncommitted(
    kafka_bootstrap: str, kafka_topic: str, env: dict[str, str]
) -> None:
    writer = Writer(kafka_bootstrap, **{"transactional.id": f"tail-{uuid.uuid4().hex}"})
    producer = writer.producer
    producer.init_transactions(30)
    sent: dict[str, str] = {}
    for name in ("committed", "aborted", "open"):
        producer.begin_transaction()
        sent[name] = str(writer.send(kafka_topic, order_placed(), name).event_id)
        if name == "committed":
            producer.commit_transaction(30)
        elif name == "aborted":
            producer.flush(30)  # on the broker first: aborting drops what is unsent
            producer.abort_transaction(30)
    producer.flush(30)  # the last transaction stays open while the tail reads
    try:
        committed = tail_json(env, kafka_topic)
        everything = tail_json(env, kafka_topic, "--read-uncommitted")
    finally:
        producer.abort_transaction(30)

    # It ends at the open transaction (the last stable offset) instead of waiting for it.
    assert [r["event_id"] for r in committed] == [sent["committed"]]
    assert [r["event_id"] for r in everything] == list(sent.values())


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("no-such-topic-7f3a",), ("topic 'no-such-topic-7f3a' does not exist", "--list-topics")),
        (("^no-such-prefix-7f3a",), ("no topic on the broker", "matches '^no-such-prefix-7f3a'")),
        (("no-such-*-7f3a",), ("no topic on the broker", "--list-topics")),
        (("^bad[",), ("'^bad[' is not a regular expression",)),
        (("{topic}", "--since", "10x"), ("--since '10x' is neither a duration",)),
        (("{topic}", "--until", "yesterday"), ("--until 'yesterday'",)),
        (("{topic}", "--header", "producer"), ("--header 'producer' is not NAME=VALUE",)),
        (("{topic}", "--since", "1h", "--from-offset", "3"), ("give one",)),
        (("{topic}", "--redact", "shiping_address.city"), ("--redact shiping_address.city",)),
        (("{topic}", "--timeout", "0"), ("--timeout 0",)),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) and value[0] != "t" else None,
)
def test_bad_input_is_one_line_and_exit_2(
    kafka_topic: str, env: dict[str, str], args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    done = tail(env, *(arg.format(topic=kafka_topic) for arg in args))
    assert_one_line_error(done, *needles)
    assert done.stdout == ""


def test_an_unreachable_broker_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = tail(tail_env(tmp_path, NO_BROKER), "shop.orders", "--timeout", "2")
    assert_one_line_error(done, f"Kafka at {NO_BROKER} did not answer within 2s", "saga stack up")


@pytest.mark.parametrize(
    ("args", "needle"),
    [((), "name at least one topic or pattern"), (("t", "--format", "xml"), "'xml' is not one of")],
)
def test_usage_mistakes_are_click_usage_errors(
    env: dict[str, str], args: tuple[str, ...], needle: str
) -> None:
    assert_usage_error(tail(env, *args), needle)


def test_list_topics_shows_the_brokers_topics(kafka_topic: str, env: dict[str, str]) -> None:
    done = tail(env, "--list-topics")
    assert done.returncode == 0, done.stderr
    listed = {
        json.loads(line)["topic"]: json.loads(line)["partitions"]
        for line in done.stdout.splitlines()
    }
    assert listed[kafka_topic] == 3
    assert not any(name.startswith("__") for name in listed)
