"""What every benchmark needs: the endpoints, and a scratch database and topics that are
removed afterwards."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy.engine import make_url

from saga.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def endpoints() -> tuple[str, str]:
    """(database URL, Kafka bootstrap): SAGA_* settings, else the stack of `saga stack up`."""
    settings = Settings()
    if settings.kafka_bootstrap and settings.database_url:
        return settings.database_url.get_secret_value(), settings.kafka_bootstrap
    state = json.loads((ROOT / ".saga" / "endpoints.json").read_text())
    return state["database_url"], state["kafka_bootstrap"]


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def scratch_database(url: str, prefix: str = "bench") -> Iterator[str]:
    """A new database on the server of ``url``, dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    base = make_url(url)
    admin_url = plain(base.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_topics(bootstrap: str, names: list[str], partitions: int) -> Iterator[list[str]]:
    """New topics, deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    )
    for future in futures.values():
        future.result(30)
    try:
        yield names
    finally:
        admin.delete_topics(names)
