"""Schema evolution rules: can one contract version read data written with another?

The checks follow Avro schema resolution (the reader's schema against the writer's):

* records match by name (or a reader alias); a reader field missing from the writer needs
  a default; a writer field missing from the reader is skipped;
* types must match, or be promoted: int→long→float→double, string↔bytes;
* enums: every writer symbol must be a reader symbol unless the reader has a default;
* unions: every writer branch must fit some reader branch;
* fixed sizes are equal; arrays and maps resolve their items and values;
* logical types must not change (Avro would read the bytes, but a timestamp-millis read as
  timestamp-micros is a different instant): stricter than plain resolution, on purpose.

Levels, as in Confluent's registry: BACKWARD (the new version reads data of the old one),
FORWARD (old readers read data of the new one), FULL (both); ``_TRANSITIVE`` checks against
every earlier version, otherwise only against the previous one. The default is
BACKWARD_TRANSITIVE: consumers upgrade first and must read anything still on the topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from saga.errors import CompatibilityError, ConfigError
from saga.schemas import Contracts, SchemaVersion

__all__ = [
    "CheckReport",
    "Incompatibility",
    "Level",
    "check_contracts",
    "check_pair",
    "parse_level",
]

_PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "bytes", "string"))
_NAMED = frozenset(("record", "enum", "fixed", "error"))
# writer type → reader types that can read it (Avro promotions)
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset(("long", "float", "double")),
    "long": frozenset(("float", "double")),
    "float": frozenset(("double",)),
    "string": frozenset(("bytes",)),
    "bytes": frozenset(("string",)),
}


class Level(StrEnum):
    """A compatibility level, named as in Confluent's schema registry."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        """Whether each version is checked against every earlier one."""
        return self.endswith("_TRANSITIVE")

    @property
    def rules(self) -> tuple[str, ...]:
        """The directions checked: ``BACKWARD``, ``FORWARD`` or both."""
        base = self.removesuffix("_TRANSITIVE")
        if base == "FULL":
            return ("BACKWARD", "FORWARD")
        return () if base == "NONE" else (base,)


def parse_level(text: str | Level) -> Level:
    """A level from its name, case-insensitive."""
    try:
        return Level(str(text).upper().replace("-", "_"))
    except ValueError:
        choices = ", ".join(level.value for level in Level)
        raise ConfigError(
            f"unknown compatibility level {text!r}: choose one of {choices}"
        ) from None


@dataclass(frozen=True)
class Incompatibility:
    """One rule broken between two versions of a contract."""

    schema: Path
    """The newer version's file."""
    against: Path
    """The older version's file."""
    rule: str
    """``BACKWARD`` (new reads old) or ``FORWARD`` (old reads new)."""
    field: str
    """Dotted path of the field, ``[]`` for array items, ``{}`` for map values."""
    problem: str
    new_version: int = 0
    old_version: int = 0

    def __str__(self) -> str:
        if self.rule == "BACKWARD":
            why = f"v{self.new_version} cannot read data written with v{self.old_version}"
        else:
            why = f"v{self.old_version} readers cannot read data written with v{self.new_version}"
        return f"{self.schema}: {self.problem} ({self.rule}: {why}, see {self.against.name})"


@dataclass
class CheckReport:
    """The outcome of checking a contract folder."""

    level: Level
    schemas: int = 0
    pairs: int = 0
    incompatibilities: list[Incompatibility] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.incompatibilities

    def raise_for_incompatibilities(self) -> None:
        """Raise :class:`CompatibilityError` listing every broken rule."""
        if self.incompatibilities:
            lines = "\n".join(f"  {item}" for item in self.incompatibilities)
            raise CompatibilityError(
                f"{len(self.incompatibilities)} change(s) break {self.level.value}:\n{lines}\n"
                "publish a compatible version instead (add fields with defaults, keep types)"
            )


def check_contracts(
    contracts: Contracts, level: Level | str = Level.BACKWARD_TRANSITIVE
) -> CheckReport:
    """Check every version of every contract against the earlier ones, at ``level``."""
    level = parse_level(level)
    report = CheckReport(level=level, schemas=len(contracts))
    for name in contracts.names():
        history = contracts.versions(name)
        for index, new in enumerate(history):
            olds = history[:index] if level.transitive else history[max(0, index - 1) : index]
            for old in olds:
                report.pairs += 1
                report.incompatibilities.extend(check_pair(old, new, level))
    return report


def check_pair(old: SchemaVersion, new: SchemaVersion, level: Level | str) -> list[Incompatibility]:
    """The rules of ``level`` (its direction only) that ``new`` breaks against ``old``."""
    found: list[Incompatibility] = []
    for rule in parse_level(level).rules:
        new_reads = rule == "BACKWARD"
        reader, writer = (new, old) if new_reads else (old, new)
        walker = _Resolution(reader.named, writer.named, new_reads=new_reads)
        walker.resolve(reader.parsed, writer.parsed, "")
        found.extend(
            Incompatibility(
                schema=new.path,
                against=old.path,
                rule=rule,
                field=path,
                problem=problem,
                new_version=new.version,
                old_version=old.version,
            )
            for path, problem in walker.problems
        )
    return found


class _Resolution:
    """Walks a reader schema against a writer schema, collecting (path, problem) pairs."""

    def __init__(
        self, reader_named: Mapping[str, Any], writer_named: Mapping[str, Any], *, new_reads: bool
    ) -> None:
        self.reader_named = reader_named
        self.writer_named = writer_named
        self.new_reads = new_reads
        self.problems: list[tuple[str, str]] = []
        self._seen: set[tuple[str, str]] = set()

    def _add(self, path: str, problem: str) -> None:
        self.problems.append((path, problem))

    def _changed(self, path: str, reader: Any, writer: Any) -> None:
        old, new = (writer, reader) if self.new_reads else (reader, writer)
        self._add(path, f"{_label(path)} changed type {_describe(old)}→{_describe(new)}")

    def resolve(self, reader: Any, writer: Any, path: str) -> None:
        reader = _deref(reader, self.reader_named)
        writer = _deref(writer, self.writer_named)
        if isinstance(writer, list):
            self._resolve_writer_union(reader, writer, path)
            return
        if isinstance(reader, list):
            branch = next((b for b in reader if self._fits(b, writer)), None)
            if branch is None:
                self._changed(path, reader, writer)
            else:
                self.resolve(branch, writer, path)
            return
        reader_kind, writer_kind = _kind(reader), _kind(writer)
        if (
            reader_kind == writer_kind
            and reader_kind in _NAMED
            and not self._names_match(reader, writer)
        ):
            old, new = (writer, reader) if self.new_reads else (reader, writer)
            self._add(
                path,
                f"{_label(path, reader_kind)} renamed {_short(old)}→{_short(new)} "
                "(keep the name, or list the old one in aliases)",
            )
            return
        if not self._fits(reader, writer):
            self._changed(path, reader, writer)
            return
        if _logical(reader) != _logical(writer):
            old, new = (writer, reader) if self.new_reads else (reader, writer)
            self._add(
                path,
                f"{_label(path)} changed logical type {_logical(old) or 'none'}→"
                f"{_logical(new) or 'none'}",
            )
            return
        if reader_kind == "record":
            self._resolve_record(reader, writer, path)
        elif reader_kind == "enum":
            self._resolve_enum(reader, writer, path)
        elif reader_kind == "fixed" and reader.get("size") != writer.get("size"):
            old, new = (writer, reader) if self.new_reads else (reader, writer)
            self._add(path, f"{_label(path, 'fixed')} changed size {old['size']}→{new['size']}")
        elif reader_kind == "array":
            self.resolve(reader["items"], writer["items"], f"{path}[]")
        elif reader_kind == "map":
            self.resolve(reader["values"], writer["values"], f"{path}{{}}")

    def _resolve_writer_union(self, reader: Any, writer: list[Any], path: str) -> None:
        for branch in writer:
            branch = _deref(branch, self.writer_named)
            if isinstance(reader, list):
                match = next((b for b in reader if self._fits(b, branch)), None)
                if match is None:
                    verb = "removed" if self.new_reads else "added"
                    self._add(path, f"{_label(path)} {verb} union branch {_describe(branch)}")
                else:
                    self.resolve(match, branch, path)
            elif self._fits(reader, branch):
                self.resolve(reader, branch, path)
            else:
                self._changed(path, reader, writer)
                return

    def _resolve_record(
        self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str
    ) -> None:
        key = (str(reader.get("name")), str(writer.get("name")))
        if key in self._seen:  # recursive types: each pair of records is walked once
            return
        self._seen.add(key)
        writer_fields = {f["name"]: f for f in writer.get("fields", [])}
        for reader_field in reader.get("fields", []):
            name = reader_field["name"]
            names = [name, *reader_field.get("aliases", [])]
            writer_field = next((writer_fields[n] for n in names if n in writer_fields), None)
            field_path = f"{path}.{name}" if path else name
            if writer_field is not None:
                self.resolve(reader_field["type"], writer_field["type"], field_path)
            elif "default" not in reader_field:
                verb = "added" if self.new_reads else "removed"
                self._add(field_path, f"field `{field_path}` {verb} without default")

    def _resolve_enum(
        self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str
    ) -> None:
        if "default" in reader:
            return
        symbols = set(reader.get("symbols", []))
        for symbol in writer.get("symbols", []):
            if symbol not in symbols:
                if self.new_reads:
                    problem = f"removed symbol {symbol} (and the enum has no default)"
                else:
                    problem = f"added symbol {symbol} (and the old enum has no default)"
                self._add(path, f"{_label(path, 'enum')} {problem}")

    def _fits(self, reader: Any, writer: Any) -> bool:
        """Shallow match: could the reader's type read the writer's (names, promotions)?"""
        reader = _deref(reader, self.reader_named)
        writer = _deref(writer, self.writer_named)
        if isinstance(reader, list) or isinstance(writer, list):
            return isinstance(reader, list) and isinstance(writer, list)
        reader_kind, writer_kind = _kind(reader), _kind(writer)
        if reader_kind == writer_kind:
            return reader_kind not in _NAMED or self._names_match(reader, writer)
        return reader_kind in _PROMOTIONS.get(writer_kind, frozenset())

    @staticmethod
    def _names_match(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> bool:
        writer_name = str(writer.get("name"))
        accepted = {str(reader.get("name")), *map(str, reader.get("aliases", []))}
        short = {name.rsplit(".", 1)[-1] for name in accepted}
        return writer_name in accepted or writer_name.rsplit(".", 1)[-1] in short


def _deref(schema: Any, named: Mapping[str, Any]) -> Any:
    if isinstance(schema, str) and schema not in _PRIMITIVES:
        return named.get(schema, schema)
    if isinstance(schema, dict) and isinstance(schema.get("type"), str | list | dict):
        inner = schema["type"]
        if isinstance(inner, list | dict) or (inner not in _PRIMITIVES and inner not in _COMPLEX):
            return _deref(inner, named)
    return schema


_COMPLEX = frozenset(("record", "enum", "fixed", "array", "map", "error"))


def _kind(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = str(schema.get("type"))
    return "record" if kind == "error" else kind


def _logical(schema: Any) -> str | None:
    if not isinstance(schema, dict) or "logicalType" not in schema:
        return None
    logical = str(schema["logicalType"])
    if logical == "decimal":
        return f"decimal({schema.get('precision')},{schema.get('scale', 0)})"
    return logical


def _short(schema: Mapping[str, Any]) -> str:
    return str(schema.get("name")).rsplit(".", 1)[-1]


def _describe(schema: Any) -> str:
    if isinstance(schema, list):
        return "union[" + ", ".join(_describe(branch) for branch in schema) + "]"
    if isinstance(schema, str):
        return schema if schema in _PRIMITIVES else schema.rsplit(".", 1)[-1]
    logical = _logical(schema)
    if logical is not None:
        return logical
    kind = _kind(schema)
    if kind == "array":
        return f"array<{_describe(schema['items'])}>"
    if kind == "map":
        return f"map<{_describe(schema['values'])}>"
    if kind in _NAMED:
        return f"{kind} {_short(schema)}"
    return kind


def _label(path: str, kind: str = "field") -> str:
    if not path:
        return "the record" if kind in ("field", "record") else f"the {kind}"
    return f"{kind} `{path}`" if kind in ("enum", "fixed") else f"field `{path}`"
