"""The relay's pending read walks the pending index in id order, whatever the planner
believes about the backlog (a bitmap scan and a sort would read the whole backlog for each
batch: measured, half the relay's throughput on a 225k-row backlog)."""

from __future__ import annotations

import psycopg
import pytest

from saga.postgres import relay_store as store
from tests.integration.outbox._support import plain

pytestmark = pytest.mark.integration

INSERT = """
INSERT INTO saga_outbox (lane, topic, key, value, header_names, header_values, event_id,
                         event_type)
SELECT g % 8, 't', convert_to('k' || (g % 100)::text, 'UTF8'), '\\x00'::bytea, ARRAY['a'],
       ARRAY['\\x01'::bytea], gen_random_uuid(), 'e'
FROM generate_series(1, 20000) g
"""


def plan_of_read(conn: psycopg.Connection) -> str:
    query = store._READ.as_string(conn)
    rows = conn.execute(
        f"EXPLAIN {query}",
        {"lanes": list(range(8)), "skip": "{1,2,3}", "limit": 5000, "budget": 1 << 30},
    ).fetchall()
    return "\n".join(row[0] for row in rows)


def test_the_pending_read_walks_the_index_even_when_the_planner_would_sort(
    outbox_url: str,
) -> None:
    with psycopg.connect(plain(outbox_url), autocommit=True) as conn:
        conn.execute(INSERT)
        conn.execute("ANALYZE saga_outbox")
        # Make random reads look dear, as stale statistics make a backlog look small: the
        # planner then prefers to read everything pending and sort it.
        conn.execute("SET random_page_cost = 1000")
        assert "Sort" in plan_of_read(conn), "the planner was not tempted: the test shows nothing"

        store.read_in_id_order(conn)
        plan = plan_of_read(conn)
        assert "Index Scan using saga_outbox_pending" in plan, plan
        assert "Sort" not in plan, plan
        rows = store.read_pending(conn, list(range(8)), 5000, [1, 2, 3])
        assert [r.id for r in rows] == list(range(4, 5004))
