"""The orders service's HTTP API as a client sees it, served by its own process on a real
PostgreSQL: the order row, its lines and OrderPlaced are written together, a retried POST
places the order once, bad input is refused with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from saga.postgres.tables import upgrade_database
from saga.testing import eventually
from services.common import upgrade
from services.demo.processes import free_port
from tests._saga_cli import ROOT

pytestmark = pytest.mark.integration


def call(
    base: str, method: str, path: str, body: Any = None, *, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def api(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    upgrade_database(fresh_database_url)
    upgrade("orders", fresh_database_url)
    port = free_port()
    env = {**os.environ, "SAGA_DATABASE_URL": fresh_database_url, "SAGA_KAFKA_BOOTSTRAP": "x:1"}
    log = tmp_path / "api.log"
    command = [sys.executable, "-m", "services.orders.api", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--topic-prefix", "t."],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert server.poll() is None, log.read_text()
        try:
            return call(base, "GET", "/health")[0] == 200
        except OSError:
            return False

    try:
        eventually(healthy, timeout=30, interval=0.1, what="the API answers")
        yield base, fresh_database_url
    finally:
        server.terminate()
        assert server.wait(30) == 0  # a clean stop on SIGTERM


def order(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "currency": "EUR",
        "lines": [
            {"sku": "BOOK-42", "quantity": 2, "unit_price_cents": 990},
            {"sku": "MUG-7", "quantity": 1, "unit_price_cents": 1250},
        ],
        "shipping_address": {
            "line1": "1 Sample St",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
    }
    body.update(changes)
    return body


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


def test_an_order_is_written_with_its_event_once_however_often_it_is_posted(
    api: tuple[str, str],
) -> None:
    base, url = api
    body = order()
    assert call(base, "POST", "/orders", body) == (
        201,
        {"order_id": body["order_id"], "status": "placed", "total_cents": 3_230},
    )
    assert call(base, "POST", "/orders", body)[0] == 200  # a retry: nothing new
    assert rows(url, "SELECT status, total_cents, country FROM customer_order") == [
        ("placed", 3_230, "DE")
    ]
    assert rows(url, "SELECT count(*) FROM order_line") == [(2,)]
    assert rows(url, "SELECT topic, event_type FROM saga_outbox") == [
        ("t.shop.orders", "shop.orders.OrderPlaced")
    ]
    code, status = call(base, "GET", f"/orders/{body['order_id']}")
    assert code == 200
    assert status["status"] == "placed"
    assert status["saga"] is None  # no worker has taken it yet


def test_a_retry_needs_a_name_and_the_same_body(api: tuple[str, str]) -> None:
    base, url = api
    # Neither an order_id nor an Idempotency-Key: a retry could not be told from a new order.
    anonymous = order()
    del anonymous["order_id"]
    code, answer = call(base, "POST", "/orders", anonymous)
    assert code == 422
    assert "Idempotency-Key" in answer["error"]
    assert rows(url, "SELECT count(*) FROM customer_order") == [(0,)]

    # A key names the order: the retry is answered from the stored order.
    code, first = call(base, "POST", "/orders", anonymous, key="cart-17")
    assert (code, first["status"], first["total_cents"]) == (201, "placed", 3_230)
    assert call(base, "POST", "/orders", anonymous, key="cart-17") == (200, first)
    # The same key with another body would be another order: refused, nothing written.
    cheaper = {**anonymous, "lines": [{"sku": "MUG-7", "quantity": 1, "unit_price_cents": 1}]}
    code, answer = call(base, "POST", "/orders", cheaper, key="cart-17")
    assert code == 422
    assert "placed with another body" in answer["error"]
    # The same key from another customer is another order.
    other = {**anonymous, "customer_id": str(uuid.uuid4())}
    assert call(base, "POST", "/orders", other, key="cart-17")[0] == 201
    assert rows(url, "SELECT count(*), sum(total_cents) FROM customer_order") == [(2, 6_460)]
    assert rows(url, "SELECT count(*) FROM saga_outbox") == [(2,)]

    # With an order_id, a changed body is refused the same way.
    named = order()
    assert call(base, "POST", "/orders", named)[0] == 201
    code, _ = call(base, "POST", "/orders", {**named, "currency": "USD"})
    assert code == 422


def test_bad_orders_are_refused_with_the_reason(api: tuple[str, str]) -> None:
    base, url = api
    twice = order(lines=[{"sku": "A", "quantity": 1, "unit_price_cents": 1}] * 2)
    code, answer = call(base, "POST", "/orders", twice)
    assert (code, "each SKU may appear on one line only" in answer["error"]) == (422, True)
    code, answer = call(base, "POST", "/orders", order(currency="euro"))
    assert code == 422
    assert "currency" in answer["error"]
    code, _ = call(base, "POST", "/orders", {"lines": []})
    assert code == 422
    assert rows(url, "SELECT count(*) FROM customer_order") == [(0,)]
    assert rows(url, "SELECT count(*) FROM saga_outbox") == [(0,)]


def test_unknown_orders_and_early_cancels(api: tuple[str, str]) -> None:
    base, _ = api
    assert call(base, "GET", f"/orders/{uuid.uuid4()}")[0] == 404
    assert call(base, "GET", "/orders/not-a-uuid")[0] == 404
    assert call(base, "POST", f"/orders/{uuid.uuid4()}/cancel")[0] == 404
    body = order()
    call(base, "POST", "/orders", body)
    # No worker has registered the saga in this database: the signal is refused.
    code, answer = call(base, "POST", f"/orders/{body['order_id']}/cancel")
    assert code == 409
    assert "too late to cancel" in answer["error"] or "not being processed" in answer["error"]
