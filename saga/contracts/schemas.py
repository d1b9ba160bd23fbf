"""The contract folder: every published version of every event's Avro schema.

Layout (the path mirrors the namespace; one file per event type and version)::

    avro/
      shop/orders/OrderPlaced.v1.avsc      {"type": "record", "namespace": "shop.orders",
      shop/orders/OrderPlaced.v2.avsc       "name": "OrderPlaced", ...}

Versions are numbered from 1 without gaps and a published version is never edited or
removed: readers resolve the writer's schema from this folder by fingerprint (the
CRC-64-AVRO of the parsing canonical form, as in Avro single-object encoding).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint as _fingerprint
from fastavro.schema import parse_schema, to_parsing_canonical_form

from saga.contracts._defaults import default_problems
from saga.contracts.events import Event, contract_of
from saga.contracts.topics import contract_role
from saga.errors import DefinitionError, UnknownSchemaError

__all__ = [
    "Contracts",
    "SchemaVersion",
    "canonical_form",
    "contracts_of",
    "load_contracts",
    "parse_contract",
    "schema_fingerprint",
]

_FILE_NAME = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def canonical_form(schema: Mapping[str, Any] | str) -> str:
    """The Avro parsing canonical form of a schema (JSON text)."""
    return str(to_parsing_canonical_form(schema if isinstance(schema, str) else dict(schema)))


def schema_fingerprint(schema: Mapping[str, Any] | str) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of a schema's canonical form."""
    # fastavro renders the 64-bit Rabin fingerprint as hex of its little-endian bytes.
    return bytes.fromhex(_fingerprint(canonical_form(schema), "CRC-64-AVRO"))


def parse_contract(schema: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """fastavro's parsed form of a schema and its named types; ``where`` names it in errors."""
    named: dict[str, Any] = {}
    try:
        # Defaults are checked below, all of them, with messages that name the field.
        parsed = parse_schema(dict(schema), named_schemas=named, _ignore_default_error=True)
    except Exception as exc:  # fastavro raises several unrelated types for a bad schema
        raise DefinitionError(f"{where}: not a valid Avro schema: {exc}") from exc
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise DefinitionError(f"{where}: an event contract must be an Avro record")
    problems = default_problems(parsed, named)
    if problems:
        # A wrong default would pass every check and fail when a reader first needs it.
        raise DefinitionError(f"{where}: {'; '.join(problems)}")
    return parsed, named


@dataclass(frozen=True, eq=False)
class SchemaVersion:
    """One published version of one event's contract."""

    name: str
    """Avro full name, e.g. ``shop.orders.OrderPlaced``."""
    version: int
    path: Path
    schema: Mapping[str, Any] = field(repr=False)
    """The schema as written in the file (parsed JSON)."""
    parsed: dict[str, Any] = field(repr=False)
    """fastavro's parsed form, ready for the reader and writer."""
    named: dict[str, Any] = field(repr=False)
    """Named types (records, enums, fixed) defined in this schema, by full name."""
    canonical: str = field(repr=False)
    fingerprint: bytes = field(repr=False)

    @property
    def ref(self) -> str:
        """The schema reference carried in the ``schema`` header: ``name/vN``."""
        return f"{self.name}/v{self.version}"

    @classmethod
    def from_schema(
        cls, schema: Mapping[str, Any], *, version: int = 0, path: Path | None = None
    ) -> SchemaVersion:
        """A version built from a schema dict (not necessarily from the folder)."""
        where = str(path) if path is not None else "schema"
        parsed, named = parse_contract(schema, where)
        return cls(
            name=str(parsed["name"]),
            version=version,
            path=path if path is not None else Path(where),
            schema=schema,
            parsed=parsed,
            named=named,
            canonical=canonical_form(parsed),
            fingerprint=schema_fingerprint(parsed),
        )


class Contracts:
    """Every version of every contract in a folder, indexed by name and by fingerprint."""

    def __init__(self, root: Path, versions: Mapping[str, tuple[SchemaVersion, ...]]) -> None:
        self.root = root
        self._versions = dict(sorted(versions.items()))
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for history in self._versions.values():
            # Versions that differ only in docs/defaults share a fingerprint (same bytes on
            # the wire); the newest one wins.
            for version in history:
                self._by_fingerprint[version.fingerprint] = version

    def names(self) -> list[str]:
        """Full names of every event with a contract, sorted."""
        return list(self._versions)

    def __iter__(self) -> Iterator[SchemaVersion]:
        for history in self._versions.values():
            yield from history

    def __len__(self) -> int:
        return sum(len(history) for history in self._versions.values())

    def versions(self, name: str) -> tuple[SchemaVersion, ...]:
        """Every published version of one event, oldest first."""
        try:
            return self._versions[name]
        except KeyError:
            raise UnknownSchemaError(
                f"no contract for {name!r} in {self.root}: add {_expected_path(self.root, name)}"
            ) from None

    def latest(self, name: str) -> SchemaVersion:
        """The newest version of one event's contract."""
        return self.versions(name)[-1]

    def by_fingerprint(self, fingerprint: bytes) -> SchemaVersion:
        """The version whose CRC-64-AVRO fingerprint is ``fingerprint``."""
        try:
            return self._by_fingerprint[fingerprint]
        except KeyError:
            raise UnknownSchemaError(
                f"no schema in {self.root} has fingerprint {fingerprint.hex()}: the producer "
                "uses a contract version this service does not have; update its contracts"
            ) from None

    def find(self, schema: Mapping[str, Any]) -> SchemaVersion | None:
        """The version whose file holds exactly ``schema``, if any."""
        name = schema.get("name")
        namespace = schema.get("namespace")
        full = f"{namespace}.{name}" if namespace and "." not in str(name) else str(name)
        for version in reversed(self._versions.get(full, ())):
            if version.schema == schema:
                return version
        return None


def contracts_of(events: Iterable[type[Event]]) -> Contracts:
    """Contracts made of the schemas event classes carry (one version each), for code that
    declares its events inline instead of in ``avro/`` (quick starts, tests)."""
    versions: dict[str, tuple[SchemaVersion, ...]] = {}
    for cls in events:
        schema = contract_of(cls)
        if schema is None:
            raise DefinitionError(f"event {cls.__qualname__} carries no schema: declare schema=")
        version = SchemaVersion.from_schema(schema, version=1, path=Path(f"<{cls.__qualname__}>"))
        versions[version.name] = (version,)
    return Contracts(Path("<declared in code>"), versions)


def _expected_path(root: Path, name: str) -> Path:
    *namespace, short = name.split(".")
    return root.joinpath(*namespace, f"{short}.v1.avsc")


def load_contracts(root: Path | str) -> Contracts:
    """Load and check every ``.avsc`` under ``root``; a misplaced or invalid file raises."""
    root = Path(root)
    if not root.is_dir():
        raise DefinitionError(
            f"contract folder {root} does not exist: create it or set SAGA_SCHEMA_DIR"
        )
    found: dict[str, dict[int, SchemaVersion]] = {}
    for path in sorted(root.rglob("*.avsc")):
        version = _load_file(root, path)
        found.setdefault(version.name, {})[version.version] = version
    histories: dict[str, tuple[SchemaVersion, ...]] = {}
    for name, by_number in found.items():
        numbers = sorted(by_number)
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
            raise DefinitionError(
                f"{name}: versions must run v1, v2, ... without gaps, but "
                f"{', '.join(f'v{n}' for n in missing)} is missing in {root}: published "
                "versions are never deleted"
            )
        histories[name] = tuple(by_number[n] for n in numbers)
        _check_roles(histories[name])
    return Contracts(root, histories)


def _check_roles(history: tuple[SchemaVersion, ...]) -> None:
    """Every version of one event type declares the same role: the role picks the topic,
    and writers of every version must meet their readers on one topic."""
    roles = {v.version: contract_role(v.schema, str(v.path)) for v in history}
    if len(set(roles.values())) > 1:
        listed = ", ".join(f"v{n} {role or 'none'}" for n, role in roles.items())
        raise DefinitionError(
            f"{history[0].name}: its versions declare different roles ({listed}): give every "
            'version the same "role" (it picks the topic all versions travel on)'
        )


def _load_file(root: Path, path: Path) -> SchemaVersion:
    match = _FILE_NAME.match(path.name)
    if match is None:
        raise DefinitionError(
            f"{path}: contract files are named <Name>.v<N>.avsc, e.g. OrderPlaced.v1.avsc"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DefinitionError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("type") != "record":
        raise DefinitionError(f"{path}: an event contract must be an Avro record schema")
    namespace = ".".join(path.relative_to(root).parent.parts)
    expected = f"{namespace}.{match['name']}" if namespace else match["name"]
    version = SchemaVersion.from_schema(raw, version=int(match["version"]), path=path)
    if version.name != expected:
        raise DefinitionError(
            f"{path}: declares {version.name!r} but its place in the folder says {expected!r}: "
            "the folder path mirrors the namespace and the file name is the record name"
        )
    return version
