"""The shop's order saga end to end, next to the raw limits of the same machine, in one run.

    .venv/bin/python benchmarks/bench_order_saga.py [--seconds 15] [--phases closed,rate50]
        [--json FILE]

Uses SAGA_DATABASE_URL / SAGA_KAFKA_BOOTSTRAP, else the stack of `saga stack up`. Sets the
shop up as `saga demo` does (fresh `shop_*` databases, topics of its own), starts the four
workers (`saga worker services.<service>`) as processes, and places orders with the orders
API's own transaction (order row + lines + OrderPlaced through the outbox), called
in-process: HTTP is left out, so the figures are the saga's. Outcome mix as in the demo
(about 15% compensated), no kill. Phases (``--phases``, in this order):

* ``closed``: the maximum sustained rate; a loop that keeps --in-flight orders open, sagas
  ended per second after a warm-up;
* ``idle``: CPU milliseconds per second of every process while no order comes;
* ``rate50``, ``rate150`` (any ``rate<N>``): order → end latency (the order row's commit to
  the saga's terminal history entry, by the database clock) at a fixed rate, with
  - the CPU milliseconds per saga of every process (workers, broker, PostgreSQL, this
    process placing the orders), from ``/proc``;
  - the hop split from the outbox and inbox timestamps: ``relay`` = outbox row written →
    marked published (the producing transaction, the relay's read, the Kafka transaction,
    the mark), ``deliver`` = marked published → the consuming transaction starts (the
    consumer's fetch and poll; negative when the consumer is faster than the mark);
  - the median time between the saga's history entries per trigger;
* ``two``: ``closed`` and ``rate50`` with two processes per service (a consumer group each);
* ``raw``: PostgreSQL transactions doing one step's writes directly (inbox row, effect
  row, outbox row; 1 and 4 connections) and a Kafka produce → consume round trip, one record
  at a time, read_committed, with the broker's CPU per record: an idempotent produce (the
  relay's at-least-once delivery), a transaction per record, and a transaction with a
  second record on another topic (the relay's exactly-once delivery: row + progress).

The shop is drained between phases. Every wait has a deadline (``--timeout``); progress goes
to stderr, results to stdout as JSON after each phase.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from sqlalchemy import text

from saga.postgres import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saga.kafka.admin import create_topics  # noqa: E402
from saga.postgres.tables import OUTBOX_LANES  # noqa: E402
from saga.relay.relay import DELIVERIES, default_relay_name  # noqa: E402
from saga.settings import Settings  # noqa: E402
from saga.stack import Endpoints, resolve_endpoints  # noqa: E402
from services import setup  # noqa: E402
from services.common import SERVICES  # noqa: E402
from services.demo.plan import make_plan  # noqa: E402
from services.demo.processes import Shop  # noqa: E402
from services.demo.report import SAGA, quantile  # noqa: E402
from services.orders.api import OrdersApi, PlaceOrder  # noqa: E402

PREFIX = "bench-"
PHASES = ("idle", "closed", "rate50", "rate150", "two", "raw")
STARTED = time.monotonic()
TIMEOUT = 180.0  # seconds any one wait may take (--timeout)


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def wait_for(what: str, done: Callable[[], bool], progress: Callable[[], str] = str) -> None:
    """Poll ``done`` until it holds; raise after TIMEOUT seconds, naming ``what``."""
    deadline = time.monotonic() + TIMEOUT
    next_report = time.monotonic() + 5
    while not done():
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError(f"{what}: not done after {TIMEOUT:.0f}s ({progress()})")
        if now > next_report:
            say(f"waiting: {what} ({progress()})")
            next_report = now + 5
        time.sleep(0.1)


def engine_for(url: str) -> Any:
    return connect.engine_for(url, pool_size=12)


@contextmanager
def running_shop(
    endpoints: Endpoints, copies: int, delivery: str
) -> Iterator[tuple[Shop, OrdersApi]]:
    prefix = f"{PREFIX}{uuid.uuid4().hex[:6]}."
    say(f"setting the shop up ({copies} process(es) per service, {delivery} relays)")
    setup.start_afresh(endpoints)
    urls = setup.service_urls(endpoints.database_url)
    setup.migrate(urls)
    setup.drop_topics(endpoints, prefix=PREFIX)
    setup.make_topics(endpoints, prefix)
    setup.stock_up(urls["inventory"])
    shop = Shop(
        urls,
        endpoints.kafka_bootstrap,
        prefix,
        ROOT / ".saga" / "bench",
        copies=copies,
        env={"SAGA_RELAY_DELIVERY": delivery},
    )
    api = OrdersApi(engine_for(urls["orders"]), prefix)
    try:
        shop.start()
        shop.wait_ready(TIMEOUT)
        say("shop ready")
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


def count(url: str, sql: str) -> int:
    with engine_for(url).connect() as conn:
        return int(conn.execute(text(sql), {"s": SAGA}).scalar_one())


def ended(url: str) -> int:
    return count(
        url,
        "SELECT count(*) FROM saga_instance WHERE saga = :s AND status IN "
        "('completed', 'compensated', 'failed')",
    )


def drain(shop: Shop) -> None:
    """Until every order placed so far has its saga ended."""
    url = shop.urls["orders"]
    placed = count(url, "SELECT count(*) FROM customer_order")
    state = {"ended": 0}

    def done() -> bool:
        shop.check_alive()
        state["ended"] = ended(url)
        return state["ended"] >= placed

    wait_for("draining", done, lambda: f"{state['ended']} of {placed} sagas ended")


# -- CPU per process ----------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def _processes(shop: Shop) -> dict[str, list[int]]:
    """Label → pids: the shop's workers, the broker, PostgreSQL, this process."""
    found: dict[str, list[int]] = {name: [c.pid] for name, c in shop.children.items()}
    found["orders API (placing, this process)"] = [os.getpid()]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if b"kafka.Kafka" in cmdline:
            found.setdefault("kafka broker", []).append(int(entry.name))
        elif comm == "postgres" or comm.startswith("postgres"):
            found.setdefault("postgresql", []).append(int(entry.name))
    found.pop("api", None)  # the HTTP API idles: orders are placed in-process
    return found


def progress_offsets(shop: Shop) -> int:
    """The end offsets of the shop's relays' progress topics, summed: each Kafka transaction
    of a relay adds a progress record and a commit marker there."""
    consumer = Consumer({"bootstrap.servers": shop.bootstrap, "group.id": "bench-offsets"})
    total = 0
    try:
        for service in SERVICES:
            topic = f"saga-relay.{default_relay_name(shop.urls[service])}.progress"
            for lane in range(OUTBOX_LANES):
                try:
                    total += consumer.get_watermark_offsets(TopicPartition(topic, lane), 10)[1]
                except KafkaException:  # no progress topic yet: the relay published nothing
                    break
    finally:
        consumer.close()
    return total


def database_commits(shop: Shop) -> int:
    """Transactions committed in the shop's databases so far (``pg_stat_database``)."""
    with engine_for(shop.urls["orders"]).connect() as conn:
        value = conn.execute(
            text("SELECT sum(xact_commit) FROM pg_stat_database WHERE datname = ANY(:names)"),
            {"names": [f"shop_{s}" for s in SERVICES]},
        ).scalar_one()
    return int(value or 0)


class CpuMeter:
    """CPU time used by each labelled group of processes, and Kafka transactions of the
    shop's relays, between start() and per_saga_ms()."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.before: dict[str, dict[int, int]] = {}
        self.offsets = 0

    def _sample(self) -> dict[str, dict[int, int]]:
        return {k: {p: _ticks(p) for p in v} for k, v in _processes(self.shop).items()}

    def start(self) -> None:
        self.before = self._sample()
        self.offsets = progress_offsets(self.shop)
        self.commits = database_commits(self.shop)

    def commits_per_saga(self, sagas: int) -> float:
        return round((database_commits(self.shop) - self.commits) / max(1, sagas), 1)

    def transactions_per_saga(self, sagas: int) -> float:
        return round((progress_offsets(self.shop) - self.offsets) / 2 / max(1, sagas), 1)

    def per_saga_ms(self, sagas: int) -> dict[str, float]:
        after = self._sample()
        out: dict[str, float] = {}
        for label, pids in after.items():
            # Processes that began during the window (PostgreSQL backends) count from zero.
            used = sum(t - self.before.get(label, {}).get(p, 0) for p, t in pids.items())
            out[label] = round(used / TICK * 1000 / max(1, sagas), 2)
        out["total"] = round(sum(out.values()), 2)
        return out


# -- phases -----------------------------------------------------------------------------------


def idle(shop: Shop, seconds: float) -> dict[str, Any]:
    """CPU the shop and the stack use per second while no order comes."""
    meter = CpuMeter(shop)
    meter.start()
    say(f"idle for {seconds:.0f}s")
    time.sleep(seconds)
    per_second = {k: round(v / seconds, 1) for k, v in meter.per_saga_ms(1).items()}
    return {"cpu_ms_per_second": per_second}


def closed_loop(shop: Shop, api: OrdersApi, seconds: float, in_flight: int) -> dict[str, Any]:
    """Keep ``in_flight`` orders open with 8 placing threads; sagas ended per second."""
    url = shop.urls["orders"]
    orders = Orders(api, seed=11)
    done = {"ended": ended(url)}
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
    say(f"closed loop: warming up {warm_up:.0f}s")
    time.sleep(warm_up)
    meter = CpuMeter(shop)
    meter.start()
    first, t1 = done["ended"], time.monotonic()
    while time.monotonic() - t1 < seconds:
        time.sleep(min(5.0, seconds - (time.monotonic() - t1)))
        shop.check_alive()
        say(f"closed loop: {done['ended'] - first} sagas ended, {orders.placed} placed")
    last, t2 = done["ended"], time.monotonic()
    cpu = meter.per_saga_ms(last - first)
    transactions = meter.transactions_per_saga(last - first)
    commits = meter.commits_per_saga(last - first)
    stop.set()
    for thread in threads:
        thread.join(10)
    drain(shop)
    rate = round((last - first) / (t2 - t1), 1)
    say(f"closed loop: {rate} sagas/s")
    return {
        "sagas_per_second": rate,
        "in_flight": in_flight,
        "cpu_ms_per_saga": cpu,
        "kafka_transactions_per_saga": transactions,
        "database_commits_per_saga": commits,
    }


def fixed_rate(shop: Shop, api: OrdersApi, rate: float, seconds: float) -> dict[str, Any]:
    """``rate`` orders/s for ``seconds``; order → end latency of those orders."""
    url = shop.urls["orders"]
    orders = Orders(api, seed=int(rate))
    total = int(rate * seconds)
    with engine_for(url).connect() as conn:
        since = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    before = ended(url)
    meter = CpuMeter(shop)
    meter.start()
    t0 = time.monotonic()
    next_index = {"i": 0}
    lock = threading.Lock()
    late = {"n": 0}

    def place() -> None:
        while True:
            with lock:
                i = next_index["i"]
                next_index["i"] += 1
            if i >= total:
                return
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:
                late["n"] += 1
            orders.place_one()

    say(f"{rate:.0f} orders/s for {seconds:.0f}s")
    threads = [threading.Thread(target=place, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"placing {total} orders took over {seconds + TIMEOUT:.0f}s")
    placing = time.monotonic() - t0
    drain(shop)
    sagas = ended(url) - before
    cpu = meter.per_saga_ms(sagas)
    transactions = meter.transactions_per_saga(sagas)
    commits = meter.commits_per_saga(sagas)
    latencies, moves = _latencies(url, since)
    result = {
        "rate": rate,
        "orders": total,
        "achieved_rate": round(total / placing, 1),
        "orders_placed_late": late["n"],
        "latency_ms": {
            "p50": round(quantile(latencies, 0.5) * 1000, 1),
            "p90": round(quantile(latencies, 0.9) * 1000, 1),
            "p99": round(quantile(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies, default=0.0) * 1000, 1),
        },
        "cpu_ms_per_saga": cpu,
        "kafka_transactions_per_saga": transactions,
        "database_commits_per_saga": commits,
        "hops_ms": hop_split(shop.urls, since),
        "moves_ms": moves,
    }
    say(f"{rate:.0f} orders/s: p50 {result['latency_ms']['p50']} ms")
    return result


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
    moves = {k: round(statistics.median(v) * 1000, 1) for k, v in by_trigger.items() if len(v) > 10}
    return [float(row[0]) for row in ends], moves


def hop_split(urls: dict[str, str], since: Any) -> dict[str, Any]:
    """Each event's relay time (written → published) and delivery time (published → the
    consuming transaction), from every service's outbox and inbox."""
    published: dict[Any, tuple[str, Any, Any]] = {}
    consumed: list[tuple[Any, Any]] = []
    for service in SERVICES:
        with engine_for(urls[service]).connect() as conn:
            for event_id, created, done in conn.execute(
                text(
                    "SELECT event_id, created_at, published_at FROM saga_outbox "
                    "WHERE created_at >= :t AND published_at IS NOT NULL"
                ),
                {"t": since},
            ):
                published[event_id] = (service, created, done)
            consumed += conn.execute(
                text("SELECT event_id, processed_at FROM saga_inbox WHERE processed_at >= :t"),
                {"t": since},
            ).all()

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(quantile(values, 0.5) * 1000, 1),
            "p90": round(quantile(values, 0.9) * 1000, 1),
            "p99": round(quantile(values, 0.99) * 1000, 1),
            "n": len(values),
        }

    relay: dict[str, list[float]] = {}
    for service, created, done in published.values():
        relay.setdefault(service, []).append((done - created).total_seconds())
    deliver = [
        (at - published[event_id][2]).total_seconds()
        for event_id, at in consumed
        if event_id in published
    ]
    return {
        "relay": summary([v for values in relay.values() for v in values]),
        "relay_by_producer": {k: summary(v) for k, v in sorted(relay.items())},
        "deliver": summary(deliver),
    }


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
        say(f"raw PostgreSQL, {connections} connection(s)")
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


def _broker_ticks() -> int:
    pids = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and b"kafka.Kafka" in _read(p / "cmdline")
    ]
    return sum(_ticks(pid) for pid in pids)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


# How the relay publishes one row, as plain client calls: an idempotent produce (its
# at-least-once delivery), or a transaction with the row and a progress record on another
# topic (exactly-once).
RAW_MODES = ("idempotent", "transactional", "transactional_with_progress")


def raw_kafka(endpoints: Endpoints, messages: int = 2000) -> dict[str, Any]:
    """Produce → consume round trips, one record at a time, and the broker's CPU per record."""
    config = Settings().kafka_config(endpoints.kafka_bootstrap)
    progress = f"{PREFIX}progress-{uuid.uuid4().hex[:6]}"
    out: dict[str, Any] = {}
    for mode in RAW_MODES:
        say(f"raw Kafka round trips, {mode}")
        topic = f"{PREFIX}roundtrip-{uuid.uuid4().hex[:6]}"  # empty: read from its start
        create_topics(config, [topic, progress], partitions=1)
        consumer = Consumer(
            {
                **config,
                "group.id": f"bench-{uuid.uuid4().hex[:6]}",
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 10,
            }
        )
        consumer.subscribe([topic])

        def assigned(consumer: Consumer = consumer) -> bool:
            consumer.poll(0.1)
            return bool(consumer.assignment())

        wait_for("the round-trip consumer's assignment", assigned)
        transactional = mode != "idempotent"
        producer_config = {**config, "enable.idempotence": True, "acks": "all", "linger.ms": 0}
        if transactional:
            producer_config["transactional.id"] = f"bench-{uuid.uuid4().hex[:6]}"
        producer = Producer(producer_config)
        if transactional:
            producer.init_transactions(30)
        samples: list[float] = []
        ticks = _broker_ticks()
        for i in range(messages):
            started = time.perf_counter()
            if transactional:
                producer.begin_transaction()
            producer.produce(topic, value=str(i).encode())
            if mode == "transactional_with_progress":
                producer.produce(progress, value=str(i).encode())
            if transactional:
                producer.commit_transaction(30)
            else:
                producer.flush(30)
            deadline = time.monotonic() + 30
            while True:
                message = consumer.poll(1)
                if (
                    message is not None
                    and message.error() is None
                    and message.value() == str(i).encode()
                ):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"round trip {i} ({mode}) not back within 30s")
            samples.append(time.perf_counter() - started)
        broker_ms = (_broker_ticks() - ticks) / TICK * 1000 / messages
        producer.flush(30)
        consumer.close()
        out[mode] = {
            "p50_ms": round(quantile(samples, 0.5) * 1000, 2),
            "p99_ms": round(quantile(samples, 0.99) * 1000, 2),
            "broker_cpu_ms_per_record": round(broker_ms, 2),
        }
    return out


def main() -> int:
    global TIMEOUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="length of each measurement")
    parser.add_argument("--in-flight", type=int, default=1000, help="closed loop: open orders")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated, run in this order; of: {', '.join(PHASES)}, rate<N> (default: all)",
    )
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="longest any wait takes")
    parser.add_argument(
        "--delivery",
        choices=DELIVERIES,
        default="exactly-once",
        help="how the workers' relays publish (SAGA_RELAY_DELIVERY)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = sorted(p for p in set(phases) - set(PHASES) if not re.fullmatch(r"rate\d+", p))
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(unknown)}: choose from {', '.join(PHASES)}")
    TIMEOUT = args.timeout
    endpoints = resolve_endpoints(Settings())
    results: dict[str, Any] = {"seconds": args.seconds, "delivery": args.delivery}

    def emit(key: str, value: Any) -> None:
        results[key] = value
        print(json.dumps({key: value}, indent=2), flush=True)

    one = [p for p in phases if p in ("idle", "closed") or p.startswith("rate")]
    if one:
        with running_shop(endpoints, 1, args.delivery) as (shop, api):
            for phase in one:
                if phase == "idle":
                    emit("idle", idle(shop, args.seconds))
                elif phase == "closed":
                    emit("closed_loop", closed_loop(shop, api, args.seconds, args.in_flight))
                else:
                    rate = float(phase.removeprefix("rate"))
                    emit(phase, fixed_rate(shop, api, rate, args.seconds))
    if "two" in phases:
        with running_shop(endpoints, 2, args.delivery) as (shop, api):
            closed = closed_loop(shop, api, args.seconds, args.in_flight)
            emit("two_per_service_closed_loop", closed)
            emit("two_per_service_rate50", fixed_rate(shop, api, 50, args.seconds))
    if "raw" in phases:
        emit("raw_postgres", raw_postgres(endpoints, min(10.0, args.seconds)))
        emit("raw_kafka", raw_kafka(endpoints))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
