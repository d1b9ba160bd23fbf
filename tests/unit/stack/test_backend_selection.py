"""Endpoint precedence: explicit settings, then a Docker engine, then the native stack."""

from pathlib import Path

import pytest

from saga import ConfigError, Settings
from saga.stack import choose_stack_backend, resolve_endpoints
from saga.stack._endpoints import Endpoints, write_endpoints
from saga.testing import select_test_backend

EXPLICIT = {
    "kafka_bootstrap": "k:9092",
    "database_url": "postgresql+psycopg://u:p@h/d",
}


def _never() -> bool:
    raise AssertionError("the Docker engine must not be probed here")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SAGA_KAFKA_BOOTSTRAP", "SAGA_DATABASE_URL", "SAGA_STACK_BACKEND"):
        monkeypatch.delenv(name, raising=False)


def test_tests_use_explicit_settings_without_probing_docker() -> None:
    settings = Settings(**EXPLICIT)  # type: ignore[arg-type]
    assert select_test_backend(settings, docker_answers=_never) == "explicit"


def test_tests_use_testcontainers_when_an_engine_answers() -> None:
    assert select_test_backend(Settings(), docker_answers=lambda: True) == "testcontainers"


def test_tests_fall_back_to_the_native_stack() -> None:
    assert select_test_backend(Settings(), docker_answers=lambda: False) == "native"


def test_half_explicit_settings_still_need_a_stack() -> None:
    settings = Settings(kafka_bootstrap="k:9092")
    assert select_test_backend(settings, docker_answers=lambda: False) == "native"


def test_forced_backends() -> None:
    native = Settings(stack_backend="native")
    assert select_test_backend(native, docker_answers=_never) == "native"
    docker = Settings(stack_backend="docker")
    assert select_test_backend(docker, docker_answers=lambda: False) == "testcontainers"


def test_stack_up_prefers_compose_when_engine_and_file_exist(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    nested = tmp_path / "services" / "orders"
    nested.mkdir(parents=True)
    settings = Settings()
    assert choose_stack_backend(settings, docker_answers=lambda: True, cwd=nested) == "docker"
    assert choose_stack_backend(settings, docker_answers=lambda: False, cwd=nested) == "native"


def test_stack_up_without_compose_file_is_native(tmp_path: Path) -> None:
    assert choose_stack_backend(Settings(), docker_answers=_never, cwd=tmp_path) == "native"


def test_resolve_endpoints_explicit_beats_stack_file(tmp_path: Path) -> None:
    stack = Endpoints("native", "127.0.0.1:1", "postgresql+psycopg://s:pw@127.0.0.1:2/saga")
    write_endpoints(tmp_path, stack, {})
    from_file = resolve_endpoints(Settings(stack_dir=tmp_path))
    assert from_file == stack
    only_kafka = resolve_endpoints(Settings(stack_dir=tmp_path, kafka_bootstrap="mine:9092"))
    assert only_kafka.kafka_bootstrap == "mine:9092"
    assert only_kafka.database_url == stack.database_url
    both = resolve_endpoints(Settings(stack_dir=tmp_path, **EXPLICIT))  # type: ignore[arg-type]
    assert both.backend == "explicit"
    assert both.kafka_bootstrap == "k:9092"


def test_resolve_endpoints_without_stack_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="saga stack up"):
        resolve_endpoints(Settings(stack_dir=tmp_path))


def test_endpoints_file_is_private_and_repr_hides_password(tmp_path: Path) -> None:
    endpoints = Endpoints("native", "127.0.0.1:1", "postgresql+psycopg://s:pw1234@h:2/saga")
    path = write_endpoints(tmp_path, endpoints, {})
    assert path.stat().st_mode & 0o777 == 0o600
    assert "pw1234" not in repr(endpoints)
    assert "pw1234" not in str(endpoints.describe())
