"""What the consumer loop waits out (an outage) and what it retries, then dead-letters (the
handler's failure), told apart by the SQLSTATE the server answered with."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy.exc import DBAPIError, OperationalError

from saga.errors import ConfigError, RegistryUnavailable
from saga.runtime.failures import is_outage


def wrapped(error: Exception) -> DBAPIError:
    """As SQLAlchemy raises it: its own class around the driver's error."""
    return DBAPIError.instance("SELECT 1", {}, error, psycopg.Error)


@pytest.mark.parametrize(
    "error",
    [
        pg.AdminShutdown(),  # 57P01: the server is going down
        pg.CannotConnectNow(),  # 57P03: starting up
        pg.TooManyConnections(),  # 53300
        pg.SerializationFailure(),  # 40001: a lost race, tried again
        pg.DeadlockDetected(),  # 40P01
        psycopg.OperationalError("connection refused"),  # no answer: no SQLSTATE
    ],
)
def test_the_database_away_or_busy_is_waited_out(error: Exception) -> None:
    assert is_outage(error)
    assert is_outage(wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        pg.QueryCanceled(),  # 57014: statement_timeout
        pg.LockNotAvailable(),  # 55P03: lock_timeout
        pg.UniqueViolation(),
        pg.DivisionByZero(),
    ],
)
def test_a_timeout_or_a_bad_statement_is_the_handler_s_failure(error: Exception) -> None:
    assert not is_outage(error)
    assert not is_outage(wrapped(error))


def test_framework_errors_say_themselves() -> None:
    assert is_outage(RegistryUnavailable("registry away"))
    assert not is_outage(ConfigError("bad"))
    assert not is_outage(RuntimeError("handler bug"))
    assert isinstance(wrapped(pg.QueryCanceled()), OperationalError)
