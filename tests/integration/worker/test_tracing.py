"""Traces on the real stack: two ``saga worker`` processes (the order saga; the services)
export their spans with ``OTEL_TRACES_EXPORTER=console``, and each order is one trace
across both processes and the Kafka hops between them."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from saga.testing import eventually
from tests._saga_cli import assert_one_line_error, run_saga
from tests.integration.worker._support import statuses
from tests.integration.worker.app import TicketOpened
from tests.integration.worker.conftest import APP, Scene
from tests.sagas.shop import placed

pytestmark = pytest.mark.integration

TRACING = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "200"}
# An outside service's trace the first order arrives in.
OUTSIDE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OUTSIDE_SPAN = "00f067aa0ba902b7"
UNSAMPLED = "0af7651916cd43dd8448eb211c80319c"
# Values of the sagas' data and the services' replies: never in a span.
DATA_VALUES = ("book", "over the limit", "too fragile", "r-o0", "a-o0", "t-o0", "2000000")


def spans_of(text: str) -> list[dict[str, Any]]:
    """The JSON lines the console exporter wrote among the worker's log lines."""
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"name"')]


def test_one_trace_per_order_across_processes(scene: Scene) -> None:
    saga_worker = scene.start(f"{APP}:OrderSaga", f"{APP}:TicketSaga", name="orders", env=TRACING)
    services = scene.start(
        f"{APP}:inventory", f"{APP}:payments", f"{APP}:shipping", name="shipping", env=TRACING
    )
    scene.orders.publish(placed("o0"), "o0", traceparent=f"00-{OUTSIDE_TRACE}-{OUTSIDE_SPAN}-01")
    scene.placed_count = 1
    scene.place(5)  # o1 … o5: o3 cannot ship, o5 is declined
    # A trace the outside service did not sample: no span anywhere, the saga still runs.
    scene.orders.publish(placed("o6"), "o6", traceparent=f"00-{UNSAMPLED}-{OUTSIDE_SPAN}-00")
    scene.placed_count = 7
    scene.orders.publish(TicketOpened(ticket_id="t1"), "t1")  # its deadline fires in a second
    scene.orders.flush()
    scene.wait_all_ended(timeout=60)
    scene.check()
    eventually(
        lambda: statuses(scene.url, "test.TicketSaga")["failed"] == 1,
        timeout=30,
        what="the ticket's deadline fired",
    )
    assert scene.stop(saga_worker) == 0, scene.log(saga_worker)
    assert scene.stop(services) == 0, scene.log(services)

    spans = []
    for worker, service in ((saga_worker, "orders"), (services, "shipping")):
        found = spans_of(scene.log(worker, whole=True))
        assert found, scene.log(worker)
        for span in found:
            assert span["resource"]["attributes"]["service.name"] == service
            span["service"] = service
        spans += found
    by_id = {s["context"]["span_id"]: s for s in spans}
    traces: dict[str, set[str]] = defaultdict(set)  # order: trace ids of its spans
    services_in: dict[str, set[str]] = defaultdict(set)  # trace id: services
    for span in spans:
        trace_id = span["context"]["trace_id"]
        services_in[trace_id].add(span["service"])
        instance = span["attributes"].get("saga.instance_id")
        if instance is not None:
            traces[instance].add(trace_id)
        # Names, ids and states only: nothing of the sagas' data, never the record key.
        shown = json.dumps([span["name"], span["attributes"], span["events"]])
        assert not [v for v in DATA_VALUES if v in shown], shown
        assert "messaging.kafka.message.key" not in span["attributes"]

    orders = {"o0", "o1", "o2", "o3-fragile", "o4", "o5"}
    assert orders <= set(traces), sorted(traces)
    for order in orders:
        assert len(traces[order]) == 1, (order, traces[order])
        (trace_id,) = traces[order]
        assert services_in[trace_id] == {"orders", "shipping"}, order
    assert len({next(iter(traces[o])) for o in orders}) == len(orders)  # one trace each
    assert traces["o0"] == {f"0x{OUTSIDE_TRACE}"}  # the outside trace continues
    assert "o6" not in traces
    assert f"0x{UNSAMPLED}" not in services_in

    consumed = [s for s in spans if s["kind"] == "SpanKind.CONSUMER"]
    published = [s for s in spans if s["kind"] == "SpanKind.PRODUCER"]
    assert consumed
    assert published
    for span in consumed:
        attributes = span["attributes"]
        topic = attributes["messaging.destination.name"]
        assert span["name"] == f"process {topic}"
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.operation.type"] == "process"
        assert attributes["messaging.consumer.group.name"] == span["service"]
        parent = by_id.get(span["parent_id"])
        if parent is None:  # an event from outside: a test producer's
            assert topic.endswith(("test.shop", "test.tickets")), span
            continue
        # Across the Kafka hop: the consumer's parent is the span that wrote the event, in
        # the other process (the saga's transition, or a service's handler).
        assert parent["kind"] == "SpanKind.INTERNAL", parent
        assert parent["service"] != span["service"], (span["name"], parent["name"])
    o0_root = next(s for s in consumed if s["parent_id"] == f"0x{OUTSIDE_SPAN}")
    assert o0_root["context"]["trace_id"] == f"0x{OUTSIDE_TRACE}"

    for span in published:
        attributes = span["attributes"]
        assert span["name"] == f"publish {attributes['messaging.destination.name']}"
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.operation.type"] == "send"
        # The relay publishes in the writer's trace, linked to it (the creation context);
        # either worker's relay may publish a row: they share the outbox's lanes.
        assert by_id[span["parent_id"]]["kind"] == "SpanKind.INTERNAL"
        assert [link["context"]["span_id"] for link in span["links"]] == [span["parent_id"]]

    transitions = [s for s in spans if s["name"] == "saga test.OrderSaga"]
    assert transitions
    for span in transitions:
        assert {"saga.name", "saga.state.from", "saga.state.to"} <= set(span["attributes"])
    handlers = [s for s in spans if s["name"].startswith("handle ")]
    assert {s["attributes"]["saga.participant"] for s in handlers} == {
        "inventory",
        "payments",
        "shipping",
    }
    deadline = [s for s in spans if s["name"] == "deadline test.TicketSaga"]
    assert len(deadline) == 1
    expired = [s for s in spans if s["parent_id"] == deadline[0]["context"]["span_id"]]
    assert [s["attributes"]["saga.state.to"] for s in expired] == ["expired"]


def test_an_unknown_traces_exporter_is_one_line(scene: Scene) -> None:
    env = scene.env(extra={"OTEL_TRACES_EXPORTER": "zipkin"})
    done = run_saga("worker", APP, "--name", "shop", "--topic-prefix", scene.prefix, env=env)
    assert_one_line_error(done, "OTEL_TRACES_EXPORTER='zipkin'", "use otlp, console or none")


class _Collector(BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP receiver: keeps the spans of every export request."""

    spans: ClassVar[list[tuple[str, str]]] = []  # (service, span name)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = next(
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            )
            for scope in resource_spans.scope_spans:
                type(self).spans += [(service, span.name) for span in scope.spans]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_an_otlp_endpoint_alone_turns_tracing_on(scene: Scene) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        worker = scene.start(env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
        scene.place(2)
        scene.wait_all_ended(timeout=60)
        assert scene.stop(worker) == 0, scene.log(worker)  # its spans are flushed on the way
    finally:
        server.shutdown()
        server.server_close()
    names = {name for service, name in _Collector.spans if service == "shop"}
    assert {f"process {scene.prefix}test.shop", "saga test.OrderSaga", "handle payments"} <= names
