"""Which topic an event travels on: its namespace's, or ``<namespace>.requests`` when its
contract is marked ``"role": "request"``; overrides and the prefix on top. The mark is part
of the contract, so every process that has the event class routes it alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from saga import Event, TopicMap
from saga.contracts.schemas import load_contracts, schema_fingerprint
from saga.contracts.topics import is_request
from saga.errors import ConfigError, DefinitionError
from tests._samples import write_contract


def contract(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "record",
        "name": name,
        "namespace": "topics.pay",
        "fields": [{"name": "order_id", "type": "string"}],
        **extra,
    }


class Charge(Event, schema=contract("Charge", role="request")):
    order_id: str


class Charged(Event, schema=contract("Charged")):
    order_id: str


class Noted(Event, name="topics.pay.Noted"):  # no contract: never a request
    order_id: str


def test_an_unmarked_event_travels_on_its_namespace_as_before() -> None:
    topics = TopicMap()
    assert topics.topic_for(Charged) == "topics.pay"
    assert topics.topic_for(Charged(order_id="o-1")) == "topics.pay"
    assert topics.topic_for("topics.pay.Charged") == "topics.pay"
    assert topics.topic_for(Noted) == "topics.pay"
    assert not is_request(Charged)


def test_a_request_travels_on_its_namespace_requests_topic() -> None:
    topics = TopicMap()
    assert is_request(Charge)
    assert topics.topic_for(Charge) == "topics.pay.requests"
    assert topics.topic_for(Charge(order_id="o-1")) == "topics.pay.requests"
    assert topics.topic_for("topics.pay.Charge") == "topics.pay.requests"  # its class here


def test_the_prefix_and_a_namespace_override_apply_to_requests_too() -> None:
    topics = TopicMap({"topics": "t", "topics.pay": "payments"}, prefix="prod.")
    assert topics.topic_for(Charged) == "prod.payments"  # the longest match
    assert topics.topic_for(Charge) == "prod.payments.requests"
    assert TopicMap(prefix="p-").topic_for(Charge) == "p-topics.pay.requests"


def test_an_event_type_s_own_override_is_taken_as_it_is() -> None:
    topics = TopicMap({"topics.pay.Charge": "charges", "topics.pay": "payments"})
    assert topics.topic_for(Charge) == "charges"
    assert topics.topic_for(Charged) == "payments"


def test_a_name_without_a_class_here_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="import the module that declares it"):
        TopicMap().topic_for("topics.pay.Nobody")
    # An event type's own override needs no contract.
    assert TopicMap({"topics.pay.Nobody": "x"}).topic_for("topics.pay.Nobody") == "x"


def test_an_unknown_role_is_refused_naming_the_event_and_the_fix() -> None:
    class Typo(Event, schema=contract("Typo", role="command"), register=False):
        order_id: str

    with pytest.raises(DefinitionError) as caught:
        TopicMap().topic_for(Typo)
    message = str(caught.value)
    assert message.startswith('topics.pay.Typo: "role": "command" is not a role')
    assert '"role": "request"' in message


def test_the_role_changes_no_fingerprint() -> None:
    assert schema_fingerprint(contract("Charge")) == schema_fingerprint(
        contract("Charge", role="request")
    )


def test_every_version_of_an_event_declares_the_same_role(tmp_path: Path) -> None:
    write_contract(tmp_path, contract("Charge"), version=1)
    write_contract(tmp_path, contract("Charge", role="request"), version=2)
    with pytest.raises(DefinitionError) as caught:
        load_contracts(tmp_path)
    assert str(caught.value).startswith(
        "topics.pay.Charge: its versions declare different roles (v1 none, v2 request)"
    )
    write_contract(tmp_path, contract("Charge", role="request"), version=1)
    assert load_contracts(tmp_path).latest("topics.pay.Charge").schema["role"] == "request"


def test_a_contract_file_with_an_unknown_role_does_not_load(tmp_path: Path) -> None:
    path = write_contract(tmp_path, contract("Charge", role=["request"]))
    with pytest.raises(DefinitionError) as caught:
        load_contracts(tmp_path)
    assert str(caught.value).startswith(f'{path}: "role": {json.dumps(["request"])} is not')
