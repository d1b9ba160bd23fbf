"""What the soak found in the orders API. It starts again at once on the port of a
predecessor that died with open connections (a SIGKILLed API's connections sit in
TIME_WAIT, and the port probe called the port busy for a minute), while a live listener
still makes it busy; and a database that is away is a 503 to retry."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any

import pytest
from sqlalchemy import create_engine

from services.orders import api


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    # Servers that refuse at once: the API gets past the port and stops at the database.
    monkeypatch.setenv("SAGA_DATABASE_URL", "postgresql://shop:pw@127.0.0.1:1/shop_orders")
    monkeypatch.setenv("SAGA_KAFKA_BOOTSTRAP", "127.0.0.1:1")


def port_in_time_wait() -> int:
    """A port whose listener is gone, its server side of a connection in TIME_WAIT."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port: int = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the server closes first, as a dying process's sockets do
    client.recv(1)  # sees the FIN
    client.close()
    listener.close()
    return port


def test_a_port_in_time_wait_is_free(nowhere: None, capsys: pytest.CaptureFixture[str]) -> None:
    port = port_in_time_wait()
    assert api.main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert "busy" not in err
    assert "cannot reach PostgreSQL" in err


def test_a_listening_port_is_busy(nowhere: None, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert api.main(["--port", str(port)]) == 2
    assert f"port {port} on 127.0.0.1 is busy" in capsys.readouterr().err


def test_a_database_away_is_a_503_to_retry_not_a_plain_500() -> None:
    """Found by the soak: during PostgreSQL's crash restart the API answered each order
    with a plain-text 500 and logged a traceback."""
    engine = create_engine("postgresql+psycopg://shop:pw@127.0.0.1:1/shop_orders")
    app = api.OrdersApi(engine).app()
    body = json.dumps(
        {
            "order_id": str(uuid.uuid4()),
            "customer_id": str(uuid.uuid4()),
            "currency": "EUR",
            "lines": [{"sku": "MUG-7", "quantity": 1, "unit_price_cents": 1250}],
            "shipping_address": {
                "line1": "1 Sample Street",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DE",
            },
        }
    ).encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/orders",
        "raw_path": b"/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    try:
        asyncio.run(app(scope, receive, send))
    finally:
        engine.dispose()
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"1") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {
        "error": "the orders database is not available: try again"
    }
