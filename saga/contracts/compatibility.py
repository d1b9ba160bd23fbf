"""Schema evolution rules: can one contract version read data written with another?

The checks follow the schema resolution of the Avro 1.12 specification (the reader's schema
against the writer's):

* named types (record, enum, fixed) match by unqualified name, or when the writer's full
  name is one of the reader's aliases; aliases of named types are full names, and a relative
  alias is in the type's own namespace (``"aliases": ["other.Addr"]`` does not match
  ``acme.Addr``). Field aliases are plain names;
* a reader field missing from the writer needs a default; a writer field missing from the
  reader is skipped;
* types must be equal or promoted: int→long→float→double, string↔bytes;
* enums: every writer symbol must be a reader symbol unless the reader has a default;
* unions: each writer branch is read by the first reader branch it matches;
* fixed sizes are equal, two decimals have the same precision and scale; arrays and maps
  resolve their items and values.

Beyond the specification, on purpose and by name (each finding names the rule):

* ``strict-logical-types`` (on by default; ``strict_logical_types=False``, or
  ``saga schemas check --no-strict-logical-types``, turns it off): adding, removing or
  changing a known logical type (timestamp and time precision, date, uuid, duration…) is
  refused although the specification ignores logical types in resolution, because the same
  number would be read with another meaning: a timestamp-millis read as timestamp-micros is
  another instant. Unknown (and invalid) logical types are ignored, as the specification says.

Warnings never fail a check: they name changes that resolve but fail on some values (bytes
read as string fail on bytes that are not UTF-8).

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

from saga.contracts.schemas import Contracts, SchemaVersion
from saga.errors import CompatibilityError, ConfigError

__all__ = [
    "STRICT_LOGICAL_TYPES",
    "CheckReport",
    "CompatibilityWarning",
    "Incompatibility",
    "Level",
    "check_contracts",
    "check_pair",
    "parse_level",
]

STRICT_LOGICAL_TYPES = "strict-logical-types"
"""The name of the rule that refuses logical type changes the specification would allow."""

_PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "bytes", "string"))
_NAMED = frozenset(("record", "enum", "fixed", "error"))
_COMPLEX = frozenset(("record", "enum", "fixed", "array", "map", "error"))
# writer type → reader types that can read it (Avro promotions)
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset(("long", "float", "double")),
    "long": frozenset(("float", "double")),
    "float": frozenset(("double",)),
    "string": frozenset(("bytes",)),
    "bytes": frozenset(("string",)),
}
# The specification's logical types and the Avro types each may annotate; anything else
# (an unknown name, or a known one on another type) is ignored, as the specification says.
_LOGICAL_TYPES: dict[str, frozenset[str]] = {
    "decimal": frozenset(("bytes", "fixed")),
    "big-decimal": frozenset(("bytes",)),
    "uuid": frozenset(("string", "fixed")),
    "date": frozenset(("int",)),
    "time-millis": frozenset(("int",)),
    "time-micros": frozenset(("long",)),
    "timestamp-millis": frozenset(("long",)),
    "timestamp-micros": frozenset(("long",)),
    "timestamp-nanos": frozenset(("long",)),
    "local-timestamp-millis": frozenset(("long",)),
    "local-timestamp-micros": frozenset(("long",)),
    "local-timestamp-nanos": frozenset(("long",)),
    "duration": frozenset(("fixed",)),
}
_FIXED_SIZES = {"uuid": 16, "duration": 12}


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
    strictness: str | None = None
    """The rule beyond the Avro specification that flagged it (``strict-logical-types``),
    or None when the specification's resolution rules fail."""

    def __str__(self) -> str:
        if self.rule == "BACKWARD":
            why = f"v{self.new_version} cannot read data written with v{self.old_version}"
        else:
            why = f"v{self.old_version} readers cannot read data written with v{self.new_version}"
        rule = "" if self.strictness is None else f" [rule {self.strictness}]"
        return f"{self.schema}: {self.problem}{rule} ({self.rule}: {why}, see {self.against.name})"


@dataclass(frozen=True)
class CompatibilityWarning:
    """A change the specification allows that still fails on some values."""

    schema: Path
    against: Path
    rule: str
    field: str
    problem: str
    new_version: int = 0
    old_version: int = 0

    def __str__(self) -> str:
        if self.rule == "BACKWARD":
            who = f"v{self.new_version} reading data written with v{self.old_version}"
        else:
            who = f"v{self.old_version} readers reading data written with v{self.new_version}"
        return f"{self.schema}: {self.problem} ({self.rule}: {who}, see {self.against.name})"


@dataclass
class CheckReport:
    """The outcome of checking a contract folder."""

    level: Level
    schemas: int = 0
    pairs: int = 0
    incompatibilities: list[Incompatibility] = field(default_factory=list)
    warnings: list[CompatibilityWarning] = field(default_factory=list)
    """Changes that pass but may fail on some data; they never make the report fail."""

    @property
    def ok(self) -> bool:
        """True when no rule is broken (warnings do not count)."""
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
    contracts: Contracts,
    level: Level | str = Level.BACKWARD_TRANSITIVE,
    *,
    strict_logical_types: bool = True,
) -> CheckReport:
    """Check every version of every contract against the earlier ones, at ``level``.

    ``strict_logical_types=False`` drops the ``strict-logical-types`` rule and checks only
    what the Avro specification requires.
    """
    level = parse_level(level)
    report = CheckReport(level=level, schemas=len(contracts))
    for name in contracts.names():
        history = contracts.versions(name)
        for index, new in enumerate(history):
            olds = history[:index] if level.transitive else history[max(0, index - 1) : index]
            for old in olds:
                report.pairs += 1
                found, warned = _check(old, new, level, strict_logical_types)
                report.incompatibilities.extend(found)
                report.warnings.extend(warned)
    return report


def check_pair(
    old: SchemaVersion,
    new: SchemaVersion,
    level: Level | str,
    *,
    strict_logical_types: bool = True,
) -> list[Incompatibility]:
    """The rules of ``level`` (its direction only) that ``new`` breaks against ``old``."""
    return _check(old, new, parse_level(level), strict_logical_types)[0]


def _check(
    old: SchemaVersion, new: SchemaVersion, level: Level, strict_logical_types: bool
) -> tuple[list[Incompatibility], list[CompatibilityWarning]]:
    found: list[Incompatibility] = []
    warned: list[CompatibilityWarning] = []
    for rule in level.rules:
        new_reads = rule == "BACKWARD"
        reader, writer = (new, old) if new_reads else (old, new)
        walker = _Resolution(
            reader.named,
            writer.named,
            new_reads=new_reads,
            strict_logical_types=strict_logical_types,
        )
        walker.resolve(reader.parsed, writer.parsed, "")
        found.extend(
            Incompatibility(
                new.path, old.path, rule, path, problem, new.version, old.version, strictness
            )
            for path, problem, strictness in walker.problems
        )
        warned.extend(
            CompatibilityWarning(new.path, old.path, rule, path, problem, new.version, old.version)
            for path, problem in walker.warnings
        )
    return found, warned


class _Resolution:
    """Walks a reader schema against a writer schema, collecting what cannot be read."""

    def __init__(
        self,
        reader_named: Mapping[str, Any],
        writer_named: Mapping[str, Any],
        *,
        new_reads: bool,
        strict_logical_types: bool,
    ) -> None:
        self.reader_named = reader_named
        self.writer_named = writer_named
        self.new_reads = new_reads
        self.strict_logical_types = strict_logical_types
        self.problems: list[tuple[str, str, str | None]] = []
        self.warnings: list[tuple[str, str]] = []
        self._seen: set[tuple[str, str]] = set()

    def _add(self, path: str, problem: str, strictness: str | None = None) -> None:
        self.problems.append((path, problem, strictness))

    def _old_new(self, reader: Any, writer: Any) -> tuple[Any, Any]:
        return (writer, reader) if self.new_reads else (reader, writer)

    def _changed(self, path: str, reader: Any, writer: Any) -> None:
        old, new = self._old_new(reader, writer)
        self._add(path, f"{_label(path)} changed type {_describe(old)}→{_describe(new)}")

    def resolve(self, reader: Any, writer: Any, path: str) -> None:
        reader = _deref(reader, self.reader_named)
        writer = _deref(writer, self.writer_named)
        if isinstance(writer, list):
            self._resolve_writer_union(reader, writer, path)
            return
        if isinstance(reader, list):
            # The first reader branch the writer's type matches reads it (spec, unions).
            branch = next((b for b in reader if self._matches(b, writer)), None)
            if branch is None:
                self._changed(path, reader, writer)
            else:
                self.resolve(branch, writer, path)
            return
        reader_kind, writer_kind = _kind(reader), _kind(writer)
        if reader_kind == writer_kind and reader_kind in _NAMED:
            if not self._names_match(reader, writer):
                old, new = self._old_new(reader, writer)
                # Only a new reader can take aliases: old readers are already deployed.
                fix = f", or list {writer['name']} in its aliases" if self.new_reads else ""
                self._add(
                    path,
                    f"{_label(path, reader_kind)} renamed {_short(old)}→{_short(new)} "
                    f"(keep the name{fix})",
                )
                return
        elif not self._matches(reader, writer):
            self._changed(path, reader, writer)
            return
        if not self._logical_types_agree(reader, writer, path):
            return
        if writer_kind == "bytes" and reader_kind == "string":
            self.warnings.append(
                (path, f"{_label(path)} bytes read as string: fails on bytes that are not UTF-8")
            )
        if reader_kind == "record":
            self._resolve_record(reader, writer, path)
        elif reader_kind == "enum":
            self._resolve_enum(reader, writer, path)
        elif reader_kind == "fixed" and reader.get("size") != writer.get("size"):
            old, new = self._old_new(reader, writer)
            self._add(path, f"{_label(path, 'fixed')} changed size {old['size']}→{new['size']}")
        elif reader_kind == "array":
            self.resolve(reader["items"], writer["items"], f"{path}[]")
        elif reader_kind == "map":
            self.resolve(reader["values"], writer["values"], f"{path}{{}}")

    def _logical_types_agree(self, reader: Any, writer: Any, path: str) -> bool:
        reader_logical, writer_logical = _logical(reader), _logical(writer)
        if reader_logical == writer_logical:
            return True
        old, new = self._old_new(reader_logical, writer_logical)
        change = f"{_label(path)} changed logical type {old or 'none'}→{new or 'none'}"
        both_decimal = all(
            text is not None and text.startswith("decimal(")
            for text in (reader_logical, writer_logical)
        )
        if both_decimal:
            # The specification: two decimals match only with equal precision and scale.
            self._add(path, change)
            return False
        if self.strict_logical_types:
            self._add(path, change, STRICT_LOGICAL_TYPES)
            return False
        return True

    def _resolve_writer_union(self, reader: Any, writer: list[Any], path: str) -> None:
        for branch in writer:
            branch = _deref(branch, self.writer_named)
            if isinstance(reader, list):
                match = next((b for b in reader if self._matches(b, branch)), None)
                if match is None:
                    verb = "removed" if self.new_reads else "added"
                    self._add(path, f"{_label(path)} {verb} union branch {_describe(branch)}")
                else:
                    self.resolve(match, branch, path)
            elif self._matches(reader, branch):
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
            # Field aliases are plain names; the field's own name wins over an alias.
            names = [name, *reader_field.get("aliases", [])]
            writer_field = next((writer_fields[n] for n in names if n in writer_fields), None)
            field_path = f"{path}.{name}" if path else name
            clash = [a for a in names[1:] if a in writer_fields]
            if name in writer_fields and clash:
                # Renaming the writer's `a` to `b` by alias would give it two fields `b`;
                # readers disagree on which one they read (fastavro takes the alias).
                self._add(
                    field_path,
                    f"field `{field_path}` has the alias `{clash[0]}`, but the writer has "
                    f"both `{name}` and `{clash[0]}`: drop the alias",
                )
                continue
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

    def _matches(self, reader: Any, writer: Any) -> bool:
        """The specification's "match": same type or a promotion, named types by name."""
        reader = _deref(reader, self.reader_named)
        writer = _deref(writer, self.writer_named)
        if isinstance(reader, list) or isinstance(writer, list):
            return isinstance(reader, list) and isinstance(writer, list)
        reader_kind, writer_kind = _kind(reader), _kind(writer)
        if reader_kind == writer_kind:
            if reader_kind == "fixed" and reader.get("size") != writer.get("size"):
                return False
            return reader_kind not in _NAMED or self._names_match(reader, writer)
        return reader_kind in _PROMOTIONS.get(writer_kind, frozenset())

    @staticmethod
    def _names_match(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> bool:
        # Unqualified names match; otherwise the writer's full name must be a reader alias.
        writer_name = str(writer.get("name"))
        if _short(reader) == writer_name.rsplit(".", 1)[-1]:
            return True
        namespace = str(reader.get("name")).rpartition(".")[0]
        return writer_name in {_full_alias(str(a), namespace) for a in reader.get("aliases", ())}


def _full_alias(alias: str, namespace: str) -> str:
    """A type alias as a full name: a relative one is in the type's own namespace."""
    if "." in alias or not namespace:
        return alias
    return f"{namespace}.{alias}"


def _deref(schema: Any, named: Mapping[str, Any]) -> Any:
    if isinstance(schema, str) and schema not in _PRIMITIVES:
        return named.get(schema, schema)
    if isinstance(schema, dict) and isinstance(schema.get("type"), str | list | dict):
        inner = schema["type"]
        if isinstance(inner, list | dict) or (inner not in _PRIMITIVES and inner not in _COMPLEX):
            return _deref(inner, named)
    return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = str(schema.get("type"))
    return "record" if kind == "error" else kind


def _logical(schema: Any) -> str | None:
    """The schema's logical type as the specification knows it, else None."""
    if not isinstance(schema, dict) or "logicalType" not in schema:
        return None
    logical = str(schema["logicalType"])
    kind = _kind(schema)
    if kind not in _LOGICAL_TYPES.get(logical, ()):
        return None
    if kind == "fixed" and logical in _FIXED_SIZES and schema.get("size") != _FIXED_SIZES[logical]:
        return None
    if logical == "decimal":
        precision, scale = schema.get("precision"), schema.get("scale", 0)
        if isinstance(precision, int) and isinstance(scale, int) and 0 <= scale <= precision:
            return f"decimal({precision},{scale})" if precision > 0 else None
        return None
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
