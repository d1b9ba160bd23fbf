"""A broker and a database server of a test module's own, to stop and start at will."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy.engine import make_url

from saga.postgres.tables import upgrade_database
from saga.settings import Settings
from saga.stack import FREEZABLE_BROKER, NativeStack


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass
class PrivateStack:
    """A broker and a database server of this module's own, to stop and start at will."""

    stack: NativeStack
    bootstrap: str
    admin_url: str

    def new_database(self) -> str:
        """A new database with the framework's tables on the private server."""
        url = make_url(self.admin_url)
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(plain(self.admin_url), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        made = url.set(database=name).render_as_string(hide_password=False)
        upgrade_database(made)
        return made

    def new_topic(self) -> str:
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        name = f"test-{uuid.uuid4().hex[:12]}"
        admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(
            30
        )
        return name

    def watermarks(self, topic: str) -> list[tuple[int, int]]:
        """(low, high) offsets of each partition of ``topic``, as a read_committed reader sees."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"watermarks-{uuid.uuid4().hex}",
                "isolation.level": "read_committed",
            }
        )
        try:
            return [
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                for p in range(3)
            ]
        finally:
            consumer.close()

    def restart_postgres(self) -> None:
        """``pg_ctl stop -m immediate`` (a crash: no checkpoint), then start on the same port."""
        port = int(json.loads((self.stack.dir / "endpoints.json").read_text())["postgres_port"])
        self.stack.postgres.stop(mode="immediate")
        self.stack.postgres.start(port)


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """A Kafka broker and PostgreSQL of this module only: tests may stop them."""
    settings = Settings(
        stack_dir=tmp_path_factory.mktemp("private") / "stack", stack_backend="native"
    )
    stack = NativeStack(settings, broker_properties=FREEZABLE_BROKER)
    try:
        endpoints = stack.up().endpoints
        yield PrivateStack(stack, endpoints.kafka_bootstrap, endpoints.database_url)
    finally:
        stack.down()
