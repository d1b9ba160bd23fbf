"""Engines for the framework's database URLs: ``postgresql://`` means psycopg 3 here."""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import Engine

__all__ = ["engine_for", "psycopg_url"]


def psycopg_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named (SQLAlchemy's default for a bare
    ``postgresql://`` is psycopg2, which the framework does not use)."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def engine_for(url: str, **options: Any) -> Engine:
    """A SQLAlchemy engine on psycopg 3 for ``url`` (``options`` go to ``create_engine``)."""
    return sqlalchemy.create_engine(psycopg_url(url), **options)
