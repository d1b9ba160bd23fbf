"""`saga worker` checks its topics before it joins the group, and refuses to start with one
line naming them and the fix (exit 2): a missing topic (the services' requests topics
included, which a shop set up before requests travelled apart lacks), and topics of one
saga with unequal partition counts (one instance's events must meet in one worker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from saga.kafka.admin import create_topics
from saga.postgres.tables import upgrade_database
from saga.stack import Endpoints
from services import setup
from tests._saga_cli import ROOT, assert_one_line_error, env_with_endpoints, run_saga

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(saga_endpoints: Endpoints) -> Iterator[str]:
    """A prefix for the test's topics, which are deleted afterwards."""
    prefix = f"wt-{uuid.uuid4().hex[:8]}."
    yield prefix
    setup.drop_topics(saga_endpoints, prefix=prefix)


def run_worker(
    service: str, prefix: str, database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> str:
    """The error line of ``saga worker services.<service>`` as the demo starts it."""
    env = env_with_endpoints(
        tmp_path / "stack",
        database_url,
        kafka_bootstrap,
        SAGA_SCHEMA_DIR=str(ROOT / "avro"),
    )
    done = run_saga(
        "worker",
        f"services.{service}",
        "--name",
        service,
        "--topic-prefix",
        prefix,
        "--no-relay",
        env=env,
        timeout=90,
    )
    return assert_one_line_error(done)


def test_a_saga_s_topics_with_unequal_partition_counts_are_refused(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path, prefix: str
) -> None:
    upgrade_database(fresh_database_url)
    config = {"bootstrap.servers": kafka_bootstrap}
    payments = f"{prefix}shop.payments"
    create_topics(config, [t for t in setup.topics(prefix) if t != payments], partitions=3)
    create_topics(config, [payments], partitions=2)
    line = run_worker("orders", prefix, fresh_database_url, kafka_bootstrap, tmp_path)
    assert "shop.OrderSaga reads topics with different partition counts" in line
    assert f"{prefix}shop.payments 2" in line
    assert f"{prefix}shop.orders 3" in line


def test_a_service_without_its_requests_topic_is_refused_with_the_command(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path, prefix: str
) -> None:
    upgrade_database(fresh_database_url)
    requests = f"{prefix}shop.payments.requests"
    config = {"bootstrap.servers": kafka_bootstrap}
    create_topics(config, [t for t in setup.topics(prefix) if t != requests], partitions=1)
    line = run_worker("payments", prefix, fresh_database_url, kafka_bootstrap, tmp_path)
    assert f"topics missing in Kafka: {requests}: create them with" in line
    assert f"`saga topics create MODULE... --topic-prefix {prefix} --partitions N`" in line
