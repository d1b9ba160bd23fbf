"""Masking the fields a contract marks ``"sensitive": true`` or a caller names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from saga.contracts.redaction import (
    MASK,
    field_paths,
    redact,
    sensitive_fields,
    unknown_fields,
)
from saga.contracts.schemas import SchemaVersion, load_contracts, schema_fingerprint
from saga.contracts.serde import Serializer
from saga.settings import Settings
from tests._samples import AVRO, order_placed

ADDRESS = ["shipping_address.line1", "shipping_address.line2", "shipping_address.city"]
ADDRESS.append("shipping_address.postal_code")


def _unmarked(schema: Any) -> Any:
    """``schema`` without any ``sensitive`` attribute."""
    if isinstance(schema, dict):
        return {k: _unmarked(v) for k, v in schema.items() if k != "sensitive"}
    if isinstance(schema, list):
        return [_unmarked(item) for item in schema]
    return schema


def _version(schema: dict[str, Any]) -> SchemaVersion:
    return SchemaVersion.from_schema(schema, version=1)


# -- the shop's contracts ------------------------------------------------------------------


def test_the_shop_marks_the_shipping_address_in_every_order_placed_version() -> None:
    contracts = load_contracts(AVRO)
    marked = {v.ref: sensitive_fields(v) for v in contracts if sensitive_fields(v)}
    assert marked == {
        "shop.orders.OrderPlaced/v1": ADDRESS,
        "shop.orders.OrderPlaced/v2": ADDRESS,
    }


# CRC-64-AVRO fingerprints of OrderPlaced as published before its fields were marked.
PUBLISHED = {
    "shop.orders.OrderPlaced/v1": "dd4c371f6bb592bd",
    "shop.orders.OrderPlaced/v2": "7070f84d69c86522",
}


def test_marks_leave_the_fingerprints_unchanged() -> None:
    # Readers find writer schemas by fingerprint: a mark that changed it would orphan every
    # event already on the topics.
    contracts = load_contracts(AVRO)
    for ref, fingerprint in PUBLISHED.items():
        name, version = ref.split("/v")
        assert contracts.versions(name)[int(version) - 1].fingerprint.hex() == fingerprint
    for version in contracts:
        raw = json.loads(version.path.read_text(encoding="utf-8"))
        assert schema_fingerprint(_unmarked(raw)) == version.fingerprint, version.ref


def test_a_decoded_order_shows_no_address_but_everything_else() -> None:
    serializer = Serializer(Settings(schema_dir=AVRO))
    writer, record = serializer.decode_raw(serializer.encode_payload(order_placed()))
    masked = redact(record, [writer])

    assert masked["shipping_address"] == {
        "line1": MASK,
        "line2": MASK,  # null too: whether a value exists is not shown either
        "city": MASK,
        "postal_code": MASK,
        "country": "DE",
    }
    assert {k: v for k, v in masked.items() if k != "shipping_address"} == {
        k: v for k, v in record.items() if k != "shipping_address"
    }
    for secret in ("1 Main Street", "Berlin", "10115"):
        assert secret not in repr(masked)
    assert record["shipping_address"]["city"] == "Berlin"  # the input is left alone


def test_a_mark_in_any_version_masks_records_written_without_it() -> None:
    # A registry may hold the schema as registered before the mark was added.
    contracts = load_contracts(AVRO)
    marked = contracts.latest("shop.orders.OrderPlaced")
    unmarked = _version(_unmarked(dict(marked.schema)))
    serializer = Serializer(Settings(schema_dir=AVRO))
    _, record = serializer.decode_raw(serializer.encode_payload(order_placed()))

    assert redact(record, [unmarked]) == record
    assert redact(record, [unmarked, *contracts.versions(marked.name)])["shipping_address"][
        "city"
    ] == (MASK)


# -- nested types --------------------------------------------------------------------------

CONTACT = {
    "type": "record",
    "name": "Contact",
    "fields": [
        {"name": "email", "type": "string", "sensitive": True},
        {"name": "kind", "type": "string"},
    ],
}
NESTED = {
    "type": "record",
    "name": "Customer",
    "namespace": "acme",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "contacts", "type": {"type": "array", "items": CONTACT}},
        {"name": "by_label", "type": {"type": "map", "values": "Contact"}},  # by name
        {"name": "primary", "type": ["null", "acme.Contact"], "default": None},
        {"name": "card", "type": ["null", "string"], "default": None, "sensitive": True},
        {
            "name": "partner",
            "type": ["null", "Customer"],  # recursive
            "default": None,
        },
        {"name": "secret_note", "type": "string", "sensitive": "yes"},  # mistyped: masks
        {"name": "public_note", "type": "string", "sensitive": False},
    ],
}


def _customer(depth: int) -> dict[str, Any]:
    return {
        "id": f"c{depth}",
        "contacts": [{"email": f"a{depth}@example.org", "kind": "work"}],
        "by_label": {"home": {"email": f"h{depth}@example.org", "kind": "home"}},
        "primary": {"email": f"p{depth}@example.org", "kind": "main"},
        "card": "4111111111111111",
        "partner": _customer(depth + 1) if depth < 2 else None,
        "secret_note": "s",
        "public_note": "p",
    }


def test_marks_reach_arrays_maps_unions_named_references_and_recursive_records() -> None:
    masked = redact(_customer(0), [_version(NESTED)])

    text = json.dumps(masked)
    assert "@example.org" not in text
    assert "4111111111111111" not in text
    level = masked
    for depth in range(3):
        assert level["id"] == f"c{depth}"
        assert level["contacts"] == [{"email": MASK, "kind": "work"}]
        assert level["by_label"] == {"home": {"email": MASK, "kind": "home"}}
        assert level["primary"] == {"email": MASK, "kind": "main"}
        assert (level["card"], level["secret_note"], level["public_note"]) == (MASK, MASK, "p")
        level = level["partner"]
    assert level is None


def test_a_marked_record_field_is_masked_whole() -> None:
    schema = json.loads(json.dumps(NESTED))
    schema["fields"][3]["sensitive"] = True
    masked = redact(_customer(2), [_version(schema)])
    assert masked["primary"] == MASK


def test_sensitive_fields_and_field_paths_list_nested_fields_once() -> None:
    version = _version(NESTED)
    assert sensitive_fields(version) == [
        "contacts.email",
        "by_label.email",
        "primary.email",
        "card",
        "secret_note",
    ]
    assert "partner.id" not in field_paths(version)  # a recursive type is followed once
    assert "contacts.kind" in field_paths(version)


# -- fields named by the caller ------------------------------------------------------------


LEVELS = ("", "partner.", "partner.partner.")


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("id", {f"{level}id" for level in LEVELS}),  # a plain name: at any depth
        (
            "kind",
            {
                f"{level}{path}"
                for level in LEVELS
                for path in ("contacts.kind", "by_label.home.kind", "primary.kind")
            },
        ),
        ("contacts.kind", {"contacts.kind"}),  # a path from the root, through the array
        ("by_label.home.kind", {"by_label.home.kind"}),  # a map key is a step of the path
        ("partner.partner.id", {"partner.partner.id"}),
        ("contacts.nope", set()),
    ],
)
def test_named_fields_are_masked_by_name_or_dotted_path(name: str, masked: set[str]) -> None:
    assert _masked_paths(redact(_customer(0), [], [name])) == masked


def _masked_paths(datum: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    items = datum.items() if isinstance(datum, dict) else []
    for key, value in items:
        path = f"{prefix}{key}"
        if value == MASK:
            found.add(path)
        elif isinstance(value, list):
            for item in value:
                found |= _masked_paths(item, f"{path}.")
        elif isinstance(value, dict):
            found |= _masked_paths(value, f"{path}.")
    return found


def test_unknown_fields_are_the_names_no_contract_has() -> None:
    contracts = load_contracts(AVRO)
    wanted = ["line1", "shipping_address.city", "shiping_address.city", "emial", "lines.sku"]
    assert unknown_fields(wanted, contracts) == ["shiping_address.city", "emial"]
