"""The compatibility checker on fixture pairs that each break one rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from saga.cli._schemas import schemas_app
from saga.compat import Level, check_contracts, parse_level
from saga.errors import CompatibilityError, ConfigError
from saga.schemas import load_contracts

from ._samples import FIXTURES, write_contract

# case → (a level that must fail, the message naming the field and the rule)
BROKEN = {
    "field_added_without_default": ("BACKWARD", "field `currency` added without default"),
    "field_removed_without_default": ("FORWARD", "field `amount` removed without default"),
    "type_changed": ("BACKWARD", "field `amount` changed type long→string"),
    "type_narrowed": ("BACKWARD", "field `amount` changed type long→int"),
    "type_promoted": ("FORWARD", "field `amount` changed type int→long"),
    "enum_symbol_removed": ("BACKWARD", "enum `status` removed symbol VOID"),
    "enum_symbol_added": ("FORWARD", "enum `status` added symbol VOID"),
    "union_branch_removed": ("BACKWARD", "field `note` removed union branch long"),
    "nullable_made_required": ("BACKWARD", "field `note` changed type union[null, string]→string"),
    "record_renamed": ("BACKWARD", "field `address` renamed Address→Location"),
    "nested_field_added_without_default": ("BACKWARD", "field `lines[].sku` added without default"),
    "map_values_changed": ("BACKWARD", "field `totals{}` changed type long→string"),
    "fixed_size_changed": ("BACKWARD", "fixed `hash` changed size 16→8"),
    "logical_type_changed": (
        "BACKWARD",
        "field `at` changed logical type timestamp-millis→timestamp-micros",
    ),
    "decimal_scale_changed": ("FORWARD", "changed logical type decimal(10,2)→decimal(10,3)"),
    "transitive_only": ("BACKWARD_TRANSITIVE", "field `currency` added without default"),
}
# cases that only break one direction pass the other one
ONE_WAY = {
    "field_added_without_default": "FORWARD",
    "field_removed_without_default": "BACKWARD",
    "type_narrowed": "FORWARD",
    "type_promoted": "BACKWARD",
    "enum_symbol_removed": "FORWARD",
    "enum_symbol_added": "BACKWARD",
    "union_branch_removed": "FORWARD",
    "nullable_made_required": "FORWARD",
    "nested_field_added_without_default": "FORWARD",
    "transitive_only": "BACKWARD",
}


def test_every_fixture_folder_is_covered() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders == set(BROKEN)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_checker_names_the_file_field_and_rule(case: str) -> None:
    level, message = BROKEN[case]
    report = check_contracts(load_contracts(FIXTURES / case), level)
    assert not report.ok
    texts = [str(item) for item in report.incompatibilities]
    assert any(message in text for text in texts), texts
    rule = level.removesuffix("_TRANSITIVE")
    for text in texts:
        assert f"({rule}: " in text
        assert "fixtures/Payment.v" in text
    with pytest.raises(CompatibilityError, match=f"break {level}"):
        report.raise_for_incompatibilities()


@pytest.mark.parametrize("case", sorted(ONE_WAY))
def test_a_one_way_change_passes_the_other_direction(case: str) -> None:
    assert check_contracts(load_contracts(FIXTURES / case), ONE_WAY[case]).ok


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_full_transitive_catches_every_fixture_and_none_catches_nothing(case: str) -> None:
    contracts = load_contracts(FIXTURES / case)
    assert not check_contracts(contracts, "FULL_TRANSITIVE").ok
    assert check_contracts(contracts, "NONE").ok


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_cli_exits_non_zero_with_the_message(case: str) -> None:
    level, message = BROKEN[case]
    result = CliRunner().invoke(schemas_app, ["check", str(FIXTURES / case), "--level", level])
    assert result.exit_code == 1
    assert message in result.output


def test_the_cli_default_level_is_backward_transitive() -> None:
    result = CliRunner().invoke(schemas_app, ["check", str(FIXTURES / "transitive_only")])
    assert result.exit_code == 1
    assert "BACKWARD_TRANSITIVE" in result.output


def test_levels_parse_case_insensitively_and_refuse_typos() -> None:
    assert parse_level("full-transitive") is Level.FULL_TRANSITIVE
    assert Level.FULL.rules == ("BACKWARD", "FORWARD")
    assert not Level.FULL.transitive
    with pytest.raises(ConfigError, match="choose one of NONE, BACKWARD"):
        parse_level("BACKWARDS")


BASE: dict[str, Any] = {
    "type": "record",
    "name": "Payment",
    "namespace": "acme",
    "fields": [
        {"name": "id", "type": "string"},
        {
            "name": "address",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [{"name": "city", "type": "string"}],
            },
        },
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["A", "B"]}},
    ],
}


def _pair(tmp_path: Path, new: dict[str, Any]) -> bool:
    write_contract(tmp_path, BASE, 1)
    write_contract(tmp_path, new, 2)
    return check_contracts(load_contracts(tmp_path), "FULL").ok


def test_aliases_let_a_record_and_a_field_be_renamed_backward(tmp_path: Path) -> None:
    new = copy.deepcopy(BASE)
    fields: list[dict[str, Any]] = new["fields"]
    fields[0] = {"name": "payment_id", "type": "string", "aliases": ["id"]}
    fields[1] = {
        "name": "address",
        "type": {
            "type": "record",
            "name": "Location",
            "aliases": ["acme.Address"],
            "fields": [{"name": "city", "type": "string"}],
        },
    }
    write_contract(tmp_path, BASE, 1)
    write_contract(tmp_path, new, 2)
    contracts = load_contracts(tmp_path)
    assert check_contracts(contracts, "BACKWARD").ok
    assert not check_contracts(contracts, "FORWARD").ok  # old readers know no alias


def test_an_enum_default_absorbs_new_symbols(tmp_path: Path) -> None:
    base_status = {"type": "enum", "name": "Status", "symbols": ["A", "B"], "default": "A"}
    base = copy.deepcopy(BASE)
    base["fields"][2]["type"] = base_status
    new = copy.deepcopy(base)
    new["fields"][2]["type"] = {**base_status, "symbols": ["A", "B", "C"]}
    write_contract(tmp_path, base, 1)
    write_contract(tmp_path, new, 2)
    assert check_contracts(load_contracts(tmp_path), "FULL_TRANSITIVE").ok


def test_adding_a_field_with_a_default_is_fully_compatible(tmp_path: Path) -> None:
    new = copy.deepcopy(BASE)
    new["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    assert _pair(tmp_path, new)
