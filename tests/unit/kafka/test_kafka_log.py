"""librdkafka's log lines reach Python logging once a minute each, with a count."""

from __future__ import annotations

import logging

import pytest

from saga.kafka.log import kafka_logger


def test_a_repeated_line_is_let_through_once_and_counted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("saga.kafka.log.time.monotonic", lambda: clock[0])
    logger = kafka_logger()
    with caplog.at_level(logging.INFO, logger="saga.kafka"):
        for delay in (0, 3, 5):  # the same failure from two clients, with changing numbers
            logger.error("FAIL [rdkafka#producer-%d] 127.0.0.1:1: refused (after %dms)", 7, delay)
        logger.error("FAIL [rdkafka#consumer-2] 127.0.0.1:1: refused (after 9ms)")
        logger.error("SESSTMOUT [rdkafka#consumer-2] session timed out")
        clock[0] += 61
        logger.error("FAIL [rdkafka#producer-7] 127.0.0.1:1: refused (after 1ms)")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "SESSTMOUT" in lines[1]
    assert lines[2].endswith("(3 more like it in the last minute)")


def test_the_warning_about_a_setting_chosen_on_purpose_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = kafka_logger()
    with caplog.at_level(logging.INFO, logger="saga.kafka"):
        logger.warning(
            "CONFWARN [rdkafka#producer-4] [thrd:app]: Configuration property "
            "enable.gapless.guarantee is experimental: When set to `true`, any error ..."
        )
        logger.warning("CONFWARN [rdkafka#producer-4] [thrd:app]: something else is odd")
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == ["something else is odd"]
