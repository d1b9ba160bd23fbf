"""The shop's order saga end to end, next to the raw limits of the same machine, in one run.

    .venv/bin/python benchmarks/bench_order_saga.py [--seconds 20] [--json FILE]

Uses SAGA_DATABASE_URL / SAGA_KAFKA_BOOTSTRAP, else the stack of `saga stack up`. Sets the
shop up as `saga demo` does (fresh `shop_*` databases, topics of its own), starts the four
workers (`saga worker services.<service>`) as processes, and places orders with the orders
API's own transaction (order row + lines + OrderPlaced through the outbox), called
in-process: HTTP is left out, so the figures are the saga's. Outcome mix as in the demo
(about 15% compensated), no kill. Measures:

1. the maximum sustained rate: a closed loop that keeps --in-flight orders open, sagas ended
   per second after a warm-up;
2. order → end latency (the order row's commit to the saga's terminal history entry, both by
   the database clock) at fixed rates of 50 and 200 orders/s;
3. 1 and 2 again with two processes per service (one consumer group each);
4. where the time goes: the median time between the saga's history entries (each one a
   Kafka hop: relay → broker → consumer → transaction) at 50 orders/s;
5. raw limits: PostgreSQL transactions doing one step's writes directly (inbox row, effect
   row, outbox row; 1 and 4 connections), and a Kafka produce → consume round trip
   (idempotent producer; and one record per producer transaction, read_committed, as the
   relay publishes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, Producer
from sqlalchemy import text

from saga.postgres import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saga.kafka.admin import create_topics  # noqa: E402
from saga.settings import Settings  # noqa: E402
from saga.stack import Endpoints, resolve_endpoints  # noqa: E402
from services import setup  # noqa: E402
from services.demo.plan import make_plan  # noqa: E402
from services.demo.processes import Shop  # noqa: E402
from services.demo.report import SAGA, quantile  # noqa: E402
from services.orders.api import OrdersApi, PlaceOrder  # noqa: E402

PREFIX = "bench-"


def engine_for(url: str) -> Any:
    return connect.engine_for(url, pool_size=12)


@contextmanager
def running_shop(endpoints: Endpoints, copies: int) -> Iterator[tuple[Shop, OrdersApi]]:
    prefix = f"{PREFIX}{uuid.uuid4().hex[:6]}."
    setup.start_afresh(endpoints)
    urls = setup.service_urls(endpoints.database_url)
    setup.migrate(urls)
    setup.drop_topics(endpoints, prefix=PREFIX)
    setup.make_topics(endpoints, prefix)
    setup.stock_up(urls["inventory"])
    shop = Shop(urls, endpoints.kafka_bootstrap, prefix, ROOT / ".saga" / "bench", copies=copies)
    api = OrdersApi(engine_for(urls["orders"]), prefix)
    try:
        shop.start()
        shop.wait_ready(120)
        yield shop, api
    finally:
        shop.stop()
        api.engine.dispose()


class Orders:
    """Orders of the demo's mix, placed through the API's transaction."""

    def __init__(self, api: OrdersApi, seed: int) -> None:
        self.api = api
        self.bodies = iter(o.body for o in make_plan(200_000, seed).orders)
        self.lock = threading.Lock()
        self.placed = 0

    def place_one(self) -> None:
        with self.lock:
            body = next(self.bodies)
        self.api._place(PlaceOrder.model_validate(body))
        with self.lock:
            self.placed += 1


def ended(url: str) -> int:
    with engine_for(url).connect() as conn:
        value = conn.execute(
            text(
                "SELECT count(*) FROM saga_instance WHERE saga = :s AND status IN "
                "('completed', 'compensated', 'failed')"
            ),
            {"s": SAGA},
        ).scalar_one()
    return int(value)


def wait_drained(url: str, placed: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while ended(url) < placed:
        if time.monotonic() > deadline:
            raise RuntimeError(f"sagas did not all end within {timeout}s")
        time.sleep(0.25)


def closed_loop(shop: Shop, api: OrdersApi, seconds: float, in_flight: int) -> dict[str, Any]:
    """Keep ``in_flight`` orders open with 8 placing threads; sagas ended per second."""
    url = shop.urls["orders"]
    orders = Orders(api, seed=11)
    done = {"ended": 0}
    stop = threading.Event()

    def monitor() -> None:
        while not stop.is_set():
            done["ended"] = ended(url)
            time.sleep(0.1)

    def place() -> None:
        while not stop.is_set():
            if orders.placed - done["ended"] >= in_flight:
                time.sleep(0.005)
                continue
            orders.place_one()

    threads = [threading.Thread(target=monitor, daemon=True)]
    threads += [threading.Thread(target=place, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    warm_up = min(5.0, seconds / 4)
    time.sleep(warm_up)
    first, t1 = done["ended"], time.monotonic()
    time.sleep(seconds)
    last, t2 = done["ended"], time.monotonic()
    stop.set()
    for thread in threads:
        thread.join(10)
    wait_drained(url, orders.placed)
    return {"sagas_per_second": round((last - first) / (t2 - t1), 1), "in_flight": in_flight}


def fixed_rate(shop: Shop, api: OrdersApi, rate: float, seconds: float) -> dict[str, Any]:
    """``rate`` orders/s for ``seconds``; order → end latency of those orders."""
    url = shop.urls["orders"]
    orders = Orders(api, seed=int(rate))
    count = int(rate * seconds)
    with engine_for(url).connect() as conn:
        since = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    t0 = time.monotonic()
    next_index = {"i": 0}
    lock = threading.Lock()
    late = {"n": 0}

    def place() -> None:
        while True:
            with lock:
                i = next_index["i"]
                next_index["i"] += 1
            if i >= count:
                return
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                late["n"] += 1
            orders.place_one()

    threads = [threading.Thread(target=place, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    placing = time.monotonic() - t0
    wait_drained(url, _orders(url))
    latencies, hops = _latencies(url, since)
    return {
        "rate": rate,
        "orders": count,
        "achieved_rate": round(count / placing, 1),
        "orders_placed_late": late["n"],
        "latency_ms": {
            "p50": round(quantile(latencies, 0.5) * 1000, 1),
            "p99": round(quantile(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies, default=0.0) * 1000, 1),
        },
        "hops_ms": hops,
    }


def _orders(url: str) -> int:
    with engine_for(url).connect() as conn:
        value = conn.execute(text("SELECT count(*) FROM customer_order")).scalar_one()
    return int(value)


def _latencies(url: str, since: Any) -> tuple[list[float], dict[str, float]]:
    """Order → end of the orders placed since ``since``, and the median gap per history move."""
    with engine_for(url).connect() as conn:
        ends = conn.execute(
            text(
                "SELECT extract(epoch FROM min(h.at) - o.placed_at) FROM customer_order o "
                "JOIN saga_history h ON h.saga = :s AND h.instance_id = o.order_id::text "
                "AND h.to_state IN ('completed', 'cancelled', 'needs_attention') "
                "WHERE o.placed_at >= :t GROUP BY o.order_id, o.placed_at"
            ),
            {"s": SAGA, "t": since},
        ).all()
        gaps = conn.execute(
            text(
                "SELECT h.trigger,"
                " extract(epoch FROM h.at - coalesce(lag(h.at) OVER w, o.placed_at))"
                " FROM customer_order o JOIN saga_history h ON h.saga = :s "
                "AND h.instance_id = o.order_id::text WHERE o.placed_at >= :t "
                "WINDOW w AS (PARTITION BY h.instance_id ORDER BY h.seq)"
            ),
            {"s": SAGA, "t": since},
        ).all()
    by_trigger: dict[str, list[float]] = {}
    for trigger, gap in gaps:
        by_trigger.setdefault(trigger.rsplit(".", 1)[-1], []).append(float(gap))
    hops = {k: round(statistics.median(v) * 1000, 1) for k, v in by_trigger.items() if len(v) > 10}
    return [float(row[0]) for row in ends], hops


# -- raw limits ------------------------------------------------------------------------------


def _step_writes(url: str, stop: threading.Event, counts: list[int], n: int) -> None:
    value = b"v" * 250
    with psycopg.connect(url) as conn:
        while not stop.is_set():
            event_id = uuid.uuid4()
            with conn.transaction():
                conn.execute(
                    "INSERT INTO saga_inbox (consumer_group, event_id) VALUES (%s, %s)",
                    ("bench", event_id),
                )
                conn.execute(
                    "INSERT INTO effect (event_id, kind, order_id) VALUES (%s, %s, %s)",
                    (event_id, "bench", event_id),
                )
                conn.execute(
                    "INSERT INTO saga_outbox (lane, topic, key, value, header_names,"
                    " header_values, event_id, event_type) VALUES"
                    " (0, 'bench', %s, %s, %s, %s, %s, 'bench.Step')",
                    (b"k", value, ["event-id"], [event_id.bytes], event_id),
                )
            counts[n] += 1


def raw_postgres(endpoints: Endpoints, seconds: float) -> dict[str, float]:
    """One step's writes per transaction, done directly: inbox, effect and outbox rows."""
    urls = setup.service_urls(endpoints.database_url)
    url = urls["payments"].replace("postgresql+psycopg://", "postgresql://", 1)
    out: dict[str, float] = {}
    for connections in (1, 4):
        stop = threading.Event()
        counts = [0] * connections
        threads = [
            threading.Thread(target=_step_writes, args=(url, stop, counts, n), daemon=True)
            for n in range(connections)
        ]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(10)
        key = f"step_transactions_per_second_{connections}_connections"
        out[key] = round(sum(counts) / seconds)
    with psycopg.connect(url, autocommit=True) as conn:  # leave the shop's tables as they were
        conn.execute("DELETE FROM saga_outbox WHERE topic = 'bench'")
        conn.execute("DELETE FROM effect WHERE kind = 'bench'")
        conn.execute("DELETE FROM saga_inbox WHERE consumer_group = 'bench'")
    return out


def raw_kafka(endpoints: Endpoints, messages: int = 2000) -> dict[str, Any]:
    """Produce → consume round trips, one message at a time."""
    config = Settings().kafka_config(endpoints.kafka_bootstrap)
    topic = f"{PREFIX}roundtrip-{uuid.uuid4().hex[:6]}"
    create_topics(config, [topic], partitions=1)
    out: dict[str, Any] = {}
    for mode in ("idempotent", "transactional"):
        consumer = Consumer(
            {
                **config,
                "group.id": f"bench-{uuid.uuid4().hex[:6]}",
                "isolation.level": "read_committed",
                "auto.offset.reset": "latest",
                "fetch.wait.max.ms": 10,
            }
        )
        consumer.subscribe([topic])
        while not consumer.assignment():
            consumer.poll(0.1)
        producer_config = {**config, "enable.idempotence": True, "acks": "all", "linger.ms": 0}
        if mode == "transactional":
            producer_config["transactional.id"] = f"bench-{uuid.uuid4().hex[:6]}"
        producer = Producer(producer_config)
        if mode == "transactional":
            producer.init_transactions(30)
        samples: list[float] = []
        for i in range(messages):
            started = time.perf_counter()
            if mode == "transactional":
                producer.begin_transaction()
            producer.produce(topic, value=str(i).encode())
            if mode == "transactional":
                producer.commit_transaction(30)
            else:
                producer.flush(30)
            while True:
                message = consumer.poll(5)
                if (
                    message is not None
                    and message.error() is None
                    and message.value() == str(i).encode()
                ):
                    break
            samples.append(time.perf_counter() - started)
        producer.flush(30)
        consumer.close()
        out[mode] = {
            "p50_ms": round(quantile(samples, 0.5) * 1000, 2),
            "p99_ms": round(quantile(samples, 0.99) * 1000, 2),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each measurement")
    parser.add_argument("--in-flight", type=int, default=2000, help="closed loop: open orders")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    endpoints = resolve_endpoints(Settings())
    results: dict[str, Any] = {"seconds": args.seconds}
    for copies in (1, 2):
        key = f"{copies}_process{'es' if copies > 1 else ''}_per_service"
        with running_shop(endpoints, copies) as (shop, api):
            phase: dict[str, Any] = {
                "closed_loop": closed_loop(shop, api, args.seconds, args.in_flight),
            }
            for rate in (50, 200):
                phase[f"rate_{rate}"] = fixed_rate(shop, api, rate, args.seconds)
        results[key] = phase
        print(json.dumps({key: phase}, indent=2), flush=True)
    results["raw_postgres"] = raw_postgres(endpoints, min(10.0, args.seconds))
    results["raw_kafka"] = raw_kafka(endpoints)
    print(json.dumps({k: results[k] for k in ("raw_postgres", "raw_kafka")}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
