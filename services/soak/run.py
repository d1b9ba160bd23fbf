"""One soak run: the demo's shop under a seeded fault schedule, supervised, then checked.

Set-up, processes, orders and the invariants are the demo's (:mod:`services.demo`); the soak
adds the schedule (:mod:`services.soak.schedule`), a supervisor that restarts whatever is
down, customers that retry, and the checker (:mod:`services.soak.check`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from saga import Settings
from saga.errors import ConfigError
from saga.stack import FREEZABLE_BROKER, Endpoints, NativeStack
from services import setup
from services.common import SERVICES
from services.demo import report
from services.demo.plan import Plan, make_plan
from services.demo.processes import ROOT, Shop
from services.demo.run import Client, Say, relative
from services.soak import check
from services.soak.schedule import Fault, fingerprint, make_schedule

RUN_PREFIX = "soak-"  # topics of soak runs: soak-<run id>.shop.orders, ...
_DRAIN_TIMEOUT = 240.0  # past the checking-out deadline (2 min): a stuck order still ends
_RESTART_BACKOFF = 1.0  # a supervisor's pause before starting a process that died again
_GIVE_UP = 180.0  # a customer retrying one order longer than this reports an error


@dataclass
class Options:
    orders: int = 10_000
    rate: float = 25.0
    seed: int = 16
    kills: int = 100
    private_stack: bool = True
    as_json: bool = False

    def check(self) -> None:
        if self.orders < 1:
            raise ConfigError(f"--orders {self.orders}: place at least 1")
        if not 0 < self.rate <= 5000:
            raise ConfigError(f"--rate {self.rate:g}: give orders per second, 0 < rate <= 5000")
        if self.kills < 0:
            raise ConfigError(f"--kills {self.kills}: give 0 or more")
        if self.kills > 10 * self.orders:
            raise ConfigError(f"--kills {self.kills}: at most 10 per order ({self.orders} orders)")

    @property
    def window(self) -> float:
        """Seconds the orders take to place: the faults fall in this window."""
        return self.orders / self.rate


@dataclass
class Happened:
    """A fault as it happened (wall clock, UTC: the database's clock on this machine)."""

    fault: Fault
    started: datetime
    over: datetime | None = None
    pid: int | None = None
    recovery: float | None = None  # seconds from the fault until the service worked again


@dataclass
class _State:
    placed: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def schedule_of(options: Options) -> list[Fault]:
    return make_schedule(options.seed, options.kills, options.window, outages=options.private_stack)


def private_stack() -> NativeStack:
    """A broker and a database server of the soak's own (``<stack dir>/soak``), on free
    ports: stopping them never disturbs the stack other work uses."""
    base = Settings()
    settings = Settings(
        stack_dir=base.stack_dir / "soak",
        stack_backend="native",
        stack_kafka_port=None,
        stack_postgres_port=None,
    )
    return NativeStack(settings, broker_properties=FREEZABLE_BROKER)


def run(endpoints: Endpoints | None, options: Options, console: Console) -> int:
    """The whole soak; returns the exit status (0: nothing lost, nothing doubled)."""
    options.check()
    say = Say(console, quiet=options.as_json)
    schedule = schedule_of(options)
    say(
        f"seed {options.seed}: {len(schedule)} faults over {options.window:.0f}s "
        f"(schedule {fingerprint(schedule)})"
    )
    for fault in schedule:
        say(f"  {fault.describe()}")
    stack = None
    started = time.monotonic()
    try:
        if options.private_stack:
            stack = private_stack()
            say(f"starting a private Kafka and PostgreSQL in {relative(stack.dir)}")
            endpoints = stack.up().endpoints
        assert endpoints is not None
        return _soak(endpoints, stack, options, schedule, console, say, started)
    finally:
        if stack is not None:
            stack.down()


def _soak(
    endpoints: Endpoints,
    stack: NativeStack | None,
    options: Options,
    schedule: list[Fault],
    console: Console,
    say: Say,
    started: float,
) -> int:
    phases: dict[str, float] = {}
    plan = make_plan(options.orders, options.seed)
    prefix = f"{RUN_PREFIX}{secrets.token_hex(3)}."
    urls = setup.service_urls(endpoints.database_url)
    setup.start_afresh(endpoints)
    setup.migrate(urls)
    setup.drop_topics(endpoints, prefix=RUN_PREFIX)
    setup.make_topics(endpoints, prefix)
    setup.stock_up(urls["inventory"])
    logs = ROOT / Settings().stack_dir / "soak-logs"
    shop = Shop(urls, endpoints.kafka_bootstrap, prefix, logs)
    phases["setup"] = time.monotonic() - started
    say(f"set up the shop's databases and topics {prefix}* in {phases['setup']:.1f}s")
    supervisor = _Supervisor(shop, stack, say)
    mark = time.monotonic()
    try:
        shop.start()
        shop.wait_ready()
        say(f"shop up; logs in {relative(logs)}")
        supervisor.drive(plan, options, schedule)
    finally:
        phases["orders"] = time.monotonic() - mark
        supervisor.finish()
        codes = shop.stop()
    mark = time.monotonic()
    result = report.build(urls, plan, {}, None)
    planned = _as_planned(result, plan)
    demo_name = "every order ended as its plan said"
    result.checks = [planned if c.name == demo_name else c for c in result.checks]
    result.checks.append(
        report.Check(
            "every process stopped cleanly on SIGTERM",
            all(code == 0 for code in codes.values()),
            ", ".join(f"{name} {code}" for name, code in codes.items()),
        )
    )
    evidence = check.gather(urls, endpoints.kafka_bootstrap, prefix)
    found = check.check_all(evidence)
    for name, ok, detail in check.summary(found):
        result.checks.append(report.Check(name, ok, detail))
    for happened in supervisor.happened:
        happened.recovery = _recovery(urls, happened)
    phases["check"] = time.monotonic() - mark
    seconds = time.monotonic() - started
    facts = _facts(options, schedule, supervisor, evidence, found, result, prefix)
    facts["seconds"] = {**{k: round(v, 1) for k, v in phases.items()}, "total": round(seconds, 1)}
    if options.as_json:
        print(json.dumps({**result.to_json(), **facts}, indent=2, default=str))
    else:
        _print(console, facts, result, found)
    return 0 if result.ok else 1


class _Supervisor:
    """Places the orders, applies the schedule's faults when due, restarts what is down."""

    def __init__(self, shop: Shop, stack: NativeStack | None, say: Say) -> None:
        self.shop = shop
        self.stack = stack
        self.say = say
        self.happened: list[Happened] = []
        self.restarts: Counter[str] = Counter()
        self.unplanned: list[str] = []  # exits nobody caused: "name exit N: last log line"
        self.killed: set[str] = set()
        self.leaving: set[str] = set()  # storm workers being removed
        self.threads: list[threading.Thread] = []
        self.last_start: dict[str, float] = {}
        self.pending: list[tuple[float, Any]] = []  # (due, action): a pause's end, a storm's
        self.servers = threading.Lock()
        self.failures: list[str] = []  # a server that did not come back: the run cannot go on

    def drive(self, plan: Plan, options: Options, schedule: list[Fault]) -> None:
        state = _State()
        t0 = time.monotonic() + 0.5
        senders = [
            threading.Thread(
                target=_send,
                args=(self.shop.api_url, plan, options.rate, t0, n, 4, state),
                name=f"orders-{n}",
                daemon=True,
            )
            for n in range(4)
        ]
        for sender in senders:
            sender.start()
        faults = list(schedule)
        last_poll = 0.0
        done_placing_at: float | None = None
        while True:
            now = time.monotonic()
            while faults and now - t0 >= faults[0].at:
                self._apply(faults.pop(0))
            for due, action in [p for p in self.pending if p[0] <= now]:
                self.pending.remove((due, action))
                action()
            self._supervise(now)
            if self.failures:
                raise ConfigError(f"the soak cannot go on: {self.failures[0]}")
            sending = any(s.is_alive() for s in senders)  # before the count: no race
            with state.lock:
                if state.errors:
                    raise ConfigError(f"placing orders failed: {state.errors[0]}")
                placed = state.placed
            if placed < len(plan.orders) and not sending:
                raise ConfigError(f"the customers stopped after {placed} orders: see above")
            if (
                placed == len(plan.orders)
                and not faults
                and not self.pending
                and now - last_poll > 1
            ):
                last_poll = now
                done_placing_at = done_placing_at or now
                if not any(t.is_alive() for t in self.threads) and report.settled(
                    self.shop.urls["orders"]
                ) == (placed, placed):
                    break
                if now - done_placing_at > _DRAIN_TIMEOUT:
                    self.say("gave up waiting for the remaining sagas")
                    break
            time.sleep(0.05)
        self.say(
            f"placed {state.placed} orders ({state.retries} retried requests) in "
            f"{time.monotonic() - t0:.0f}s; every saga ended"
        )

    def finish(self) -> None:
        for action in [a for _, a in self.pending]:
            action()
        self.pending.clear()
        for thread in self.threads:
            thread.join(180)

    def _apply(self, fault: Fault) -> None:
        happened = Happened(fault, _now())
        self.happened.append(happened)
        self.say(fault.describe())
        if fault.kind == "kill":
            child = self.shop.children[fault.target]
            if child.alive():
                happened.pid = child.pid
                self.killed.add(fault.target)
                os.kill(child.pid, signal.SIGKILL)
            happened.over = _now()  # the supervisor restarts it within its next round
        elif fault.kind == "pause":
            child = self.shop.children[fault.target]
            pid = happened.pid = child.pid
            if child.alive():
                os.kill(pid, signal.SIGSTOP)
            self.pending.append(
                (time.monotonic() + fault.seconds, lambda: self._resume(pid, happened))
            )
        elif fault.kind == "storm":
            names = [self.shop.add_worker(fault.target) for _ in range(2)]
            self.pending.append(
                (time.monotonic() + fault.seconds, lambda: self._calm(names, happened))
            )
        else:
            thread = threading.Thread(target=self._outage, args=(happened,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _resume(self, pid: int, happened: Happened) -> None:
        # Killed while paused, it is gone; its successor was never stopped.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        happened.over = _now()

    def _calm(self, names: list[str], happened: Happened) -> None:
        self.leaving |= set(names)

        def leave() -> None:
            for name in names:
                self.shop.remove(name)
            happened.over = _now()

        thread = threading.Thread(target=leave, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _outage(self, happened: Happened) -> None:
        try:
            # One server fault at a time: two outages overlapping would be one long one.
            with self.servers:
                happened.started = _now()
                self._restart_server(happened)
        except Exception as exc:  # the main loop reports it and stops the run
            self.failures.append(f"{happened.fault.describe().split('  ', 1)[1]}: {exc}")

    def _restart_server(self, happened: Happened) -> None:
        assert self.stack is not None
        if happened.fault.kind == "broker":
            # Frozen, not restarted: a single broker restarting while a transaction completes
            # can lose its markers, which no client can make up for (NativeStack.stop_kafka).
            self.stack.freeze_kafka()
            try:
                time.sleep(happened.fault.seconds)  # the schedule's own pacing
            finally:
                self.stack.thaw_kafka()
            self.say(f"Kafka back after {happened.fault.seconds:.1f}s")
        else:
            state = json.loads((self.stack.dir / "endpoints.json").read_text())
            self.stack.postgres.stop(mode="immediate")
            self.stack.postgres.start(int(state["postgres_port"]))
            self.say("PostgreSQL back (crash recovery done)")
        happened.over = _now()

    def _supervise(self, now: float) -> None:
        """Start again every process that is down, as a supervisor would (a process that
        died on its own waits a moment, so one that cannot start does not spin)."""
        for name, child in list(self.shop.children.items()):
            if child.alive() or name in self.leaving or child.process is None:
                continue
            if name in self.killed:
                self.killed.discard(name)
            elif now - self.last_start.get(name, 0.0) < _RESTART_BACKOFF:
                continue
            else:
                code = child.process.returncode
                last = (child.tail(1) or "").strip()[:200]
                self.unplanned.append(f"{name} exit {code}: {last}")
            self.last_start[name] = now
            try:
                child.start()
            except OSError as exc:  # e.g. the executable being reinstalled: try again soon
                self.unplanned.append(f"{name} exit none: could not start ({exc.strerror})")
                continue
            self.restarts[name] += 1


def _send(
    api: str, plan: Plan, rate: float, t0: float, offset: int, stride: int, state: _State
) -> None:
    """One customer thread: orders offset, offset + stride, ... each at its time; a failed
    request is sent again (the API answers a repeated order with the one it has)."""
    client = Client(api)
    for planned in plan.orders[offset::stride]:
        delay = t0 + planned.index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        give_up = time.monotonic() + _GIVE_UP
        while True:
            try:
                code, answer = client.call("POST", "/orders", planned.body)
            except (OSError, http.client.HTTPException, ValueError):
                # ValueError: a 500 in plain text (the API lost its database mid-request).
                code, answer = 0, {}
            if code in (200, 201):
                break
            if 400 <= code < 500 or time.monotonic() > give_up:
                with state.lock:
                    state.errors.append(
                        f"POST /orders {planned.order_id} answered {code}: {answer.get('error')}"
                    )
                return
            with state.lock:
                state.retries += 1
            time.sleep(0.2)
        with state.lock:
            state.placed += 1


def _as_planned(result: report.Report, plan: Plan) -> report.Check:
    """The demo's check, but an order that waited out its checkout deadline (two minutes)
    behind the outages and was compensated ended legally: counted, not a violation."""
    actual = {o.order_id: o.outcome for o in result.orders}
    off = [(p.order_id, p.expected, actual.get(p.order_id)) for p in plan.orders]
    off = [o for o in off if o[2] != o[1]]
    late = [o for o in off if o[2] == "timed out"]
    wrong = [o for o in off if o[2] != "timed out"]
    detail = f"{len(plan.orders)} orders, seed {plan.seed}; {len(late)} timed out at checkout"
    if wrong:
        detail = (
            f"{len(wrong)} differ, e.g. {wrong[0][0]}: expected {wrong[0][1]}, got {wrong[0][2]}"
        )
    return report.Check("every order ended as its plan said", not wrong, detail)


def _recovery(urls: dict[str, str], happened: Happened) -> float | None:
    """Seconds from the fault until its service applied an effect again, once the fault was
    over (the API: placed an order; Kafka and PostgreSQL: the saga moved)."""
    fault = happened.fault
    since = happened.over or happened.started
    if fault.target == "api":
        [(first,)] = report.rows(
            urls["orders"],
            "SELECT min(placed_at) FROM customer_order WHERE placed_at > :since",
            since=since,
        )
    else:
        service = fault.target if fault.target in SERVICES else "orders"
        first = report.back_after(urls[service], since)
    if not isinstance(first, datetime):
        return None
    return round((first - happened.started).total_seconds(), 2)


def _facts(
    options: Options,
    schedule: list[Fault],
    supervisor: _Supervisor,
    evidence: check.Evidence,
    found: dict[str, list[check.Violation]],
    result: report.Report,
    prefix: str,
) -> dict[str, Any]:
    kinds = Counter(h.fault.kind for h in supervisor.happened)
    kills = Counter(h.fault.target for h in supervisor.happened if h.fault.kind == "kill")
    recoveries = [h.recovery for h in supervisor.happened if h.recovery is not None]
    lost = len(found["every event published exactly once"]) - sum(
        1 for v in found["every event published exactly once"] if "times" in v.what
    )
    lost += len(found["every event consumed once per consumer"])
    lost += sum(1 for o in result.orders if o.saga_status not in ("completed", "compensated"))
    lost += options.orders - len(result.orders)
    duplicated = sum(1 for v in found["every event published exactly once"] if "times" in v.what)
    duplicated += len(found["every effect applied exactly once"])
    return {
        "orders": options.orders,
        "rate": options.rate,
        "seed": options.seed,
        "schedule": fingerprint(schedule),
        "faults": [h.fault.describe() for h in supervisor.happened],
        "kills": sum(kills.values()),
        "kills_by_process": dict(sorted(kills.items())),
        "pauses": kinds["pause"],
        "rebalance_storms": kinds["storm"],
        "broker_outages": kinds["broker"],
        "postgres_restarts": kinds["postgres"],
        "restarts_by_process": dict(sorted(supervisor.restarts.items())),
        "unplanned_exits": supervisor.unplanned,
        "recovery_seconds": {
            "max": round(max(recoveries, default=0.0), 1),
            "avg": round(sum(recoveries) / len(recoveries), 1) if recoveries else 0.0,
            "measured": len(recoveries),
        },
        "timed_out": sum(1 for o in result.orders if o.outcome == "timed out"),
        "events_published": len(evidence.records),
        "inbox_claims_checked": check.expected_claims(evidence, check.hosted()),
        "effects": len(evidence.effects),
        "lost": lost,
        "duplicated": duplicated,
        "violations": [str(v) for vs in found.values() for v in vs][:50],
        "topic_prefix": prefix,
        "pids": [
            pid
            for child in [*supervisor.shop.children.values(), *supervisor.shop.retired]
            for pid in child.pids
        ],
    }


def _print(
    console: Console,
    facts: dict[str, Any],
    result: report.Report,
    found: dict[str, list[check.Violation]],
) -> None:
    rec = facts["recovery_seconds"]
    kills = ", ".join(f"{k} {n}" for k, n in facts["kills_by_process"].items())
    lines = [
        f"soak · {facts['orders']} orders at {facts['rate']:g}/s · seed {facts['seed']} · "
        f"schedule {facts['schedule']}",
        f"kills: {facts['kills']} ({kills})",
        f"pauses (SIGSTOP/SIGCONT): {facts['pauses']}; rebalance storms: "
        f"{facts['rebalance_storms']}; broker outages: {facts['broker_outages']}; "
        f"PostgreSQL immediate restarts: {facts['postgres_restarts']}",
        f"restarts by the supervisor: {sum(facts['restarts_by_process'].values())}, of which "
        f"after an exit nobody caused: {len(facts['unplanned_exits'])}",
        f"recovery: max {rec['max']}s, avg {rec['avg']}s ({rec['measured']} faults measured)",
        f"outcomes: {', '.join(f'{n} {k}' for k, n in result.outcomes.items())}",
        f"events published: {facts['events_published']}; inbox claims checked: "
        f"{facts['inbox_claims_checked']}; effects: {facts['effects']}",
        f"lost = {facts['lost']}, duplicated = {facts['duplicated']}",
    ]
    reasons = Counter(_reason(line) for line in facts["unplanned_exits"])
    lines += [f"  {n} x {reason}" for reason, n in reasons.most_common()]
    for line in lines:
        console.print(line, highlight=False)
    for c in result.checks:
        mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
        console.print(f"{mark} {c.name}: {c.detail}", highlight=False)
    for violations in found.values():
        for v in violations[:20]:
            console.print(f"[red]violation[/] {v}", highlight=False)
    console.print(f"took {facts['seconds']['total']}s", highlight=False)


def _reason(exit_line: str) -> str:
    """An unplanned exit without the process's name, pids and ports, to count alike ones."""
    name, _, rest = exit_line.partition(" exit ")
    service = name.split("-", 1)[0]
    why = rest.split("(", 1)[0].strip()
    return f"{service} exit {why}"


def _now() -> datetime:
    return datetime.now(UTC)
