"""The contracts in avro/: valid, compatible, and in step with the generated models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import services.contracts
from saga.cli._schemas import schemas_app
from saga.contracts.codegen import generate_module
from saga.contracts.compatibility import check_contracts
from saga.contracts.events import contract_of, registered_events
from saga.contracts.schemas import load_contracts, schema_fingerprint
from saga.errors import DefinitionError, UnknownSchemaError
from tests._samples import AVRO, ROOT, write_contract

GENERATED = ROOT / "services" / "contracts" / "_generated.py"
DOMAIN = {
    "shop.orders": {"OrderPlaced", "OrderApproved", "OrderRejected", "OrderCancelled"},
    "shop.inventory": {
        "ReserveStock",
        "StockReserved",
        "StockReservationFailed",
        "ReleaseStock",
        "StockReleased",
    },
    "shop.payments": {
        "AuthorizePayment",
        "PaymentAuthorized",
        "PaymentDeclined",
        "VoidPayment",
        "CapturePayment",
        "PaymentCaptured",
        "CaptureFailed",
        "PaymentRefunded",
    },
    "shop.shipping": {"ShipOrder", "ShipmentScheduled", "ShipmentFailed"},
}


def test_the_domain_has_every_saga_event_and_an_evolved_one() -> None:
    contracts = load_contracts(AVRO)
    expected = {f"{ns}.{name}" for ns, names in DOMAIN.items() for name in names}
    assert set(contracts.names()) == expected
    placed = contracts.versions("shop.orders.OrderPlaced")
    assert [v.version for v in placed] == [1, 2]
    v1_fields = {f["name"] for f in placed[0].schema["fields"]}
    added = [f for f in placed[1].schema["fields"] if f["name"] not in v1_fields]
    assert added, "v2 must add fields"
    assert all("default" in f for f in added)


def test_contracts_pass_the_ci_check_at_the_strictest_level() -> None:
    assert check_contracts(load_contracts(AVRO), "FULL_TRANSITIVE").ok
    result = CliRunner().invoke(schemas_app, ["check", str(AVRO)])
    assert result.exit_code == 0, result.output
    assert "compatible at BACKWARD_TRANSITIVE" in result.output


def test_generated_models_match_the_contracts() -> None:
    """Fails when avro/ changed without `saga schemas generate` (or the module was edited)."""
    expected = generate_module(load_contracts(AVRO))
    assert GENERATED.read_text(encoding="utf-8") == expected, (
        "services/contracts/_generated.py is stale: run `saga schemas generate`"
    )
    result = CliRunner().invoke(
        schemas_app, ["generate", str(AVRO), "--out", str(GENERATED), "--check"]
    )
    assert result.exit_code == 0, result.output


def test_generate_check_fails_on_a_stale_module(tmp_path: Path) -> None:
    stale = tmp_path / "_generated.py"
    stale.write_text(GENERATED.read_text(encoding="utf-8").replace("AvroLong", "int", 1))
    result = CliRunner().invoke(schemas_app, ["generate", str(AVRO), "-o", str(stale), "--check"])
    assert result.exit_code == 1
    assert "out of date" in result.output
    written = tmp_path / "fresh.py"
    assert (
        CliRunner().invoke(schemas_app, ["generate", str(AVRO), "-o", str(written)]).exit_code == 0
    )
    assert written.read_text(encoding="utf-8") == GENERATED.read_text(encoding="utf-8")


def test_every_contract_has_a_class_carrying_its_latest_version() -> None:
    contracts = load_contracts(AVRO)
    classes = registered_events()
    for name in contracts.names():
        cls = classes[name]
        assert cls.__module__ == "services.contracts._generated"
        schema = contract_of(cls)
        assert schema is not None
        assert schema == contracts.latest(name).schema
        assert schema_fingerprint(schema) == contracts.latest(name).fingerprint
    assert set(services.contracts.__all__) >= {n.rsplit(".", 1)[1] for n in contracts.names()}


def test_fingerprints_follow_the_avro_spec() -> None:
    # Test vector from the Avro specification: CRC-64-AVRO of "null" is 0x63dd24e7cc258f8a,
    # written little-endian in single-object encoding.
    assert schema_fingerprint("null") == bytes.fromhex("8a8f25cce724dd63")


def test_list_shows_every_version(tmp_path: Path) -> None:
    result = CliRunner().invoke(schemas_app, ["list", str(AVRO)])
    assert result.exit_code == 0, result.output
    assert result.output.count("shop.orders.OrderPlaced") == 2


RECORD = {"type": "record", "name": "Thing", "namespace": "acme", "fields": []}


def test_a_version_gap_is_refused(tmp_path: Path) -> None:
    write_contract(tmp_path, RECORD, 1)
    write_contract(tmp_path, RECORD, 3)
    with pytest.raises(DefinitionError, match=r"v2 is missing .*never deleted"):
        load_contracts(tmp_path)


def test_a_misplaced_contract_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Thing.v1.avsc").write_text(json.dumps(RECORD))
    with pytest.raises(DefinitionError, match=r"declares 'acme.Thing' .* says 'other.Thing'"):
        load_contracts(tmp_path)


@pytest.mark.parametrize(
    ("file_name", "text", "message"),
    [
        ("Thing.avsc", json.dumps(RECORD), "named <Name>.v<N>.avsc"),
        ("Thing.v1.avsc", "{not json", "not readable JSON"),
        ("Thing.v1.avsc", '"string"', "must be an Avro record"),
        ("Thing.v1.avsc", json.dumps({**RECORD, "fields": [{"name": "x"}]}), "not a valid Avro"),
    ],
)
def test_a_broken_contract_file_is_refused(
    tmp_path: Path, file_name: str, text: str, message: str
) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / file_name).write_text(text)
    with pytest.raises(DefinitionError, match=message):
        load_contracts(tmp_path)


def test_a_missing_folder_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="SAGA_SCHEMA_DIR"):
        load_contracts(tmp_path / "nope")


def test_unknown_names_and_fingerprints_say_what_to_do() -> None:
    contracts = load_contracts(AVRO)
    with pytest.raises(UnknownSchemaError, match=r"avro/shop/orders/Nope.v1.avsc"):
        contracts.latest("shop.orders.Nope")
    with pytest.raises(UnknownSchemaError, match="update its contracts"):
        contracts.by_fingerprint(b"\x00" * 8)
