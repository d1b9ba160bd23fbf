"""No Docker engine here: check the compose file's structure instead of running it."""

from pathlib import Path

import yaml

from saga.stack._docker import COMPOSE_ENDPOINTS
from services.common import SERVICES, database_name
from services.demo.processes import api_args, worker_args

COMPOSE = Path(__file__).parents[3] / "docker-compose.yml"


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


def test_every_long_running_service_has_a_healthcheck_for_compose_wait() -> None:
    for name, service in _services().items():
        if service.get("restart") == "no":
            continue  # one-shot: others wait for it to complete
        check = service.get("healthcheck")
        assert isinstance(check, dict), f"{name} has no healthcheck"
        assert check["test"], f"{name} healthcheck has no test"


def test_the_shop_runs_each_service_as_the_demo_starts_it() -> None:
    services = _services()
    for service in SERVICES:
        worker = services[service]
        assert worker["command"] == ["saga", *worker_args(service)]
        env = worker["environment"]
        assert isinstance(env, dict)
        assert env["SAGA_DATABASE_URL"].endswith(f"@postgres:5432/{database_name(service)}")
        assert env["SAGA_KAFKA_BOOTSTRAP"] == "kafka:19092"  # the broker's INTERNAL listener
        assert worker["depends_on"] == {
            "shop-setup": {"condition": "service_completed_successfully"}
        }
    api = services["orders-api"]
    assert api["command"][:3] == ["python", *api_args()]
    assert api["environment"]["SAGA_DATABASE_URL"].endswith("/shop_orders")  # type: ignore[index]
    assert "127.0.0.1:8000:8000" in api["ports"]  # type: ignore[operator]


def test_the_shop_is_set_up_once_the_stack_is_healthy() -> None:
    setup = _services()["shop-setup"]
    assert setup["command"] == ["python", "-m", "services.setup"]
    assert setup["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    assert "'.[shop]'" in dockerfile  # the API's web framework is in the image


def test_postgres_allows_logical_decoding() -> None:
    command = _services()["postgres"]["command"]
    assert isinstance(command, list)
    assert "wal_level=logical" in command
