import traceback

import psycopg
import pytest
from confluent_kafka import KafkaException
from pydantic import ValidationError

from saga import ConfigError, Settings
from saga.contracts._registry import registry_client
from saga.settings import redact_error, redact_url


def test_settings_read_saga_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGA_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("SAGA_DATABASE_URL", "postgresql+psycopg://u:hunter2@db/app")
    monkeypatch.setenv("SAGA_KAFKA_OPTIONS", '{"security.protocol": "SASL_SSL", "linger.ms": 5}')
    settings = Settings()
    assert settings.kafka_bootstrap == "broker:9092"
    assert settings.require_database_url() == "postgresql+psycopg://u:hunter2@db/app"
    assert settings.kafka_options == {"security.protocol": "SASL_SSL", "linger.ms": "5"}


def test_settings_are_frozen() -> None:
    settings = Settings(kafka_bootstrap="a:1")
    with pytest.raises(ValidationError):
        settings.kafka_bootstrap = "b:2"  # type: ignore[misc]


def test_secrets_never_show_in_repr_or_redacted_options() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://u:hunter2@db/app",  # type: ignore[arg-type]
        kafka_options={
            "sasl.password": "hunter2",
            "ssl.key.password": "hunter2",
            "sasl.oauthbearer.client.secret": "hunter2",
            "sasl.username": "alice",
        },
    )
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    redacted = settings.redacted_kafka_options()
    assert "hunter2" not in repr(redacted)
    assert redacted["sasl.username"] == "alice"


def test_raw_librdkafka_options_pass_through_and_overrides_win() -> None:
    settings = Settings(
        kafka_options={"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"}
    )
    config = settings.kafka_config("b:9092", **{"enable.idempotence": True})
    assert config == {
        "bootstrap.servers": "b:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "enable.idempotence": True,
    }


def test_redact_url_hides_the_password_only() -> None:
    shown = redact_url("postgresql+psycopg://saga:s3cret@127.0.0.1:5432/saga")
    assert "s3cret" not in shown
    assert shown.startswith("postgresql+psycopg://saga:")
    assert shown.endswith("@127.0.0.1:5432/saga")


def test_missing_database_url_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGA_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="SAGA_DATABASE_URL"):
        Settings().require_database_url()


# A password with every character that URLs, libpq and reprs spell differently.
PASSWORD = "p%zz@/:'\\x!"
SPELLINGS = {
    "raw": "p%zz@/:'\\x!",
    "encoded": "p%25zz%40%2F%3A%27%5Cx%21",
    "encoded, / kept": "p%25zz%40/%3A%27%5Cx%21",
    "repr": "p%zz@/:'\\\\x!",
    "libpq conninfo": "p%zz@/:\\'\\\\x!",
}
URL_RAW = "postgresql+psycopg://u:p%zz@127.0.0.1:5432/db"
URL_ENCODED = "postgresql+psycopg://u:p%25zz%40%2F%3A%27%5Cx%21@127.0.0.1:5432/db"


@pytest.mark.parametrize("url", [URL_ENCODED, f"postgresql://u:{PASSWORD}@127.0.0.1:5432/db"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_redact_error_masks_every_spelling_of_the_url_password(url: str, spelling: str) -> None:
    error = RuntimeError(
        f'connection to "127.0.0.1" failed:\n password={SPELLINGS[spelling]} rejected'
    )
    text = redact_error(error, url)
    for form in {*SPELLINGS.values(), "p%zz", "zz@/"}:
        assert form not in text
    assert text == 'connection to "127.0.0.1" failed: password=*** rejected'  # one line


def test_redact_error_masks_a_raw_percent_as_libpq_quotes_it() -> None:
    error = psycopg.ProgrammingError('invalid percent-encoded token: "p%zz"')
    assert redact_error(error, URL_RAW) == 'invalid percent-encoded token: "***"'


def test_redact_error_masks_secret_values_and_keeps_the_rest() -> None:
    settings = Settings(
        database_url=URL_ENCODED,  # type: ignore[arg-type]
        schema_registry_url="http://reg:r3g1stry@127.0.0.1:8081",  # type: ignore[arg-type]
        kafka_options={"sasl.password": "k4fk4", "sasl.username": "alice"},
    )
    error = KafkaException(f"SASL auth of alice with k4fk4 failed; registry r3g1stry; {PASSWORD}")
    text = redact_error(error, *settings.secret_values())
    assert text == "SASL auth of alice with *** failed; registry ***; ***"
    assert redact_error(TimeoutError(), None) == "TimeoutError"  # an empty message names the type


SECRET = "hunter2"
BAD_SETTINGS = [
    ("SAGA_KAFKA_OPTIONS", f'["sasl.password", "{SECRET}"]', "raw librdkafka options as JSON"),
    ("SAGA_KAFKA_OPTIONS", f'{{"sasl.password": "{SECRET}"', "not valid JSON"),
    ("SAGA_KAFKA_OPTIONS", f'"sasl.password={SECRET}"', "raw librdkafka options as JSON"),
    ("SAGA_DATABASE_URL", f"postgresql+psycopg://u:{SECRET}%zz@127.0.0.1/db", "percent-encoded"),
    ("SAGA_DATABASE_URL", f"postgresql+psycopg://u:{SECRET}@127.0.0.1:port/db", "valid URL"),
    ("SAGA_DATABASE_URL", f"postgresql+psycopg://u:{SECRET}@h/db?bogus=1", "valid URL"),
    ("SAGA_DATABASE_URL", f"u:{SECRET}@127.0.0.1/db", "valid URL"),
    ("SAGA_DATABASE_URL", f"postgresql+asyncpg://u:{SECRET}@127.0.0.1/db", "through psycopg"),
]


@pytest.mark.parametrize(("variable", "value", "expected"), BAD_SETTINGS)
def test_a_malformed_setting_is_a_config_error_without_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        Settings()
    message = str(raised.value)
    assert variable in message
    assert expected in message
    assert "\n" not in message
    shown = "".join(traceback.format_exception(raised.value)) + repr(raised.value)
    assert SECRET not in shown  # nor in a chained pydantic error


@pytest.mark.parametrize("field", ["database_url", "schema_registry_url", "kafka_options"])
def test_a_wrongly_typed_secret_argument_is_not_echoed(field: str) -> None:
    with pytest.raises(ConfigError, match=f"SAGA_{field.upper()} is invalid") as raised:
        Settings(**{field: [f"http://u:{SECRET}@h", SECRET]})
    assert SECRET not in "".join(traceback.format_exception(raised.value))


def test_repr_hides_every_secret_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGA_DATABASE_URL", f"postgresql+psycopg://u:{SECRET}@db/app")
    monkeypatch.setenv("SAGA_SCHEMA_REGISTRY_URL", f"http://u:{SECRET}@registry:8081")
    monkeypatch.setenv("SAGA_KAFKA_OPTIONS", f'{{"sasl.password": "{SECRET}"}}')
    settings = Settings()
    assert SECRET not in repr(settings) + str(settings)
    assert settings.secret_values()  # yet they are there, for redact_error


def test_a_malformed_registry_url_is_not_echoed() -> None:
    with pytest.raises(ConfigError, match="SAGA_SCHEMA_REGISTRY_URL") as raised:
        registry_client(f"ftp://u:{SECRET}@registry")
    assert SECRET not in "".join(traceback.format_exception(raised.value))
