"""Engines for the framework's database URLs: ``postgresql://`` means psycopg 3 here."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import Engine

__all__ = ["KEEPALIVES", "engine_for", "keepalives_for", "psycopg_url"]

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
