import pytest
from pydantic import ValidationError

from saga import ConfigError, Settings
from saga.settings import redact_url


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
