"""The operators' commands without a stack: their filters and time syntax, dead letters
read back, sensitive data masked, and the bad input they refuse before any connection (as
the installed executable, one line each). Bad input that needs the database:
``tests/integration/worker/test_operators_bad_input.py``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from saga.cli._sagas_view import masked, sensitive_names
from saga.cli._time import duration_of, parse_duration, short_age
from saga.contracts.envelope import Envelope
from saga.errors import ConfigError
from saga.kafka.dead_letters import dead_letter_id
from saga.operators.dead_letters import DeadLetter, parse_position
from saga.operators.sagas import ListFilter
from saga.settings import Settings
from tests._saga_cli import (
    assert_one_line_error,
    assert_usage_error,
    clean_env,
    closed_port,
    run_saga,
)
from tests._samples import AVRO, order_placed

# -- durations and ages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 5m ", timedelta(minutes=5)),
    ],
)
def test_durations(text: str, length: timedelta) -> None:
    assert parse_duration(text, option="--older-than") == length


@pytest.mark.parametrize("text", ["10x", "m", "-5m", "5", "1.5h", "", "10 m", "2024-01-01"])
def test_what_is_no_duration(text: str) -> None:
    assert duration_of(text) is None
    with pytest.raises(ConfigError, match=r"--threshold .* is not a duration \(30s, 10m"):
        parse_duration(text, option="--threshold")


def test_a_huge_duration_does_not_overflow() -> None:
    assert duration_of("99999999999999999w") == timedelta.max


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (-3, "0s"), (59.9, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"),
     (3660, "1h1m"), (86_400, "1d"), (93_600, "1d2h"), (90 * 86_400 + 7200, "90d2h")],
)  # fmt: skip
def test_ages_show_two_units_at_most(seconds: float, shown: str) -> None:
    assert short_age(seconds) == shown


# -- the list's filters --------------------------------------------------------------------


def test_a_filter_from_the_options() -> None:
    wanted = ListFilter.of(
        sagas=["a", "b"],
        states=["shipping"],
        statuses=["running", "failed"],
        older_than=timedelta(minutes=10),
        stuck=True,
        threshold=timedelta(hours=1),
        limit=5,
    )
    assert wanted == ListFilter(
        ("a", "b"), ("shipping",), ("running", "failed"), timedelta(minutes=10), True,
        timedelta(hours=1), 5,
    )  # fmt: skip
    assert ListFilter.of() == ListFilter()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"statuses": ["runing"]}, "--status 'runing' is not a status (statuses: running,"),
        ({"threshold": timedelta(minutes=5)}, "--threshold says when an instance is stuck"),
        ({"limit": 0}, "--limit 0: give at least 1"),
    ],
)
def test_filters_refuse_what_they_cannot_use(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        ListFilter.of(**options)  # type: ignore[arg-type]


# -- dead letters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("shop.orders[0]@7", ("shop.orders", 0, 7)),
        ("w1.shop.dead-letters[12]@3456", ("w1.shop.dead-letters", 12, 3456)),
        (" a[b][1]@2 ", ("a[b]", 1, 2)),
    ],
)
def test_positions(text: str, position: tuple[str, int, int]) -> None:
    assert parse_position(text) == position


@pytest.mark.parametrize("text", ["shop.orders", "shop[0]", "shop@1", "[0]@1", "s[-1]@2", "s[x]@1"])
def test_what_is_no_position(text: str) -> None:
    assert parse_position(text) is None


def _envelope_headers() -> list[tuple[str, bytes | None]]:
    envelope = Envelope.new(order_placed(), correlation_id="o-1", producer="orders")
    return list(envelope.with_schema("shop.orders.OrderPlaced/v2").to_headers())


def test_a_dead_letter_gives_back_the_original_record_and_its_claim() -> None:
    original = _envelope_headers()
    dead = DeadLetter(
        topic="w.shop.dead-letters",
        partition=1,
        offset=4,
        key=b"o-1",
        value=b"\x00",
        headers=(
            *original,
            ("dead-letter-error", b"RuntimeError: boom"),
            ("dead-letter-source", b"w.shop.orders[2]@17"),
            ("dead-letter-group", b"shop/shipping"),
        ),
    )
    assert dead.position == "w.shop.dead-letters[1]@4"
    assert dead.source == ("w.shop.orders", 2, 17)
    assert (dead.error, dead.group) == ("RuntimeError: boom", "shop/shipping")
    assert dead.original_headers == original
    assert dead.event_id == Envelope.from_headers(original).event_id
    assert dead.replay_id == dead_letter_id("w.shop.dead-letters", 1, 4)
    assert dead.to_json()["source"] == "w.shop.orders[2]@17"


def test_an_undecodable_dead_letter_is_claimed_by_its_source_position() -> None:
    dead = DeadLetter("dl", 0, 9, None, b"junk", (("dead-letter-source", b"w.shop.orders[2]@17"),))
    assert dead.event_id == dead_letter_id("w.shop.orders", 2, 17)  # as the consumer did
    assert dead.event_type == ""
    assert DeadLetter("dl", 0, 9, None, None, ()).source is None  # no dead letter at all


# -- sensitive saga data -------------------------------------------------------------------


def test_fields_the_contracts_mark_are_masked_in_saga_data() -> None:
    names = sensitive_names(Settings(schema_dir=AVRO), ["coupon"])
    assert "shipping_address.line1" in names
    assert "line1" in names  # the data may keep the field at another depth
    assert "country" not in names
    data = {
        "order_id": "o-1",
        "coupon": "SAVE10",
        "shipping_address": {"line1": "1 Road", "city": "Hamburg", "country": "DE"},
        "last_address": {"line1": "2 Road"},
    }
    shown = masked(data, names)
    assert shown["order_id"] == "o-1"
    assert shown["coupon"] == "***"
    assert shown["shipping_address"]["line1"] == "***"
    assert shown["shipping_address"]["country"] == "DE"
    assert shown["last_address"]["line1"] == "***"
    assert data["coupon"] == "SAVE10"  # a copy is masked


def test_without_a_contract_folder_only_the_named_fields_are_masked(tmp_path: Path) -> None:
    assert sensitive_names(Settings(schema_dir=tmp_path / "none"), ["sku"]) == ["sku"]


# -- the executable, before any connection -------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path / "stack")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("sagas", "list", "--status", "stuck"), "--status 'stuck' is not a status"),
        (("sagas", "list", "--older-than", "10x"), "--older-than '10x' is not a duration"),
        (("sagas", "list", "--threshold", "1h"), "give --stuck too"),
        (("sagas", "list", "--stuck", "--threshold", "soon"), "--threshold 'soon'"),
        (("sagas", "list", "--limit", "-1"), "--limit -1"),
        (("sagas", "retry", "o-1", "--reason", "r", "--timeout", "-1"), "--timeout -1"),
        (("dead-letters", "replay", "orders@3", "--reason", "r"), "'orders@3' is not a position"),
        (("orphans", "list", "--limit", "0"), "--limit 0"),
        (("outbox", "refused", "--limit", "0"), "limit 0"),
    ],
)
def test_bad_options_are_one_line(env: dict[str, str], args: tuple[str, ...], needle: str) -> None:
    assert_one_line_error(run_saga(*args, env=env), needle)


def test_no_database_is_one_line(env: dict[str, str]) -> None:
    assert_one_line_error(run_saga("sagas", "list", env=env), "the stack is not up")
    url = f"postgresql://saga:secret-pw@127.0.0.1:{closed_port()}/saga"
    for args in (
        ("sagas", "stats"),
        ("orphans", "list"),
        ("outbox", "refused"),
        ("sagas", "show", "o-1"),
    ):
        done = run_saga(*args, env={**env, "SAGA_DATABASE_URL": url})
        line = assert_one_line_error(done, "cannot reach PostgreSQL")
        assert "secret-pw" not in line


def test_no_broker_is_one_line(env: dict[str, str]) -> None:
    done = run_saga(
        "dead-letters",
        "list",
        "--timeout",
        "1",
        env={**env, "SAGA_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed_port()}"},
    )
    assert_one_line_error(done, "did not answer within 1s")


def test_usage_errors(env: dict[str, str]) -> None:
    assert_usage_error(run_saga("sagas", "compensate", "o-1", env=env), "--reason")
    assert_usage_error(run_saga("orphans", "discard", env=env), "Missing argument")
    assert_usage_error(run_saga("sagas", "list", "--limit", "many", env=env), "valid integer")


def test_the_id_a_replay_is_claimed_under_never_changes() -> None:
    # Replays already recorded would be sent back again if it did.
    dead = DeadLetter("w.shop.dead-letters", 1, 4, None, None, ())
    assert dead.replay_id == UUID("4765e4d5-83af-5d74-9f28-d6ebe1cd5784")
