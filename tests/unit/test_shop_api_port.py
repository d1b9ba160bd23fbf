"""The orders API starts again at once on the port of a predecessor that died with open
connections (found by the soak: a SIGKILLed API's connections sit in TIME_WAIT, and the
port probe called the port busy for a minute), while a live listener still makes it busy."""

from __future__ import annotations

import socket

import pytest

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
