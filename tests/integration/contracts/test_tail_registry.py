"""``saga tail`` over records in the Confluent wire format: writer schemas come from a real
schema registry (Apicurio), and a schema registered before the contract marked its personal
data still has that data masked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from pydantic import SecretStr

from saga.contracts import _registry
from saga.contracts.redaction import SENSITIVE
from saga.contracts.schemas import load_contracts
from saga.contracts.serde import Serializer
from saga.settings import Settings
from tests._saga_cli import assert_one_line_error
from tests._samples import order_placed
from tests.integration.contracts._apicurio import Registry
from tests.integration.tail._support import AVRO, Writer, tail, tail_env, tail_json

pytestmark = pytest.mark.integration

SUBJECT = "shop.orders.OrderPlaced"


def _unmarked(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _unmarked(v) for k, v in schema.items() if k != SENSITIVE}
    if isinstance(schema, list):
        return [_unmarked(item) for item in schema]
    return schema


def test_confluent_records_decode_with_the_registry_and_stay_masked(
    kafka_bootstrap: str,
    kafka_topic: str,
    tmp_path: Path,
    start_schema_registry: Callable[[], Registry],
) -> None:
    registry = start_schema_registry()  # a registry of its own: it registers an old text
    latest = load_contracts(AVRO).latest(SUBJECT)
    writer = Writer(kafka_bootstrap)
    with _registry.registry_client(registry.url) as client:
        # A pipeline registered v2 before the contract marked the address.
        old_id = client.register_schema(
            SUBJECT, Schema(json.dumps(_unmarked(latest.schema)), "AVRO")
        )
        assert SENSITIVE not in str(client.get_schema(old_id).schema_str)
        settings = Settings(
            schema_dir=AVRO, wire_format="confluent", schema_registry_url=SecretStr(registry.url)
        )
        producer = Serializer(settings, registry=client)
        encoded = producer.encode(order_placed(), writer.envelope(order_placed(), "o-1"))
        assert encoded.value[:5] != _registry.prefix(old_id)  # registered anew, with marks
        old = _registry.prefix(old_id) + encoded.value[5:]  # the event under the old text
        writer.raw(kafka_topic, old, key=b"o-1", headers=encoded.headers)
        writer.raw(kafka_topic, encoded.value, key=b"o-1", headers=encoded.headers)
        writer.flush()

    env = tail_env(tmp_path, kafka_bootstrap, SAGA_SCHEMA_REGISTRY_URL=registry.url)
    records = tail_json(env, kafka_topic)

    assert len(records) == 2
    for record in records:
        assert record["undecodable"] is None, record["undecodable"]
        assert (record["event_type"], record["version"]) == (SUBJECT, 2)  # by fingerprint
        assert record["payload"]["shipping_address"]["city"] == "***"
        assert record["payload"]["coupon_code"] == "SPRING24"
    rich = tail(env, kafka_topic, "--format", "rich")
    assert rich.returncode == 0, rich.stderr
    assert "Berlin" not in rich.stdout
    assert rich.stdout.count('"city": "***"') == 2

    # Without the registry the records are shown as what they are, and the tail goes on.
    registry.stop()
    gone = tail_json(tail_env(tmp_path, kafka_bootstrap), kafka_topic)
    assert [r["undecodable"]["reason"] for r in gone] == [
        "UnknownSchemaError: payload is in the Confluent wire format but no schema registry "
        "is configured: set SAGA_SCHEMA_REGISTRY_URL"
    ] * 2
    away = tail(env, kafka_topic)  # configured but stopped: each record says so
    assert away.returncode == 0, away.stderr
    reasons = [json.loads(line)["undecodable"]["reason"] for line in away.stdout.splitlines()]
    assert len(reasons) == 2
    assert all("schema registry unreachable" in reason for reason in reasons), reasons


def test_a_malformed_registry_url_is_one_line(
    kafka_topic: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = tail_env(tmp_path, kafka_bootstrap, SAGA_SCHEMA_REGISTRY_URL="not a url")
    assert_one_line_error(tail(env, kafka_topic), "SAGA_SCHEMA_REGISTRY_URL")
