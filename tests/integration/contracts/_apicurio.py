"""Apicurio Registry as a local process: resolved by Maven, run on Java, stopped by group.

Apicurio speaks the Confluent schema registry API under ``/apis/ccompat/v7`` and keeps its
data in an in-memory H2 database by default, so each instance starts empty and needs
neither Kafka nor a database server. Its ``/metrics`` endpoint counts requests per path,
which lets tests see what the registry was asked, not only what our client meant to ask.
"""

from __future__ import annotations

import re
import tarfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from saga.errors import StackError
from saga.stack._kafka import find_java
from saga.stack._maven import resolve_cached
from saga.stack._process import (
    any_free_port,
    pid_alive,
    start_detached,
    stop_process_group,
)

POM = Path(__file__).with_name("registry-pom.xml")
CCOMPAT = "/apis/ccompat/v7"
STARTUP_TIMEOUT = 60.0
# rest_requests_count_total{method="GET",path="/apis/ccompat/v7/subjects",...} 3.0
_REQUEST_COUNT = re.compile(
    r'^rest_requests_count_total\{[^}]*method="(?P<method>[A-Z]+)"[^}]*'
    r'path="(?P<path>[^"]*)"[^}]*\}\s+(?P<count>[0-9.eE+]+)$',
    re.MULTILINE,
)


def _unpack(staging: Path) -> None:
    # Python's tarfile, not the dependency plugin: its unpacker cut a long jar name short.
    archives = list(staging.glob("*.tar.gz"))
    if len(archives) != 1:
        raise StackError(f"expected one registry archive in {staging}, found {archives}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(staging, filter="data")
    archives[0].unlink()


def resolve_registry() -> Path:
    """Folder of the unpacked registry distribution, resolved by Maven once and cached."""
    return resolve_cached(
        POM.read_bytes(),
        "apicurio",
        ["dependency:copy"],
        what="Apicurio Registry (io.apicurio:apicurio-registry-app)",
        fix="check that Maven Central (or your ~/.m2/settings.xml mirror) is reachable",
        finish=_unpack,
    )


@dataclass(frozen=True)
class Registry:
    """One running registry process and how to reach it."""

    pid: int
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The Confluent-compatible API, as SAGA_SCHEMA_REGISTRY_URL takes it."""
        return self.base + CCOMPAT

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of ``GET <base><path>``; status 0 when nothing answers."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()
        except OSError:
            return 0, b""

    def request_counts(self) -> Counter[tuple[str, str]]:
        """Requests the registry has answered so far, by (method, path)."""
        status, body = self.get("/metrics")
        if status != 200:
            raise StackError(f"registry metrics answered {status}; log: {self.log}")
        counts: Counter[tuple[str, str]] = Counter()
        for match in _REQUEST_COUNT.finditer(body.decode()):
            counts[(match["method"], match["path"])] += int(float(match["count"]))
        return counts

    def stop(self) -> None:
        stop_process_group(self.pid, timeout=15.0)


def start_registry(dist: Path, log: Path) -> Registry:
    """Start an empty registry on a free port and return once its ccompat API answers."""
    runners = list(dist.glob("*-runner.jar"))
    if len(runners) != 1:
        raise StackError(f"expected one *-runner.jar in {dist}, found {runners}: remove {dist}")
    port = any_free_port()
    pid = start_detached(
        [
            find_java(),
            "-Xms128m",
            "-Xmx512m",
            "-XX:TieredStopAtLevel=1",  # C1 only: the JVM starts faster; tests are short
            "-Djava.awt.headless=true",
            f"-Dquarkus.http.port={port}",
            "-Dquarkus.http.host=127.0.0.1",
            "-jar",
            str(runners[0]),
        ],
        log=log,
    )
    registry = Registry(pid=pid, port=port, log=log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if registry.get(CCOMPAT + "/subjects")[0] == 200:
            return registry
        if not pid_alive(pid):
            raise StackError(f"the schema registry exited while starting: {_tail(log)}")
        time.sleep(0.2)
    registry.stop()
    raise StackError(
        f"the schema registry did not answer within {STARTUP_TIMEOUT:.0f}s: {_tail(log)}"
    )


def _tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"no log at {log}"
    return f"last lines of {log}:\n" + "\n".join(text.splitlines()[-lines:])
