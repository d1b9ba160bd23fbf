"""Typed, frozen settings read from ``SAGA_*`` environment variables.

Explicit settings always win over any discovered endpoint (Docker engine, native stack).
Secrets (the database password, SASL/SSL secrets in raw librdkafka options) never show
in ``repr``, logs or exceptions: use :meth:`Settings.redacted_kafka_options` and
:func:`redact_url` when printing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

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

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise ConfigError(
                "no database configured: set SAGA_DATABASE_URL or run `saga stack up`"
            )
        return self.database_url.get_secret_value()

    def kafka_config(self, bootstrap: str, **overrides: KafkaValue) -> dict[str, KafkaValue]:
        """A librdkafka config: bootstrap, then raw options (SASL/SSL...), then overrides."""
        config: dict[str, KafkaValue] = {"bootstrap.servers": bootstrap}
        config.update(self.kafka_options)
        config.update(overrides)
        return config
