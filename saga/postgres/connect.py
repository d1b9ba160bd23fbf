"""Engines for the framework's database URLs: ``postgresql://`` means psycopg 3 here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from saga.errors import ConfigError, TransportError
from saga.settings import check_database_url, redact_error, redact_url

__all__ = ["KEEPALIVES", "database_errors", "engine_for", "keepalives_for", "psycopg_url"]

# TCP keepalives on every framework connection: a peer that vanished (a dead NAT entry, a
# failover) is noticed within about a minute instead of the kernel's two hours.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def keepalives_for(url: str) -> dict[str, Any]:
    """:data:`KEEPALIVES`, less what ``url`` sets itself (the user's choice wins)."""
    given = set(sqlalchemy.engine.make_url(psycopg_url(url)).query)
    return {k: v for k, v in KEEPALIVES.items() if k not in given}


def psycopg_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named (SQLAlchemy's default for a bare
    ``postgresql://`` is psycopg2, which the framework does not use)."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def engine_for(url: str, **options: Any) -> Engine:
    """A SQLAlchemy engine on psycopg 3 for ``url`` (``options`` go to ``create_engine``),
    with TCP keepalives unless the URL or ``connect_args`` set them."""
    connect_args = {**keepalives_for(url), **options.pop("connect_args", {})}
    return sqlalchemy.create_engine(psycopg_url(url), connect_args=connect_args, **options)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn a malformed URL, a missing table or an unreachable server into one line naming
    the fix; the password never shows (the driver's own message may quote the URL)."""
    check_database_url(url)  # the URL may come from the stack's state file, not Settings
    try:
        yield
    except (psycopg.errors.UndefinedTable, ProgrammingError) as exc:
        if "does not exist" not in str(exc):
            raise
        raise ConfigError(
            f"the framework's tables are missing in {redact_url(url)}: run `saga db upgrade`"
        ) from None
    except (psycopg.OperationalError, OperationalError) as exc:
        driver_error = getattr(exc, "orig", None) or exc  # without SQLAlchemy's wrapping
        raise TransportError(
            f"cannot reach PostgreSQL at {redact_url(url)} ({redact_error(driver_error, url)}): "
            "run `saga stack up` or check SAGA_DATABASE_URL"
        ) from None
