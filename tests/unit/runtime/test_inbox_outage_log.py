"""The inbox's outage warning never shows the database password, however the driver quotes it."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from saga.runtime.inbox_consumer import InboxConsumer
from tests.integration.outbox._support import serializer

PASSWORD = "s3cr%t@pw"
URL = "postgresql+psycopg://saga:s3cr%25t%40pw@127.0.0.1:1/saga"


class _DatabaseAway:
    """A consumer whose poll fails as a lost connection would, then stops the loop."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def poll(self, timeout: float) -> object:
        self.stop.set()
        driver_text = f"connection to 127.0.0.1 failed: password={PASSWORD} (s3cr%25t%40pw)"
        raise OperationalError("select 1", {}, Exception(driver_text))


def test_the_outage_warning_masks_the_password(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    consumer = InboxConsumer(
        _DatabaseAway(stop),  # type: ignore[arg-type]
        sessionmaker(create_engine(URL)),  # connects lazily: nothing is reached here
        serializer(),
        "group",
        lambda session, decoded: None,
        retention=None,
    )
    with caplog.at_level(logging.WARNING, logger="saga.inbox"):
        consumer.run(stop)
    [warning] = [r.getMessage() for r in caplog.records if "away" in r.getMessage()]
    assert "database away" in warning
    assert "password=***" in warning
    assert "s3cr" not in warning
