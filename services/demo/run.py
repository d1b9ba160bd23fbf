"""One demo run, start to end: set up, start the shop, place orders at a steady rate through
the HTTP API while one service is killed and restarted, wait for every saga to end, stop
everything, check the invariants."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.live import Live as RichLive

from saga import Settings
from saga.errors import ConfigError
from saga.stack import Endpoints
from services import setup
from services.common import SERVICES, database_name
from services.demo import display, report
from services.demo.plan import OUTCOMES, Plan, PlannedOrder, make_plan
from services.demo.processes import ROOT, Shop

RUN_PREFIX = "demo-"  # topics of demo runs: demo-<run id>.shop.orders, ...
_DRAIN_TIMEOUT = 150.0  # past the checking-out deadline: a stuck order still ends


@dataclass
class Options:
    orders: int = 400
    rate: float = 25.0
    seed: int = 7
    kill: str = "inventory"
    as_json: bool = False

    def check(self) -> None:
        if self.orders < 1:
            raise ConfigError(f"--orders {self.orders}: place at least 1")
        if not 0 < self.rate <= 5000:
            raise ConfigError(f"--rate {self.rate:g}: give orders per second, 0 < rate <= 5000")
        if self.kill not in (*SERVICES, "none"):
            raise ConfigError(f"--kill {self.kill}: name a service ({', '.join(SERVICES)}) or none")


@dataclass
class _Progress:
    placed: int = 0
    killed_at: datetime | None = None  # by the database clock
    errors: list[str] = field(default_factory=list)
    cancels: dict[UUID, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run(endpoints: Endpoints, options: Options, console: Console) -> int:
    """The whole demo; returns the exit status (0: every invariant holds)."""
    options.check()
    started = time.monotonic()
    phases: dict[str, float] = {}
    say = Say(console, quiet=options.as_json)
    plan = make_plan(options.orders, options.seed)
    kill_at = options.orders // 5 if options.kill != "none" else options.orders
    cancels = plan.mark_cancels(kill_at, max(1, options.orders // 100))

    prefix = f"{RUN_PREFIX}{secrets.token_hex(3)}."
    urls = setup.service_urls(endpoints.database_url)
    setup.start_afresh(endpoints)
    setup.migrate(urls)
    setup.drop_topics(endpoints, prefix=RUN_PREFIX)
    setup.make_topics(endpoints, prefix)
    setup.stock_up(urls["inventory"])
    phases["setup"] = time.monotonic() - started
    say(
        f"set up {', '.join(database_name(s) for s in SERVICES)} (fresh) and the topics "
        f"{prefix}* in {phases['setup']:.1f}s"
    )

    logs = ROOT / Settings().stack_dir / "demo"
    shop = Shop(urls, endpoints.kafka_bootstrap, prefix, logs)
    mark = time.monotonic()
    try:
        shop.start()
        shop.wait_ready()
        phases["start"] = time.monotonic() - mark
        say(
            f"started 4 workers (saga worker services.<service>) and the orders API on "
            f"{shop.api_url} in {phases['start']:.1f}s; logs in {relative(logs)}"
        )
        hint = traces_hint(os.environ, relative(logs))
        if hint:
            say(hint)
        title = (
            f"saga demo · {options.orders} orders at {options.rate:g}/s · seed {options.seed}"
            f" · kill {options.kill}"
        )
        live = display.Live(title, options.orders)
        mark = time.monotonic()
        state = _Progress()
        if options.as_json or not console.is_terminal:
            _drive(shop, plan, options, kill_at, cancels, state, live, urls, say)
        else:
            with RichLive(live, console=console, refresh_per_second=8, transient=False):
                _drive(shop, plan, options, kill_at, cancels, state, live, urls, lambda _: None)
        phases["orders"] = time.monotonic() - mark
    finally:
        mark = time.monotonic()
        codes = shop.stop()
        phases["stop"] = time.monotonic() - mark
    stopped = report.Check(
        "every process stopped cleanly on SIGTERM",
        all(code == 0 for code in codes.values()),
        ", ".join(f"{name} {code}" for name, code in codes.items()),
    )
    outage = None if state.killed_at is None else (options.kill, state.killed_at)
    result = report.build(urls, plan, state.cancels, outage)
    result.checks.append(stopped)
    seconds = time.monotonic() - started
    result.facts = {
        "orders": options.orders,
        "rate": options.rate,
        "seed": options.seed,
        "topic_prefix": prefix,
        "killed": options.kill,
        "cancels": {str(k): v for k, v in state.cancels.items()},
        "processes": {c.name: c.pids for c in shop.children.values()},
        "seconds": {**{k: round(v, 1) for k, v in phases.items()}, "total": round(seconds, 1)},
    }
    if options.as_json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        console.print(display.summary(result, seconds))
        _next_steps(console, result)
    return 0 if result.ok else 1


def _drive(
    shop: Shop,
    plan: Plan,
    options: Options,
    kill_at: int,
    cancels: list[PlannedOrder],
    state: _Progress,
    live: display.Live,
    urls: dict[str, str],
    say: Callable[[str], None],
) -> None:
    """Place the orders, kill and restart a service on the way, wait for every saga's end."""
    killed = threading.Event()
    if options.kill == "none":
        killed.set()
    placed_events = {o.order_id: threading.Event() for o in cancels}
    t0 = time.monotonic()
    senders = [
        threading.Thread(
            target=_send,
            args=(
                shop.api_url,
                plan,
                options.rate,
                t0,
                n,
                4,
                kill_at,
                killed,
                state,
                placed_events,
            ),
            name=f"orders-{n}",
            daemon=True,
        )
        for n in range(4)
    ]
    for sender in senders:
        sender.start()
    canceller = threading.Thread(
        target=_cancel, args=(shop.api_url, cancels, placed_events, state), daemon=True
    )
    last_poll = 0.0
    done_placing_at: float | None = None
    restarted = False
    while True:
        now = time.monotonic()
        live.elapsed = now - t0
        with state.lock:
            live.placed = state.placed
            if state.errors:
                raise ConfigError(f"placing orders failed: {state.errors[0]}")
        if not killed.is_set() and state.placed > kill_at:
            state.killed_at = report.db_now(urls["orders"])
            old = shop.kill(options.kill)
            new = shop.restart(options.kill)
            restarted = True
            live.note(f"{options.kill} killed (SIGKILL, pid {old}), restarted (pid {new})")
            say(live.events[-1].strip())
            killed.set()
            canceller.start()
        shop.check_alive()
        if now - last_poll > 0.25:
            last_poll = now
            live.states = report.progress(urls["orders"])
            for order_id, outcome in list(state.cancels.items()):
                text = f"customer cancelled order {str(order_id)[:8]}: {outcome}"
                if all(text not in e for e in live.events):
                    live.note(text)
                    say(live.events[-1].strip())
            if state.placed == len(plan.orders):
                done_placing_at = done_placing_at or now
                live.placing = live.placing or done_placing_at - t0
                if report.settled(urls["orders"]) == (len(plan.orders), len(plan.orders)):
                    live.states = report.progress(urls["orders"])
                    break
                if now - done_placing_at > _DRAIN_TIMEOUT:
                    live.note("gave up waiting for the remaining sagas")
                    break
        time.sleep(0.05)
    for sender in senders:
        sender.join(5)
    if restarted:
        canceller.join(35)
    ended, _ = report.settled(urls["orders"])
    say(f"placed {state.placed} orders; {ended} sagas ended after {live.elapsed:.1f}s")


def _send(
    api: str,
    plan: Plan,
    rate: float,
    t0: float,
    offset: int,
    stride: int,
    kill_at: int,
    killed: threading.Event,
    state: _Progress,
    placed_events: dict[UUID, threading.Event],
) -> None:
    """One sender thread: orders offset, offset + stride, ... each at its time."""
    client = Client(api)
    for planned in plan.orders[offset::stride]:
        if planned.index > kill_at:
            killed.wait()  # orders after the kill point go to a shop missing one service
        delay = t0 + planned.index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            code, answer = client.call("POST", "/orders", planned.body)
        except OSError as exc:
            code, answer = 0, {"error": str(exc)}
        with state.lock:
            if code != 201:
                state.errors.append(f"POST /orders answered {code}: {answer.get('error')}")
                return
            state.placed += 1
        if planned.order_id in placed_events:
            placed_events[planned.order_id].set()


def _cancel(
    api: str,
    cancels: list[PlannedOrder],
    placed_events: dict[UUID, threading.Event],
    state: _Progress,
) -> None:
    """The customers who change their mind: cancel while the order is checking out."""
    client = Client(api)
    for planned in cancels:
        placed_events[planned.order_id].wait(60)
        deadline = time.monotonic() + 30
        outcome = "not sent"
        while time.monotonic() < deadline:
            try:
                code, answer = client.call("POST", f"/orders/{planned.order_id}/cancel")
            except OSError:
                code, answer = 0, {}
            if code == 202:
                outcome = "accepted"
                break
            if code == 409 and "too late" in str(answer.get("error")):
                outcome = "refused (too late)"
                break
            time.sleep(0.1)  # the saga has not started yet
        with state.lock:
            state.cancels[planned.order_id] = outcome


class Client:
    """A keep-alive HTTP/1.1 client for one thread."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self._conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload else {}
        try:
            self._conn.request(method, path, body=payload, headers=headers)
            response = self._conn.getresponse()
        except (http.client.HTTPException, OSError):
            self._conn.close()  # reconnect once: the server may have closed an idle connection
            self._conn.request(method, path, body=payload, headers=headers)
            response = self._conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}


class Say:
    def __init__(self, console: Console, *, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet

    def __call__(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"• {text}", highlight=False)


def traces_hint(env: Mapping[str, str], logs: str) -> str | None:
    """Where the traces go when the OTEL_* variables turn tracing on (see ``saga worker``)."""
    exporters = env.get("OTEL_TRACES_EXPORTER", "")
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if "console" in exporters:
        return f"traces: spans as JSON lines in the workers' logs in {logs}, one trace per order"
    if "otlp" in exporters or (endpoint and exporters in ("", "otlp")):
        where = endpoint or "http://localhost:4318 (the OTLP default)"
        return f"traces: every worker sends its spans to {where}, one trace per order"
    return None


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _next_steps(console: Console, result: report.Report) -> None:
    bin_dir = relative(Path(sys.executable).parent)
    # The richest story: a customer's cancel while a service was down, then a late answer.
    by_customer = OUTCOMES["cancelled"]
    example = next((o for o in result.orders if o.outcome == by_customer), None) or next(
        (o for o in result.orders if o.saga_status == "compensated"), None
    )
    console.print("\n[bold]Next[/]")
    console.print(
        f"  {bin_dir}/saga diagram services.orders.saga:OrderSaga    the saga as a Mermaid "
        "state diagram",
        highlight=False,
    )
    if example is not None:
        console.print(
            f"  {bin_dir}/python -m services.history {example.order_id}    one order's saga "
            f"history ({example.outcome})",
            highlight=False,
        )
        console.print(
            '  or in SQL, database shop_orders (eval "$(saga stack env)" for the server):\n'
            "    SELECT seq, trigger, from_state, to_state, entry->>'note' FROM saga_history\n"
            "     WHERE instance_id = :order_id ORDER BY seq;",
            highlight=False,
        )
    console.print(
        "  make test    the framework's tests, with the short demo among them", highlight=False
    )
    console.print(
        f"  {bin_dir}/saga stack down    stop Kafka and PostgreSQL (left up to look around; "
        "every process of the shop has stopped)",
        highlight=False,
    )
