"""Each of the shop's workers reads only what it consumes: the order saga's requests travel on
the services' ``.requests`` topics, their answers on the services' own, so no worker fetches
a record it passes over (8 of 18 deliveries per order were such when they shared a topic).

The workers are built as ``saga worker services.<service> --name <service> --topic-prefix P``
builds them (nothing connects before ``run``); what travels on each topic is what the whole
shop writes there, OrderPlaced from the HTTP API included."""

from __future__ import annotations

import pytest

from saga import TopicMap
from saga.cli._loading import load_hosts
from saga.engine.hosting import topic_uses
from saga.runtime.worker import Worker
from services import setup
from services.common import SERVICES
from services.contracts import AuthorizePayment, OrderPlaced, PaymentAuthorized, VoidPayment

PREFIX = "t."


def worker(service: str, topics: TopicMap) -> Worker:
    sagas, participants = load_hosts([f"services.{service}"])
    return Worker(
        sagas=sagas,
        participants=participants,
        database_url="postgresql+psycopg://shop@127.0.0.1:1/shop",  # never reached here
        kafka_bootstrap="127.0.0.1:1",
        name=service,
        topics=topics,
        relay=False,
    )


def passed_over(topics: TopicMap) -> dict[str, dict[str, set[str]]]:
    """Per worker, per topic it subscribes to: the event types there it does not consume."""
    uses = topic_uses(setup.hosts(), topics)
    found: dict[str, dict[str, set[str]]] = {}
    for service in SERVICES:
        runner = worker(service, topics)
        consumed = set(runner.subscriptions.by_event)
        for topic in runner.input_topics:
            skipped = uses[topic].events - consumed
            if skipped:
                found.setdefault(service, {})[topic] = skipped
    return found


def test_the_shop_s_requests_and_answers_travel_apart() -> None:
    topics = TopicMap()
    assert topics.topic_for(AuthorizePayment) == "shop.payments.requests"
    assert topics.topic_for(VoidPayment) == "shop.payments.requests"  # a compensation
    assert topics.topic_for(PaymentAuthorized) == "shop.payments"
    assert topics.topic_for(OrderPlaced) == "shop.orders"  # from the HTTP API, unmarked


def test_no_shop_worker_subscribes_to_a_topic_carrying_events_it_does_not_consume() -> None:
    assert passed_over(TopicMap(prefix=PREFIX)) == {}


def test_each_service_alone_reads_only_its_requests_and_the_saga_only_answers() -> None:
    topics = TopicMap(prefix=PREFIX)
    reads = {service: worker(service, topics).input_topics for service in SERVICES}
    assert reads == {
        "orders": ["t.shop.inventory", "t.shop.orders", "t.shop.payments", "t.shop.shipping"],
        "inventory": ["t.shop.inventory.requests"],
        "payments": ["t.shop.payments.requests"],
        "shipping": ["t.shop.shipping.requests"],
    }
    assert [worker(s, topics).reads_back for s in SERVICES] == [{}] * len(SERVICES)
    # The HTTP API writes OrderPlaced (through the same map) where the saga reads it.
    assert topics.topic_for(OrderPlaced) in reads["orders"]


def test_the_check_fails_when_a_request_shares_its_answers_topic() -> None:
    """A request routed back onto its namespace's topic (an override here; an unmarked
    contract does the same) is read back by the saga and makes payments read its answers."""
    shared = TopicMap({"shop.payments.AuthorizePayment": "shop.payments"}, prefix=PREFIX)
    assert passed_over(shared) == {
        "orders": {"t.shop.payments": {"shop.payments.AuthorizePayment"}},
        "payments": {
            "t.shop.payments": {
                "shop.payments.CaptureFailed",
                "shop.payments.PaymentAuthorized",
                "shop.payments.PaymentCaptured",
                "shop.payments.PaymentDeclined",
            }
        },
    }


@pytest.mark.parametrize("prefix", ["", "demo-1."])
def test_setup_creates_every_topic_a_shop_worker_reads_or_writes(prefix: str) -> None:
    """What ``python -m services.setup`` (and the demo, the soak, the benchmark) creates is
    what the workers check for at start: none of them refuses to start."""
    created = set(setup.topics(prefix))
    for service in SERVICES:
        runner = worker(service, TopicMap(prefix=prefix))
        needed = {*runner.input_topics, *runner.output_topics, runner.dead_letter_topic}
        assert needed <= created, (service, sorted(needed - created))
