"""A single-node Apache Kafka broker (KRaft, combined broker + controller) run from Maven jars."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from saga.errors import StackError
from saga.settings import is_secret_option, redact_error
from saga.stack._maven import resolve_cached
from saga.stack._process import run_checked, start_detached

READY_TOPIC = "__saga_stack_ready"
MIN_JAVA = 17
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_quiet = logging.getLogger("saga.stack.kafka")


def _resource(name: str) -> bytes:
    return (resources.files("saga.stack") / name).read_bytes()


def find_java() -> str:
    """The java executable (JAVA_HOME first), checked to be Java 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    fix = "install a JDK 17+ (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
    if not candidate or not Path(candidate).exists():
        raise StackError(f"Java not found: {fix}")
    try:
        out = subprocess.run(
            [candidate, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise StackError(f"Java at {candidate} cannot run ({exc.strerror}): {fix}") from None
    match = _JAVA_VERSION.search(out.stderr + out.stdout)
    if not match:
        raise StackError(f"cannot tell the version of {candidate}: {fix}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise StackError(f"Java {major} found at {candidate}, Kafka needs {MIN_JAVA}+: {fix}")
    return candidate


def resolve_jars() -> Path:
    """Folder of the broker's jars, resolved by Maven once and cached between runs."""
    return resolve_cached(
        _resource("kafka-pom.xml"),
        "kafka",
        ["dependency:copy-dependencies", "-DincludeScope=runtime"],
        what="the Kafka broker jars (org.apache.kafka:kafka_2.13)",
        fix="check that Maven Central (or your ~/.m2/settings.xml mirror) is reachable, "
        "then run `saga stack up` again",
    )


def new_cluster_id() -> str:
    """A random Kafka cluster id (base64url of 16 bytes, as Kafka's ``Uuid`` prints it).

    One that starts with '-' is drawn again, as Kafka's own ``Uuid.randomUuid`` does: the
    storage tool would read it as an option and fail.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(
    data_dir: Path, port: int, controller_port: int, extra: Mapping[str, str] | None = None
) -> str:
    # Replication factor 1 for internal topics so idempotent and transactional producers and
    # consumer groups work on one node. ``extra`` comes last: a later key wins.
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={data_dir}",
            "num.partitions=3",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=10",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            *(f"{key}={value}" for key, value in (extra or {}).items()),
            "",
        ]
    )


class KafkaNode:
    """Files and process of the native broker under ``<stack_dir>/kafka``."""

    def __init__(self, stack_dir: Path, properties: Mapping[str, str] | None = None) -> None:
        self.properties = dict(properties or {})
        self.home = stack_dir / "kafka"
        self.data = self.home / "data"
        self.log = stack_dir / "logs" / "kafka.log"

    def start(self, port: int, controller_port: int) -> int:
        java = find_java()
        libs = resolve_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(
            server_properties(self.data.resolve(), port, controller_port, self.properties)
        )
        log4j = self.home / "log4j2.properties"
        log4j.write_bytes(_resource("log4j2.properties"))
        classpath = f"{libs}/*"
        if not (self.data / "meta.properties").exists():
            run_checked(
                [
                    java,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    new_cluster_id(),
                    "-c",
                    str(config),
                ],
                what="formatting Kafka storage (kafka.tools.StorageTool)",
                fix=f"remove {self.data} and run `saga stack up` again",
            )
        return start_detached(
            [
                java,
                "-Xms256m",
                "-Xmx768m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j.resolve()}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(config.resolve()),
            ],
            log=self.log,
        )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def round_trip(bootstrap: str, config: dict[str, object], *, timeout: float = 30.0) -> float:
    """Produce one record (idempotent, acks=all) and consume it back; return the seconds taken.

    This is what "ready" means: a broker that accepts connections but has no elected
    controller or partition leader would pass a port check and still fail real work.
    """
    started = time.monotonic()
    token = uuid.uuid4().hex
    # librdkafka's own logs go to a logger of ours instead of stderr.
    base: dict[str, Any] = {"bootstrap.servers": bootstrap, **config, "logger": _quiet}
    admin = AdminClient(base)
    futures = admin.create_topics([NewTopic(READY_TOPIC, num_partitions=1, replication_factor=1)])
    try:
        futures[READY_TOPIC].result(timeout=timeout)
    except TimeoutError:
        raise StackError(
            f"Kafka at {bootstrap} did not create a test topic in {timeout:.0f}s: it is still "
            "starting or stuck; see `saga stack logs kafka`, then run `saga stack up` again"
        ) from None
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            secrets = [str(v) for k, v in config.items() if is_secret_option(k)]
            raise StackError(
                f"Kafka at {bootstrap} cannot create topics: {redact_error(exc, *secrets)}"
            ) from None
    delivered: list[int] = []

    def on_delivery(err: object, msg: object) -> None:
        if err is None:
            delivered.append(msg.offset())  # type: ignore[attr-defined]

    producer = Producer({**base, "enable.idempotence": True, "acks": "all"})
    producer.produce(READY_TOPIC, value=token.encode(), on_delivery=on_delivery)
    producer.flush(timeout)
    if not delivered:
        raise StackError(f"Kafka at {bootstrap} did not acknowledge a test record in {timeout}s")
    consumer = Consumer(
        {
            **base,
            "group.id": f"saga-stack-ready-{token}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(READY_TOPIC, 0, delivered[0])])
        deadline = started + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and msg.value() == token.encode():
                return time.monotonic() - started
    finally:
        consumer.close()
    raise StackError(f"Kafka at {bootstrap} did not return a test record in {timeout}s")
