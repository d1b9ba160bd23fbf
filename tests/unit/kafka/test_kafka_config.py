import base64
from pathlib import Path

from saga.stack._kafka import new_cluster_id, server_properties


def test_cluster_ids_never_look_like_an_option() -> None:
    # 1 in 64 raw ids starts with '-', which the storage tool reads as a flag: draw many.
    ids = {new_cluster_id() for _ in range(5000)}
    assert len(ids) == 5000
    for cluster_id in ids:
        assert not cluster_id.startswith("-")
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_single_node_config_lets_transactions_and_groups_work() -> None:
    text = server_properties(Path("/data"), 9092, 9093)
    config = dict(line.split("=", 1) for line in text.splitlines() if line)
    assert config["process.roles"] == "broker,controller"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert config["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert config[key] == "1", key


def test_extra_broker_properties_come_last_so_they_win() -> None:
    extra = {"broker.session.timeout.ms": "120000", "num.partitions": "6"}
    text = server_properties(Path("/data"), 9092, 9093, extra)
    lines = [line for line in text.splitlines() if line]
    # java.util.Properties keeps the last value of a key.
    assert lines[-2:] == ["broker.session.timeout.ms=120000", "num.partitions=6"]
    assert dict(line.split("=", 1) for line in lines)["num.partitions"] == "6"
