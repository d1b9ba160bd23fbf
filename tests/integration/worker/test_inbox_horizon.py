"""Inbox claims outlive the records they claim: a worker keeps them as long as its topics
may keep records (retention.ms + segment.ms), so a rewind (offsets expired or reset, a new
consumer reading from the earliest record) applies nothing twice."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from saga.testing import eventually
from tests.integration.worker._support import query
from tests.integration.worker.conftest import Scene

pytestmark = pytest.mark.integration


def _claim(scene: Scene, days: int) -> str:
    event_id = str(uuid.uuid4())
    with psycopg.connect(scene.url.replace("+psycopg", "", 1), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO saga_inbox (consumer_group, event_id, processed_at) "
            "VALUES ('test.OrderSaga', %s, now() - make_interval(days => %s))",
            (event_id, days),
        )
    return event_id


def test_claims_are_kept_while_the_topics_may_keep_their_records(scene: Scene) -> None:
    # The topics keep records 7 days in 7-day segments (Kafka's defaults): up to 14 days.
    kept = _claim(scene, 10)
    gone = _claim(scene, 20)
    worker = scene.start()

    def left() -> set[str]:
        rows = query(scene.url, "SELECT event_id::text FROM saga_inbox")
        return {str(r[0]) for r in rows}

    eventually(lambda: gone not in left(), timeout=60, what="the 20-day-old claim pruned")
    assert kept in left()  # 10 days: past the worker's 7, within what Kafka may keep
    log = scene.log(worker, whole=True)
    assert "keeps inbox claims for 14 days, 1:00:00, not 7 days" in log, log
    assert scene.stop(worker) == 0
