"""``saga tail`` without a broker: time syntax, filters, topic choice, start offsets, how a
record is decoded and redacted, and how the rich view draws it."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from confluent_kafka import KafkaError, TopicPartition
from rich.console import Console

from saga.cli._tail_decode import RecordDecoder
from saga.cli._tail_records import TailFilter, TailRecord, parse_header, parse_moment
from saga.cli._tail_view import render
from saga.contracts.envelope import Envelope
from saga.contracts.serde import Serializer
from saga.errors import ConfigError, TransportError
from saga.kafka.reader import Span, Start, choose_topics, read, start_offset
from saga.settings import Settings
from tests._samples import AVRO, order_placed

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EVENT_ID = UUID("11111111-2222-4333-8444-555555555555")


# -- time syntax ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 0m ", timedelta(0)),
    ],
)
def test_durations_count_back_from_now(text: str, ago: timedelta) -> None:
    assert parse_moment(text, now=NOW, option="--since") == NOW - ago


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-04-30T08:15:00Z", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
        (
            "2024-04-30T10:15:00+02:00",
            datetime(2024, 4, 30, 10, 15, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2024-04-30T08:15", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),  # no offset: UTC
        ("2024-04-30", datetime(2024, 4, 30, tzinfo=UTC)),
    ],
)
def test_iso_times_are_taken_as_written(
    text: str, moment: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # a time without offset is UTC, not local time
    time.tzset()
    try:
        assert parse_moment(text, now=NOW, option="--since") == moment
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("text", ["10x", "", "m10", "10 m", "yesterday", "-5m", "1.5h"])
def test_malformed_times_name_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--until .* is neither a duration .* nor an ISO"):
        parse_moment(text, now=NOW, option="--until")


def test_a_duration_past_year_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="before year 1"):
        parse_moment("999999999w", now=NOW, option="--since")


# -- filters -------------------------------------------------------------------------------


def _record(**changes: Any) -> TailRecord:
    fields: dict[str, Any] = {
        "topic": "shop.orders",
        "partition": 0,
        "offset": 7,
        "time": NOW,
        "key": "o-1",
        "headers": (("producer", b"orders"), ("tenant", b"eu"), ("tenant", b"us")),
        "event_type": "shop.orders.OrderPlaced",
        "correlation_id": "o-1",
    }
    fields.update(changes)
    return TailRecord(**fields)


@pytest.mark.parametrize(
    ("criteria", "shown"),
    [
        ({}, True),
        ({"types": ["shop.orders.OrderPlaced"]}, True),
        ({"types": ["OrderPlaced"]}, True),  # the short name
        ({"types": ["Placed"]}, False),
        ({"types": ["OrderApproved", "OrderPlaced"]}, True),  # any of them
        ({"keys": ["o-1"]}, True),
        ({"keys": ["o-2"]}, False),
        ({"correlation_ids": ["o-1"]}, True),
        ({"correlation_ids": ["o-2"]}, False),
        ({"headers": ["producer=orders"]}, True),
        ({"headers": ["producer=payments"]}, False),
        ({"headers": ["tenant=us"]}, True),  # a repeated header: any of its values
        ({"headers": ["producer=orders", "tenant=eu"]}, True),  # all of them
        ({"headers": ["producer=orders", "tenant=asia"]}, False),
        ({"headers": ["missing="]}, False),
        ({"since": NOW - timedelta(minutes=1)}, True),
        ({"since": NOW + timedelta(minutes=1)}, False),
        ({"since": NOW}, True),  # the bounds are in the range
        ({"until": NOW}, True),
        ({"until": NOW - timedelta(seconds=1)}, False),
        ({"keys": ["o-1"], "types": ["OrderApproved"]}, False),  # every criterion holds
    ],
)
def test_filters(criteria: dict[str, Any], shown: bool) -> None:
    assert TailFilter.of(**criteria).matches(_record()) is shown


def test_records_without_a_type_or_a_time_are_only_kept_when_unfiltered() -> None:
    bare = _record(event_type=None, time=None, key=None, correlation_id=None, headers=())
    assert TailFilter.of().matches(bare)
    assert not TailFilter.of(types=["OrderPlaced"]).matches(bare)
    assert not TailFilter.of(since=NOW).matches(bare)
    assert not TailFilter.of(keys=["o-1"]).matches(bare)


@pytest.mark.parametrize(
    ("text", "pair"), [("a=b", ("a", "b")), ("a=", ("a", "")), ("a=b=c", ("a", "b=c"))]
)
def test_header_filters_are_name_equals_value(text: str, pair: tuple[str, str]) -> None:
    assert parse_header(text) == pair


@pytest.mark.parametrize("text", ["producer", "=orders", "", " =x"])
def test_a_malformed_header_filter_says_the_form(text: str) -> None:
    with pytest.raises(
        ConfigError, match=r"is not NAME=VALUE: write e.g. --header producer=orders"
    ):
        TailFilter.of(headers=[text])


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ConfigError, match="is before --since"):
        TailFilter.of(since=NOW, until=NOW - timedelta(seconds=1))


# -- topics and offsets ---------------------------------------------------------------------

KNOWN = {"shop.orders": 6, "shop.payments": 3, "shipping": 1, "__consumer_offsets": 50}


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [
        (["shop.orders"], ["shop.orders"]),
        (["^shop\\."], ["shop.orders", "shop.payments"]),
        (["^sh"], ["shipping", "shop.orders", "shop.payments"]),
        (["shop.*"], ["shop.orders", "shop.payments"]),
        (["*"], ["shipping", "shop.orders", "shop.payments"]),  # never Kafka's own topics
        (["__consumer_offsets"], ["__consumer_offsets"]),  # unless named
        (["shop.orders", "^shop"], ["shop.orders", "shop.payments"]),  # each once
        (["s?ipping", "shop.pay[m]ents"], ["shipping", "shop.payments"]),
    ],
)
def test_topics_are_names_globs_or_regular_expressions(
    wanted: list[str], chosen: list[str]
) -> None:
    assert choose_topics(wanted, KNOWN, "broker:9092") == chosen


def test_an_unknown_topic_is_named_with_a_guess_and_how_to_list_topics() -> None:
    with pytest.raises(ConfigError) as caught:
        choose_topics(["shop.ordrs"], KNOWN, "broker:9092")
    assert str(caught.value) == (
        "topic 'shop.ordrs' does not exist on the broker at broker:9092 (did you mean "
        "'shop.orders'?): `saga tail --list-topics` lists them"
    )


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ("^billing", "no topic on the broker at broker:9092 matches '^billing'"),
        ("bill*", "no topic on the broker at broker:9092 matches 'bill*'"),
        ("^shop[", "'^shop[' is not a regular expression"),
    ],
)
def test_patterns_that_match_nothing_or_do_not_parse_say_so(wanted: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        choose_topics([wanted], KNOWN, "broker:9092")


@pytest.mark.parametrize(
    ("start", "at_time", "offset"),
    [
        (Start("beginning"), None, 10),
        (Start("end"), None, 50),
        (Start("offset", offset=20), None, 20),
        (Start("offset", offset=3), None, 10),  # before the first kept record
        (Start("offset", offset=99), None, 50),  # past the end
        (Start("offset", offset=-5), None, 45),  # the last five
        (Start("offset", offset=-99), None, 10),
        (Start("time"), 30, 30),
        (Start("time"), -1, 50),  # nothing that late
        (Start("time"), None, 50),
    ],
)
def test_start_offsets_stay_within_the_partition(
    start: Start, at_time: int | None, offset: int
) -> None:
    assert start_offset(start, low=10, high=50, at_time=at_time) == offset


# -- decoding ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def decoder() -> RecordDecoder:
    return RecordDecoder(Serializer(Settings(schema_dir=AVRO)), redact_fields=["coupon_code"])


def _encoded(**envelope: Any) -> tuple[bytes, list[tuple[str, bytes]]]:
    event = order_placed()
    built = Envelope.new(
        event,
        correlation_id="o-1",
        producer="orders",
        event_id=EVENT_ID,
        occurred_at=NOW,
        **envelope,
    )
    encoded = Serializer(Settings(schema_dir=AVRO)).encode(event, built)
    return encoded.value, encoded.headers


def _decode(
    decoder: RecordDecoder,
    value: bytes | None,
    headers: list[tuple[str, Any]],
    key: bytes | None = b"o-1",
) -> TailRecord:
    return decoder.record(
        topic="shop.orders",
        partition=1,
        offset=42,
        timestamp_ms=1_714_564_800_123,
        key=key,
        value=value,
        headers=headers,
    )


def test_a_record_shows_its_place_envelope_version_and_redacted_payload(
    decoder: RecordDecoder,
) -> None:
    value, headers = _encoded(causation_id=EVENT_ID)
    record = _decode(decoder, value, [*headers, ("tenant", b"eu")])

    shown = record.to_json()
    assert shown["time"] == "2024-05-01T12:00:00.123Z"
    assert (shown["topic"], shown["partition"], shown["offset"], shown["key"]) == (
        "shop.orders",
        1,
        42,
        "o-1",
    )
    assert shown["event_type"] == "shop.orders.OrderPlaced"
    assert shown["version"] == 2
    assert shown["event_id"] == shown["causation_id"] == str(EVENT_ID)
    assert shown["correlation_id"] == "o-1"
    assert shown["occurred_at"] == NOW.isoformat()
    assert shown["producer"] == "orders"
    assert shown["headers"] == {"tenant": "eu"}
    assert shown["undecodable"] is None
    payload = shown["payload"]
    assert payload["shipping_address"] == {
        "line1": "***",
        "line2": "***",
        "city": "***",
        "postal_code": "***",
        "country": "DE",
    }
    assert payload["coupon_code"] == "***"  # named with --redact
    assert payload["order_id"] == "6f1f8a36-2a7c-4d0e-9a53-6c1b2f0e7d11"
    assert payload["placed_at"] == "2024-05-01T12:30:15.123456+00:00"
    json.dumps(shown)  # every value is JSON


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not avro at all", "DecodeError: payload starts with 6e6f"),
        (b"", "DecodeError: payload starts with nothing"),
        (b"\xc3\x01" + b"\x00" * 12, "UnknownSchemaError: no schema in"),
        (b"\x00\x00\x00\x00\x07abc", "UnknownSchemaError: payload is in the Confluent wire format"),
        (None, "the record has no value (a tombstone)"),
    ],
)
def test_what_cannot_be_decoded_is_shown_with_reason_size_and_preview(
    decoder: RecordDecoder, value: bytes | None, reason: str
) -> None:
    _, headers = _encoded()
    record = _decode(decoder, value, headers)
    assert record.undecodable is not None
    assert record.undecodable.reason.startswith(reason)
    assert record.undecodable.size == len(value or b"")
    assert record.undecodable.preview == (value or b"")[:16].hex(" ")
    assert record.payload is None
    assert record.event_id == str(EVENT_ID)  # the envelope is still shown


def test_a_truncated_payload_keeps_its_preview_short(decoder: RecordDecoder) -> None:
    value, headers = _encoded()
    record = _decode(decoder, value[:40], headers)
    assert record.undecodable is not None
    assert "not valid Avro" in record.undecodable.reason
    assert len(bytes.fromhex(record.undecodable.preview.replace(" ", ""))) == 16


def test_a_payload_without_an_envelope_is_still_shown_and_redacted(
    decoder: RecordDecoder,
) -> None:
    value, _ = _encoded()
    record = _decode(decoder, value, [("event-type", b"shop.orders.OrderPlaced")], key=None)
    assert record.undecodable is not None
    assert record.undecodable.reason.startswith("envelope: event headers lack event-id")
    assert record.event_type == "shop.orders.OrderPlaced"
    assert record.version == 2  # from the writer's schema
    assert record.key is None
    assert record.payload["shipping_address"]["city"] == "***"


def test_a_mislabelled_event_is_flagged(decoder: RecordDecoder) -> None:
    value, headers = _encoded()
    wrong = [(n, b"shop.orders.OrderApproved" if n == "event-type" else v) for n, v in headers]
    record = _decode(decoder, value, wrong)
    assert record.undecodable is not None
    assert "header event-type says 'shop.orders.OrderApproved'" in record.undecodable.reason
    assert record.event_type == "shop.orders.OrderPlaced"  # what the payload is


# -- the rich view -------------------------------------------------------------------------


def _drawn(record: TailRecord, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, color_system=None)
    console.print(render(record, console))
    return out.getvalue()


def test_the_rich_view_wraps_to_the_width_without_trailing_blanks(decoder: RecordDecoder) -> None:
    value, headers = _encoded()
    text = _drawn(_decode(decoder, value, headers), 60)
    lines = text.splitlines()
    assert lines[0].startswith("2024-05-01T12:00:00.123Z  shop.orders[1]@42  key o-1")
    assert all(len(line) <= 60 and line == line.rstrip() for line in lines)
    assert '"line1": "***"' in text
    assert "Main Street" not in text


def test_the_rich_view_shows_keys_and_headers_as_text_never_as_markup_or_escapes(
    decoder: RecordDecoder,
) -> None:
    value, headers = _encoded()
    record = _decode(decoder, value, [*headers, ("note", b"\x1b[2J[red]x")], key=b"[bold]k\x1b]0;")
    text = _drawn(record, 120)
    assert "\x1b" not in text
    assert "key [bold]k\\x1b]0;" in text
    assert "note=\\x1b[2J[red]x" in text


# -- the reading loop, on a stand-in consumer ----------------------------------------------


class _Message:
    def __init__(self, partition: int, offset: int, error: KafkaError | None = None) -> None:
        self._partition, self._offset, self._error = partition, offset, error

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> KafkaError | None:
        return self._error


def _eof(partition: int, offset: int) -> _Message:
    return _Message(partition, offset, KafkaError(KafkaError._PARTITION_EOF))


class _Consumer:
    """Hands out prepared batches; then nothing, and sets ``stop`` when it has run dry."""

    def __init__(self, batches: list[list[_Message]], stop: threading.Event) -> None:
        self.batches = batches
        self.stop = stop
        self.assigned: list[tuple[str, int, int]] = []
        self.paused: list[tuple[str, int]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = [(p.topic, p.partition, p.offset) for p in partitions]

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused += [(p.topic, p.partition) for p in partitions]

    def consume(self, num_messages: int, timeout: float) -> list[_Message]:
        if self.batches:
            return self.batches.pop(0)
        self.stop.set()  # a test that would wait for more fails instead of hanging
        return []


def _read(
    batches: list[list[_Message]], spans: dict[tuple[str, int], Span], *, follow: bool = False
) -> tuple[list[tuple[int, int]], _Consumer, bool, list[str]]:
    stop = threading.Event()
    consumer = _Consumer(batches, stop)
    notices: list[str] = []
    read_ = read(consumer, spans, follow=follow, stop=stop, notice=notices.append)  # type: ignore[arg-type]
    got = [(m.partition() or 0, m.offset() or 0) for m in read_]
    return got, consumer, stop.is_set(), notices


def test_without_follow_each_partition_ends_where_it_ended_when_the_tail_started() -> None:
    spans = {("t", 0): Span(0, 2), ("t", 1): Span(5, 6), ("t", 2): Span(3, 3)}
    batches = [
        [_Message(0, 0), _Message(1, 5), _Message(1, 6)],  # 1@6 came after the start
        [_Message(0, 1), _Message(0, 2)],
    ]
    got, consumer, stopped, _ = _read(batches, spans)
    assert got == [(0, 0), (1, 5), (0, 1)]
    assert consumer.assigned == [("t", 0, 0), ("t", 1, 5)]  # an empty partition is not read
    assert sorted(consumer.paused) == [("t", 0), ("t", 1)]
    assert not stopped  # it ended on its own


def test_the_end_of_a_partition_that_ends_in_a_transaction_marker_is_its_eof() -> None:
    # Offset 3 is the commit marker of the transaction that wrote 2: never delivered.
    got, _, stopped, _ = _read([[_Message(0, 2)], [_eof(0, 4)]], {("t", 0): Span(2, 4)})
    assert got == [(0, 2)]
    assert not stopped


def test_nothing_to_read_assigns_nothing() -> None:
    got, consumer, _, _ = _read([], {("t", 0): Span(4, 4)})
    assert (got, consumer.assigned) == ([], [])


def test_follow_reads_past_the_end_and_eof_until_stopped() -> None:
    batches = [[_Message(0, 0), _eof(0, 1)], [_Message(0, 1)], [_Message(0, 2)]]
    got, consumer, stopped, _ = _read(batches, {("t", 0): Span(0, 1)}, follow=True)
    assert got == [(0, 0), (0, 1), (0, 2)]
    assert (consumer.paused, stopped) == ([], True)


def test_trouble_the_client_retries_is_told_once_and_fatal_trouble_stops_the_tail() -> None:
    down = KafkaError(KafkaError._ALL_BROKERS_DOWN)
    batches = [[_Message(0, 0, down)], [_Message(0, 0, down), _Message(0, 0)]]
    got, _, _, notices = _read(batches, {("t", 0): Span(0, 1)})
    assert got == [(0, 0)]
    assert notices == ["Kafka: Local: All broker connections are down (retrying)"]
    fatal = KafkaError(KafkaError._FATAL, "fenced", fatal=True)
    with pytest.raises(TransportError, match="Kafka stopped the tail: fenced"):
        _read([[_Message(0, 0, fatal)]], {("t", 0): Span(0, 1)})
