"""`saga worker` checks its topics before it joins the group: the topics a saga reads must
have equal partition counts (one instance's events then meet in one worker), else one line
naming them and exit 2."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from saga.kafka.admin import create_topics
from saga.postgres.tables import upgrade_database
from tests._saga_cli import ROOT, assert_one_line_error, env_with_endpoints, run_saga

pytestmark = pytest.mark.integration

SHOP = ("shop.inventory", "shop.orders", "shop.payments", "shop.shipping")


def test_a_saga_s_topics_with_unequal_partition_counts_are_refused(
    fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    upgrade_database(fresh_database_url)
    prefix = f"parts-{uuid.uuid4().hex[:8]}."
    config = {"bootstrap.servers": kafka_bootstrap}
    create_topics(config, [f"{prefix}{t}" for t in SHOP if t != "shop.payments"], partitions=3)
    create_topics(config, [f"{prefix}shop.payments", f"{prefix}orders.dead-letters"], partitions=2)
    env = env_with_endpoints(
        tmp_path / "stack",
        fresh_database_url,
        kafka_bootstrap,
        SAGA_SCHEMA_DIR=str(ROOT / "avro"),
    )
    done = run_saga(
        "worker",
        "services.orders",
        "--name",
        "orders",
        "--topic-prefix",
        prefix,
        "--no-relay",
        env=env,
        timeout=90,
    )
    assert_one_line_error(
        done,
        "shop.OrderSaga reads topics with different partition counts",
        f"{prefix}shop.payments 2",
        f"{prefix}shop.orders 3",
    )
