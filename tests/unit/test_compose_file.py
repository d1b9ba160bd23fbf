"""No Docker engine here: check the compose file's structure instead of running it."""

from pathlib import Path

import yaml

from saga.stack._docker import COMPOSE_ENDPOINTS

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"


def _services() -> dict[str, dict[str, object]]:
    data = yaml.safe_load(COMPOSE.read_text())
    services: dict[str, dict[str, object]] = data["services"]
    return services


def test_kafka_is_apache_kraft_with_single_node_internal_topics() -> None:
    kafka = _services()["kafka"]
    assert str(kafka["image"]).startswith("apache/kafka:4.")
    env = kafka["environment"]
    assert isinstance(env, dict)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 1
    assert "PLAINTEXT://127.0.0.1:9092" in env["KAFKA_ADVERTISED_LISTENERS"]


def test_ports_match_the_endpoints_saga_stack_reports() -> None:
    services = _services()
    kafka_port = COMPOSE_ENDPOINTS.kafka_bootstrap.rsplit(":", 1)[1]
    assert f"127.0.0.1:{kafka_port}:9092" in services["kafka"]["ports"]  # type: ignore[operator]
    assert "127.0.0.1:5432:5432" in services["postgres"]["ports"]  # type: ignore[operator]
    env = services["postgres"]["environment"]
    assert isinstance(env, dict)
    assert COMPOSE_ENDPOINTS.database_url.endswith(
        f"{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@127.0.0.1:5432/{env['POSTGRES_DB']}"
    )


def test_every_service_has_a_healthcheck_for_compose_wait() -> None:
    for name, service in _services().items():
        check = service.get("healthcheck")
        assert isinstance(check, dict), f"{name} has no healthcheck"
        assert check["test"], f"{name} healthcheck has no test"


def test_postgres_allows_logical_decoding() -> None:
    command = _services()["postgres"]["command"]
    assert isinstance(command, list)
    assert "wal_level=logical" in command
