"""``--log-format json`` through the executable: one JSON object per line, and the lines a
record's handling writes carry its trace id, so a log line leads to the trace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from saga.testing import eventually
from tests._saga_cli import assert_one_line_error, run_saga
from tests.integration.worker.conftest import APP, Scene
from tests.sagas.shop import placed

pytestmark = pytest.mark.integration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
KEYS = {"time", "level", "logger", "message", "trace_id", "span_id", "saga", "instance_id"}


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log records among the worker's output (spans and banners are not)."""
    lines = [json.loads(line) for line in text.splitlines() if line.startswith('{"time"')]
    return [line for line in lines if "level" in line]


def test_json_log_lines_carry_the_trace(scene: Scene) -> None:
    worker = scene.start(env={"OTEL_TRACES_EXPORTER": "console"}, options=("--log-format", "json"))
    # The shipping handler raises for this order every time: retried, then dead-lettered.
    scene.orders.publish(
        placed("o1-poison"), "o1-poison", traceparent=f"00-{TRACE}-00f067aa0ba902b7-01"
    )
    scene.orders.flush()
    # The ERROR line comes once the dead letter committed, after the WARNING that announces it.
    eventually(
        lambda: "dead-lettered" in scene.log(worker, whole=True) or worker.poll() is not None,
        timeout=60,
        what="the poison order dead-lettered",
    )
    assert worker.poll() is None, scene.log(worker)
    lines = log_lines(scene.log(worker, whole=True))
    for line in lines:
        assert set(line) == KEYS, line
    hosts = next(line for line in lines if " hosts " in line["message"])
    assert hosts["logger"] == "saga.worker"
    assert hosts["level"] == "INFO"
    assert (hosts["trace_id"], hosts["span_id"]) == ("", "")  # outside any span
    about = [
        line for line in lines if "o1-poison" in line["message"] or "failed" in line["message"]
    ]
    retries = [line for line in about if line["level"] == "WARNING"]
    dead = [line for line in about if line["level"] == "ERROR"]
    assert retries, lines
    assert dead, lines
    for line in retries + dead:
        assert line["trace_id"] == TRACE, line
        assert len(line["span_id"]) == 16, line
        assert line["instance_id"] == "o1-poison", line
    assert scene.stop(worker) == 0, scene.log(worker)


def test_an_unknown_log_format_is_one_line(scene: Scene) -> None:
    done = run_saga("worker", APP, "--log-format", "xml", env=scene.env(), timeout=60)
    assert_one_line_error(done, "--log-format xml", "use text or json")
