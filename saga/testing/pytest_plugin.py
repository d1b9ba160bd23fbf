"""pytest fixtures that give a test a real Kafka broker and a real PostgreSQL.

Loaded automatically (``pytest11`` entry point). Session fixtures ``kafka_bootstrap`` and
``database_url`` come from, in order: ``SAGA_KAFKA_BOOTSTRAP`` + ``SAGA_DATABASE_URL``;
testcontainers when a Docker engine answers; the native stack (started if it is not up,
stopped at the end if this session started it). Per-test isolation: ``kafka_topic`` (a new
topic) and ``fresh_database_url`` (a new database), both removed afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from saga.stack import Endpoints

_used: list[Endpoints] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: talks to a real Kafka broker and a real PostgreSQL"
    )


def _testcontainers(stack: ExitStack) -> Endpoints:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    from saga.stack import Endpoints

    kafka_image = os.environ.get("SAGA_TEST_KAFKA_IMAGE", "confluentinc/cp-kafka:7.9.0")
    pg_image = os.environ.get("SAGA_TEST_POSTGRES_IMAGE", "postgres:17")
    kafka = stack.enter_context(KafkaContainer(kafka_image).with_kraft())
    postgres = stack.enter_context(PostgresContainer(pg_image, driver="psycopg"))
    return Endpoints(
        backend="testcontainers",
        kafka_bootstrap=kafka.get_bootstrap_server(),
        database_url=postgres.get_connection_url(),
    )


@pytest.fixture(scope="session")
def saga_endpoints() -> Iterator[Endpoints]:
    """The Kafka and PostgreSQL this test session uses (see the module docstring)."""
    from saga.settings import Settings
    from saga.stack import NativeStack, docker_engine_answers, explicit_endpoints
    from saga.testing._backend import select_test_backend

    settings = Settings()
    backend = select_test_backend(settings, docker_answers=docker_engine_answers)
    with ExitStack() as stack:
        if backend == "explicit":
            endpoints = explicit_endpoints(settings)
            assert endpoints is not None
        elif backend == "testcontainers":
            endpoints = _testcontainers(stack)
        else:
            native = NativeStack(settings)
            health = native.health()
            result = native.up()
            if health is None or not health.ready:
                stack.callback(native.down)  # started here, so stopped here
            endpoints = result.endpoints
        _used.append(endpoints)
        yield endpoints


@pytest.fixture(scope="session")
def kafka_bootstrap(saga_endpoints: Endpoints) -> str:
    return saga_endpoints.kafka_bootstrap


@pytest.fixture(scope="session")
def database_url(saga_endpoints: Endpoints) -> str:
    return saga_endpoints.database_url


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Iterator[str]:
    """A new topic (3 partitions) for one test, deleted afterwards."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    from saga.settings import Settings

    admin = AdminClient(Settings().kafka_config(kafka_bootstrap))
    name = f"test-{uuid.uuid4().hex[:12]}"
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for endpoints in _used:
        described = ", ".join(f"{k}={v}" for k, v in endpoints.describe().items())
        terminalreporter.write_line(f"saga: real Kafka/PostgreSQL used: {described}")
