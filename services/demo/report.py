"""What a demo run did, read back from the four services' databases: outcomes by reason,
throughput, order → end latency, and the invariants that must hold whatever crashed.

Each service's database is read on its own (they share nothing but events), and the
invariants compare them: the orders that completed are exactly those holding stock, whose
payment was captured and that were shipped; stock and money add up; no event had its effect
twice (the effect logs have no unique key, so a second application would show); nothing
was dead-lettered or parked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text

from saga.postgres.connect import engine_for
from services.common import SERVICES
from services.demo.plan import OUTCOMES, Plan
from services.orders.saga import OrderSaga

SAGA = OrderSaga.__saga__.name
ENDED = ("completed", "compensated", "failed")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class OrderRow:
    order_id: UUID
    status: str
    total_cents: int
    placed_at: datetime
    saga_status: str | None
    saga_state: str | None
    failure: str | None
    capture_attempts: int | None
    ended_at: datetime | None

    @property
    def outcome(self) -> str:
        return outcome_of(self.saga_status, self.failure)

    @property
    def latency(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.placed_at).total_seconds()


@dataclass
class Report:
    orders: list[OrderRow]
    checks: list[Check]
    outcomes: dict[str, int]
    capture_retries: int
    sagas_per_second: float
    latency_ms: dict[str, float]
    outage: dict[str, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.facts,
            "outcomes": self.outcomes,
            "capture_retries": self.capture_retries,
            "sagas_per_second": round(self.sagas_per_second, 1),
            "latency_ms": self.latency_ms,
            "outage": self.outage,
            "invariants": [asdict(check) for check in self.checks],
            "ok": self.ok,
        }


def outcome_of(status: str | None, failure: str | None) -> str:
    """The reason an order ended as it did, from its saga's status and failure."""
    if status is None:
        return "no saga"
    if status == "completed":
        return OUTCOMES["ok"]
    if status in ("running", "compensating"):
        return f"still {status}"
    why = failure or ""
    for needle, label in (
        ("step reserve_stock failed", OUTCOMES["out_of_stock"]),
        ("step authorize_payment failed", OUTCOMES["declined"]),
        ("step ship failed", OUTCOMES["unshippable"]),
        ("signal cancel", OUTCOMES["cancelled"]),
        ("deadline of state", "timed out"),
    ):
        if needle in why:
            return label if status == "compensated" else f"parked after: {label}"
    return f"{status}: {why or 'no reason'}"


def _engine(url: str) -> Any:
    return engine_for(url)


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def progress(orders_url: str) -> dict[str, int]:
    """Sagas by state right now (for the live display)."""
    counts = rows(
        orders_url,
        "SELECT state, count(*) FROM saga_instance WHERE saga = :saga GROUP BY state",
        saga=SAGA,
    )
    return {str(state): int(n) for state, n in counts}


def settled(orders_url: str) -> tuple[int, int]:
    """(sagas ended, order rows settled): the run is over when both reach the order count."""
    [(ended, settled_rows)] = rows(
        orders_url,
        "SELECT (SELECT count(*) FROM saga_instance WHERE saga = :saga AND status = ANY(:ended)),"
        " (SELECT count(*) FROM customer_order WHERE status <> 'placed')",
        saga=SAGA,
        ended=list(ENDED),
    )
    return int(ended), int(settled_rows)


def order_rows(orders_url: str) -> list[OrderRow]:
    found = rows(
        orders_url,
        """
        SELECT o.order_id, o.status, o.total_cents, o.placed_at, i.status, i.state,
               i.snapshot ->> 'failure',
               (i.snapshot -> 'steps' -> 'capture' ->> 1)::int,
               (SELECT min(h.at) FROM saga_history h
                 WHERE h.saga = :saga AND h.instance_id = i.instance_id
                   AND h.to_state = ANY(:finals))
          FROM customer_order o
          LEFT JOIN saga_instance i ON i.saga = :saga AND i.instance_id = o.order_id::text
         ORDER BY o.placed_at
        """,
        saga=SAGA,
        finals=[s.name for s in OrderSaga.__saga__.states.values() if s.final],
    )
    return [OrderRow(*row) for row in found]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def db_now(url: str) -> datetime:
    """The database clock (the one every row's time comes from)."""
    [(now,)] = rows(url, "SELECT clock_timestamp()")
    return now  # type: ignore[no-any-return]


def back_after(url: str, since: datetime) -> datetime | None:
    """When a restarted service handled its first event after ``since`` (its effect log;
    for the orders service, its saga's history too)."""
    sql = "SELECT min(applied_at) FROM effect WHERE applied_at > :since"
    if "shop_orders" in url:
        sql = (
            "SELECT least((SELECT min(applied_at) FROM effect WHERE applied_at > :since),"
            " (SELECT min(at) FROM saga_history WHERE at > :since))"
        )
    [(first,)] = rows(url, sql, since=since)
    return first  # type: ignore[no-any-return]


def build(
    urls: dict[str, str],
    plan: Plan,
    cancels: dict[UUID, str],
    outage: tuple[str, datetime] | None = None,
) -> Report:
    orders = order_rows(urls["orders"])
    completed = {o.order_id for o in orders if o.status == "completed"}
    checks = [
        _all_ended(orders, len(plan.orders)),
        _rows_follow_sagas(orders),
        _stock(urls, completed),
        _money(urls, orders, completed),
        _shipments(urls, completed),
        _once(urls),
        _as_planned(orders, plan, cancels),
    ]
    ended = [o for o in orders if o.ended_at is not None]
    span = (
        (max(o.ended_at for o in ended if o.ended_at) - min(o.placed_at for o in ended))
        if ended
        else None
    )
    result = Report(
        orders=orders,
        checks=checks,
        outcomes=dict(Counter(o.outcome for o in orders).most_common()),
        capture_retries=sum(1 for o in orders if (o.capture_attempts or 0) > 1),
        sagas_per_second=len(ended) / span.total_seconds() if span else 0.0,
        latency_ms=_latency(ended),
    )
    if outage is not None:
        service, killed_at = outage
        back = back_after(urls[service], killed_at)
        result.outage = outage_summary(service, killed_at, back, ended)
    return result


def outage_summary(
    service: str, killed_at: datetime, back: datetime | None, ended: list[OrderRow]
) -> dict[str, Any]:
    """How long ``service`` was down and the latency of the orders it held up, apart."""
    # In flight while the service was down: placed before it came back, ended after it died.
    during = [
        o
        for o in ended
        if (back is None or o.placed_at < back) and o.ended_at and o.ended_at > killed_at
    ]
    others = [o for o in ended if o not in during]
    return {
        "service": service,
        "seconds": round((back - killed_at).total_seconds(), 1) if back else None,
        "orders_in_flight": len(during),
        "latency_ms_in_flight": _latency(during),
        "latency_ms_others": _latency(others),
    }


def _latency(orders: list[OrderRow]) -> dict[str, float]:
    seconds = [o.latency for o in orders if o.latency is not None]
    return {
        "p50": round(quantile(seconds, 0.5) * 1000, 1),
        "p99": round(quantile(seconds, 0.99) * 1000, 1),
        "max": round(max(seconds, default=0.0) * 1000, 1),
    }


def _all_ended(orders: list[OrderRow], placed: int) -> Check:
    by_status = Counter(o.saga_status or "no saga" for o in orders)
    good = by_status["completed"] + by_status["compensated"]
    detail = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    return Check(
        "all sagas ended",
        good == placed == len(orders),
        f"{placed} orders placed, {len(orders)} rows: {detail} (none running or parked)",
    )


def _rows_follow_sagas(orders: list[OrderRow]) -> Check:
    expected = {"completed": "completed", "compensated": "cancelled"}
    wrong = [o for o in orders if expected.get(o.saga_status or "") != o.status]
    return Check(
        "order rows follow their sagas",
        not wrong,
        "every row completed or cancelled as its saga ended"
        if not wrong
        else f"{len(wrong)} rows disagree, e.g. {wrong[0].order_id}: row {wrong[0].status}, "
        f"saga {wrong[0].saga_status}",
    )


def _stock(urls: dict[str, str], completed: set[UUID]) -> Check:
    stock = rows(urls["inventory"], "SELECT sku, received, available, reserved FROM stock")
    held_lines = dict(
        rows(
            urls["inventory"],
            "SELECT l.sku, sum(l.quantity) FROM reservation r "
            "JOIN reservation_line l USING (reservation_id) WHERE r.status = 'held' GROUP BY l.sku",
        )
    )
    held_orders = {
        row[0]
        for row in rows(urls["inventory"], "SELECT order_id FROM reservation WHERE status = 'held'")
    }
    sold = dict(
        rows(
            urls["orders"],
            "SELECT sku, sum(quantity) FROM order_line WHERE order_id = ANY(:ids) GROUP BY sku",
            ids=list(completed),
        )
    )
    problems = []
    for sku, received, available, reserved in stock:
        if available < 0 or reserved < 0:
            problems.append(f"{sku} negative ({available} available, {reserved} reserved)")
        if available + reserved != received:
            problems.append(f"{sku}: {available} + {reserved} != {received} received")
        if reserved != held_lines.get(sku, 0) or reserved != sold.get(sku, 0):
            problems.append(
                f"{sku}: {reserved} reserved, {held_lines.get(sku, 0)} on held reservations, "
                f"{sold.get(sku, 0)} on completed orders"
            )
    if held_orders != completed:
        problems.append(
            f"{len(held_orders - completed)} reservations held for orders not completed, "
            f"{len(completed - held_orders)} completed orders without one"
        )
    units = sum(row[3] for row in stock)
    return Check(
        "stock never negative and conserved",
        not problems,
        f"{len(stock)} SKUs: available + reserved = received; {units} units held for exactly "
        "the completed orders; every release restored its stock"
        if not problems
        else "; ".join(problems[:3]),
    )


def _money(urls: dict[str, str], orders: list[OrderRow], completed: set[UUID]) -> Check:
    [(captured, refunded)] = rows(
        urls["payments"],
        "SELECT coalesce(sum(amount_cents) FILTER (WHERE kind = 'capture'), 0), "
        "coalesce(sum(amount_cents) FILTER (WHERE kind = 'refund'), 0) FROM ledger",
    )
    captured_orders = {
        row[0]
        for row in rows(urls["payments"], "SELECT order_id FROM payment WHERE status = 'captured'")
    }
    [(hanging,)] = rows(
        urls["payments"], "SELECT count(*) FROM payment WHERE status = 'authorized'"
    )
    owed = sum(o.total_cents for o in orders if o.order_id in completed)
    ok = captured - refunded == owed and captured_orders == completed and hanging == 0
    detail = (
        f"captured {_eur(captured)} - refunded {_eur(refunded)} = {_eur(captured - refunded)}; "
        f"completed orders total {_eur(owed)}; {hanging} authorizations left open"
    )
    if captured_orders != completed:
        detail += f"; captures for {len(captured_orders ^ completed)} orders do not match"
    return Check("money conserved", ok, detail)


def _shipments(urls: dict[str, str], completed: set[UUID]) -> Check:
    shipped = {row[0] for row in rows(urls["shipping"], "SELECT order_id FROM shipment")}
    return Check(
        "shipments exactly for the completed orders",
        shipped == completed,
        f"{len(shipped)} shipments, {len(completed)} completed orders, "
        f"{len(shipped ^ completed)} differ",
    )


def _once(urls: dict[str, str]) -> Check:
    effects = twice = dead = held = 0
    for service in SERVICES:
        [(n, dup, dl, stuck)] = rows(
            urls[service],
            "SELECT (SELECT count(*) FROM effect),"
            " (SELECT count(*) FROM (SELECT event_id FROM effect GROUP BY event_id"
            "   HAVING count(*) > 1) d),"
            " (SELECT count(*) FROM saga_outbox WHERE topic LIKE '%.dead-letters'),"
            " (SELECT count(*) FROM saga_outbox WHERE refused_at IS NOT NULL)"
            " + (SELECT count(*) FROM saga_orphan_event)",
        )
        effects, twice, dead, held = effects + n, twice + dup, dead + dl, held + stuck
    return Check(
        "no effect applied twice",
        twice == 0 and dead == 0 and held == 0,
        f"{effects} effects in {len(SERVICES)} services, {twice} events applied twice; "
        f"{dead} dead letters, {held} refused outbox rows or orphan events",
    )


def _as_planned(orders: list[OrderRow], plan: Plan, cancels: dict[UUID, str]) -> Check:
    actual = {o.order_id: o.outcome for o in orders}
    off = []
    for planned in plan.orders:
        expected = planned.expected
        if planned.cancel and cancels.get(planned.order_id) != "accepted":
            expected = OUTCOMES[planned.kind]  # the cancel came too late: it went on
        if actual.get(planned.order_id) != expected:
            off.append((planned.order_id, expected, actual.get(planned.order_id)))
    return Check(
        "every order ended as its plan said",
        not off,
        f"{len(plan.orders)} orders, seed {plan.seed}"
        if not off
        else f"{len(off)} differ, e.g. {off[0][0]}: expected {off[0][1]}, got {off[0][2]}",
    )


def _eur(cents: int) -> str:
    return f"{cents / 100:,.2f} EUR"
