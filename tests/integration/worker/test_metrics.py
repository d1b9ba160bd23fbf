"""``--metrics-port`` on the real stack: a worker's Prometheus endpoint counts the sagas as
they end, labels name sagas and statuses (never an order); a port in use is one line."""

from __future__ import annotations

import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from saga.testing import eventually
from tests._saga_cli import assert_one_line_error, env_with_endpoints, run_saga
from tests.integration.worker._support import ROOT, prepare_database, write_contracts
from tests.integration.worker.app import TicketOpened
from tests.integration.worker.conftest import APP, Scene
from tests.sagas.shop import StockReserved, placed

pytestmark = pytest.mark.integration

DASHBOARD = ROOT / "deploy" / "grafana" / "saga.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, labels) → value; nothing while not listening."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        v for (n, have), v in samples.items() if n == name and set(labels.items()) <= set(have)
    )


def test_counters_move_as_sagas_end(scene: Scene) -> None:
    port = free_port()
    worker = scene.start(options=("--metrics-port", str(port)))
    scene.place(5)  # o3 cannot ship: compensated; the others complete
    # Shipping raises for this one every time: dead-lettered, its saga waits (not counted).
    scene.orders.publish(placed("o9-poison"), "o9-poison")
    # An answer for an order that never was: kept as an orphan. A ticket: its deadline fires in 1 s.
    scene.orders.publish(StockReserved(order_id="ghost", reservation_id="r-ghost"), "ghost")
    scene.orders.publish(TicketOpened(ticket_id="t1"), "t1")
    scene.orders.flush()
    scene.wait_all_ended(timeout=60)
    ended = "saga_sagas_ended_total"
    saga = {"saga_name": "test.OrderSaga"}

    def counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        samples = last[0] = scrape(port)
        done = value(samples, ended, **saga, saga_status="completed") == 4
        done = done and value(samples, "saga_dead_letters_total", saga_consumer="shipping") == 1
        tickets = {"saga_name": "test.TicketSaga"}
        done = done and value(samples, "saga_deadline_delay_seconds_count", **tickets) == 1
        return (
            samples
            if done and value(samples, ended, **saga, saga_status="compensated") == 1
            else None
        )

    last: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = [{}]
    try:
        samples = eventually(counted, timeout=60, what="the endpoint counts the ends")
    except AssertionError as failed:
        shown = {k: v for k, v in last[0].items() if k[0].startswith("saga_")}
        raise AssertionError(f"{failed}: {shown}\n{scene.log(worker)}") from None
    assert samples is not None
    assert value(samples, "saga_sagas_started_total", **saga) == 6  # with the poisoned one
    assert value(samples, "saga_transitions_total", **saga) >= 5 * 4
    assert value(samples, "saga_duration_seconds_count", **saga) == 5
    assert value(samples, "saga_handler_duration_seconds_count", saga_consumer="payments") >= 5
    consumed = value(samples, "messaging_client_consumed_messages_total", messaging_system="kafka")
    assert consumed >= 5 * 4
    assert value(samples, "saga_outbox_published_total") >= 5 * 3
    assert any(name == "saga_outbox_backlog" for name, _ in samples)
    assert value(samples, ended, **saga) == 5  # not the poisoned one
    assert value(samples, ended, saga_name="test.TicketSaga", saga_status="failed") == 1
    assert value(samples, "saga_orphans_kept_total", **saga) == 1
    # Labels are names, statuses and topics: never an order's id or data.
    labels = {v for _, have in samples for _, v in have}
    assert not [v for v in labels if re.fullmatch(r"o\d+.*|r-.*|book", v)], labels
    # The dashboard asks for metrics and labels the endpoint serves.
    served = {name for name, _ in samples} | {label for _, have in samples for label, _ in have}
    shown = set(re.findall(r"\b(?:saga|messaging)_[a-z_]+", DASHBOARD.read_text()))
    assert "saga_sagas_ended_total" in shown
    assert shown <= served, sorted(shown - served)
    assert scene.stop(worker) == 0, scene.log(worker)


@pytest.fixture
def env(fresh_database_url: str, kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    prepare_database(fresh_database_url)
    contracts = write_contracts(tmp_path / "avro")
    return env_with_endpoints(
        tmp_path / "stack", fresh_database_url, kafka_bootstrap, SAGA_SCHEMA_DIR=str(contracts)
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("command", [("worker", APP), ("relay",)], ids=["worker", "relay"])
def test_a_busy_metrics_port_is_one_line(
    env: dict[str, str], busy_port: int, command: tuple[str, ...]
) -> None:
    done = run_saga(*command, "--metrics-port", str(busy_port), env=env, timeout=60)
    assert_one_line_error(done, f"--metrics-port {busy_port}", "choose a free port")
