"""A running worker notices when an input topic's partition count changes (its keys hash to
other partitions from then on) and says so once, naming the topic and both counts."""

from __future__ import annotations

import logging
import threading

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions

from saga.contracts.serde import Serializer
from saga.contracts.topics import TopicMap
from saga.runtime import worker as worker_module
from saga.runtime.worker import Worker
from saga.settings import Settings
from saga.testing import eventually
from tests.integration.worker import app
from tests.integration.worker.conftest import Scene

pytestmark = pytest.mark.integration


def test_a_change_of_partition_count_is_reported_once(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="saga.worker")
    monkeypatch.setattr(worker_module, "_RECOUNT_SECONDS", 0.2)
    worker = Worker(
        sagas=[app.OrderSaga],
        participants=[app.inventory, app.payments, app.shipping],
        database_url=scene.url,
        kafka_bootstrap=scene.bootstrap,
        topics=TopicMap(prefix=scene.prefix),
        serializer=Serializer(Settings(schema_dir=scene.contracts)),
        name="shop",
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        scene.place(3)
        scene.wait_ended(3)  # running, its topics counted
        topic = f"{scene.prefix}test.shop"
        admin = AdminClient({"bootstrap.servers": scene.bootstrap})
        admin.create_partitions([NewPartitions(topic, 4)])[topic].result(30)
        said = f"topic {topic} has 4 partitions, not 3"
        eventually(lambda: said in caplog.text, timeout=60, what="the change reported")
        scene.place(3)  # batches go on; the report is not repeated
        scene.wait_ended(6)
        assert caplog.text.count(said) == 1
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
