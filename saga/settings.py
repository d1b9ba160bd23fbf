"""Typed, frozen settings read from ``SAGA_*`` environment variables.

Explicit settings always win over any discovered endpoint (Docker engine, native stack).
Secrets (the database password, SASL/SSL secrets in raw librdkafka options) never show
in ``repr``, logs or exceptions: use :meth:`Settings.redacted_kafka_options` and
:func:`redact_url` when printing, and :func:`redact_error` for the text of an error (a
driver's message may quote the URL it could not use). A setting that cannot be read raises
:class:`~saga.errors.ConfigError` naming the variable and the expected form, never the value.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, quote_plus, unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from saga.errors import ConfigError

_SECRET_OPTION = re.compile(r"(password|secret|\.pem$|jaas|token|credentials|oauthbearer\.config)")
REDACTED = "***"

KafkaValue = str | int | float | bool
WireFormat = Literal["single-object", "confluent"]


def is_secret_option(name: str) -> bool:
    """True for librdkafka option names whose values must never be printed."""
    return bool(_SECRET_OPTION.search(name.lower()))


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for display only)."""
    try:
        parsed = make_url(url)
    except Exception:  # an unparsable URL: show nothing of it
        return REDACTED
    return parsed.render_as_string(hide_password=True)


def redact_error(exc: BaseException, *secrets: str | SecretStr | None) -> str:
    """The text of ``exc`` on one line, with every secret replaced by ``***``.

    Each of ``secrets`` is a URL (``scheme://...``), whose password is masked, or a secret
    value (e.g. a ``sasl.password``), masked whole; ``None`` is skipped. Each is masked as
    written, percent-decoded and percent-encoded, since drivers quote URLs in any of these.
    Use it for every connection error that is raised again or logged.
    """
    text = " ".join(part for part in str(exc).split() if part) or type(exc).__name__
    return _mask(text, secrets)


def _mask(text: str, secrets: Iterable[str | SecretStr | None]) -> str:
    forms: set[str] = set()
    for secret in secrets:
        if secret is None:
            continue
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        found = _url_passwords(value) if _URL.match(value) else {value}
        for raw in found:
            forms.update(_spellings(raw))
    forms = {form for form in forms if form and form not in REDACTED}
    if not forms:
        return text
    # One pass, longest first: a shorter spelling never matches inside a replaced one.
    pattern = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.sub(pattern, REDACTED, text)


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# userinfo ':' password '@', up to the first '@' (SQLAlchemy's reading) or the last (urllib's).
_USERINFO_SHORT = re.compile(r"^[^:]+://[^:/@]*:([^@]*)@")
_USERINFO_LONG = re.compile(r"^[^:]+://[^:/@]*:(.*)@")


def _url_passwords(url: str) -> set[str]:
    """The password of ``url`` as every parser we use could read it (a malformed URL is read
    differently by each)."""
    found = {m.group(1) for m in (_USERINFO_SHORT.match(url), _USERINFO_LONG.match(url)) if m}
    with contextlib.suppress(ValueError):
        found.add(urlsplit(url).password or "")
    with contextlib.suppress(ArgumentError, ValueError):
        found.add(make_url(url).password or "")
    return {password for password in found if password}


def _spellings(secret: str) -> set[str]:
    """How ``secret`` may appear in an error: as written, decoded, encoded, quoted."""
    decoded = unquote(secret)
    forms = {secret, decoded}
    for plain in (secret, decoded):
        forms.update(
            (
                quote(plain, safe=""),
                quote(plain),
                quote_plus(plain),
                repr(plain)[1:-1],
                plain.replace("\\", "\\\\").replace("'", "\\'"),  # libpq conninfo quoting
            )
        )
    return forms


def check_database_url(url: str) -> None:
    """Raise :class:`ConfigError` (without the password) when ``url`` cannot be used.

    SQLAlchemy and libpq (which the relay uses directly) must both read it: a raw ``%`` in
    the password, say, passes the first and fails the second with the password in the text.
    """
    try:
        driver = make_url(url).drivername
        if driver in _DRIVERS:
            conninfo_to_dict("postgresql://" + url.split("://", 1)[1])
    except (ArgumentError, ValueError, psycopg.ProgrammingError) as exc:
        raise ConfigError(
            f"SAGA_DATABASE_URL is not a valid URL ({redact_error(exc, url)}): {DATABASE_URL_FIX}"
        ) from None
    if driver not in _DRIVERS:  # the relay hands any other URL to libpq as it is
        raise ConfigError(
            f"SAGA_DATABASE_URL names {driver!r}, not PostgreSQL through psycopg: "
            f"{DATABASE_URL_FIX}"
        )


_DRIVERS = ("postgresql", "postgresql+psycopg")


DATABASE_URL_FIX = (
    "write it as postgresql+psycopg://user:password@host:5432/database, with special "
    "characters of the password percent-encoded (% as %25, @ as %40, / as %2F)"
)


class Settings(BaseSettings):
    """Framework settings; every field reads ``SAGA_<FIELD>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="SAGA_", frozen=True, extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers, e.g. 127.0.0.1:9092"
    )
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db"
    )
    kafka_options: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description='raw librdkafka options as JSON, e.g. {"security.protocol": "SASL_SSL"}',
    )
    stack_dir: Path = Field(
        default=Path(".saga"), description="where `saga stack` keeps data, logs, endpoints"
    )
    stack_backend: Literal["auto", "docker", "native"] = Field(
        default="auto", description="auto: a Docker engine if one answers, else the native stack"
    )
    stack_kafka_port: int | None = Field(
        default=None, ge=1, le=65535, description="native broker port (default 9092, or a free one)"
    )
    stack_postgres_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="native PostgreSQL port (default 5432, or a free one)",
    )
    schema_dir: Path = Field(
        default=Path("avro"), description="folder of .avsc contracts (every published version)"
    )
    wire_format: WireFormat = Field(
        default="single-object",
        description="single-object: Avro single-object encoding, schemas from schema_dir; "
        "confluent: magic byte + schema id from the schema registry",
    )
    schema_registry_url: SecretStr | None = Field(
        default=None,
        description="Confluent-compatible schema registry, e.g. http://user:pw@127.0.0.1:8081 "
        "(Apicurio: .../apis/ccompat/v7); secret because it may hold credentials",
    )
    max_payload_bytes: int = Field(
        default=1_048_576, gt=0, description="largest event payload encoded or decoded"
    )
    relay_delivery: Literal["exactly-once", "at-least-once"] = Field(
        default="exactly-once",
        description="how relays publish the outbox: exactly-once (Kafka transactions, the "
        "default) or at-least-once (an idempotent producer: several times less broker CPU; "
        "after a relay crash a row may be published twice, and framework consumers drop the "
        "copy in their inbox)",
    )
    partitioner: Literal["consistent_random", "murmur2_random"] = Field(
        default="consistent_random",
        description="how the relay maps a key to a partition: consistent_random (librdkafka's "
        "CRC32, the default: changing it moves every key of existing topics) or "
        "murmur2_random (the Java clients' partitioner: a key lands on the same partition "
        "whichever client produces it)",
    )

    if not TYPE_CHECKING:
        # Hidden from mypy so that the pydantic plugin still types the keyword arguments.
        def __init__(self, **values: Any) -> None:
            try:
                super().__init__(**values)
            except (ValidationError, SettingsError) as exc:
                # pydantic's own message quotes the input, passwords included.
                raise _settings_error(exc) from None

    @field_validator("database_url")
    @classmethod
    def _database_url_is_usable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_database_url(value.get_secret_value())
        return value

    @field_validator("kafka_options", mode="before")
    @classmethod
    def _option_values_are_strings(cls, value: object) -> object:
        # librdkafka takes every option as a string; JSON may carry numbers and booleans.
        if isinstance(value, dict):
            return {
                str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()
            }
        return value

    def redacted_kafka_options(self) -> dict[str, str]:
        """Raw librdkafka options safe to print: secret values replaced by ``***``."""
        return {k: (REDACTED if is_secret_option(k) else v) for k, v in self.kafka_options.items()}

    def secret_values(self) -> tuple[str, ...]:
        """Every secret these settings hold, for :func:`redact_error`."""
        urls = (self.database_url, self.schema_registry_url)
        return tuple(url.get_secret_value() for url in urls if url is not None) + tuple(
            v for k, v in self.kafka_options.items() if is_secret_option(k)
        )

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise ConfigError(
                "no database configured: set SAGA_DATABASE_URL or run `saga stack up`"
            )
        return self.database_url.get_secret_value()

    def producer_record_limit(self) -> int:
        """The largest record a producer of ours sends: librdkafka's ``message.max.bytes``
        (1,000,000 unless ``SAGA_KAFKA_OPTIONS`` sets it)."""
        return int(self.kafka_options.get("message.max.bytes", 1_000_000))

    def kafka_config(self, bootstrap: str, **overrides: KafkaValue) -> dict[str, KafkaValue]:
        """A librdkafka config: bootstrap, then raw options (SASL/SSL...), then overrides."""
        config: dict[str, KafkaValue] = {"bootstrap.servers": bootstrap}
        config.update(self.kafka_options)
        config.update(overrides)
        return config


_SECRET_FIELDS = frozenset(("database_url", "schema_registry_url", "kafka_options"))
_FIELD_OF_SOURCE = re.compile(r'field "(\w+)"')


def _settings_error(exc: ValidationError | SettingsError) -> ConfigError:
    """One line per setting that failed: its variable, why, and the form expected."""
    if isinstance(exc, SettingsError):  # the environment value is not JSON
        match = _FIELD_OF_SOURCE.search(str(exc))
        cause = exc.__cause__
        why = (
            f"not valid JSON: {cause.msg} at column {cause.colno}"
            if isinstance(cause, json.JSONDecodeError)
            else "unreadable"
        )
        return ConfigError(_problem(match.group(1) if match else None, why))
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else None
        why = str(error.get("ctx", {}).get("error", error["msg"]))
        if field in _SECRET_FIELDS:  # pydantic's messages do not quote the input; never let them
            why = _mask(why, _strings_in(error.get("input")))
        problems.append(_problem(field, why))
    return ConfigError("; ".join(problems))


def _problem(field: str | None, why: str) -> str:
    info = Settings.model_fields.get(field or "")
    if field is None or info is None:
        return f"the SAGA_* settings are invalid ({why})"
    expected = f": expected {info.description}" if info.description else ""
    return f"SAGA_{field.upper()} is invalid ({why}){expected}"


def _strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.items() for part in item for s in _strings_in(part)]
    if isinstance(value, list | tuple | set):
        return [s for item in value for s in _strings_in(item)]
    return []
