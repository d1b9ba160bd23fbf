"""Apicurio Registry as a local process: resolved by Maven, run on Java, stopped by group.

Apicurio speaks the Confluent schema registry API under ``/apis/ccompat/v7`` and keeps its
data in an in-memory H2 database by default, so each instance starts empty and needs
neither Kafka nor a database server. Its ``/metrics`` endpoint counts requests per path,
which lets tests see what the registry was asked, not only what our client meant to ask.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from saga.errors import StackError
from saga.stack._kafka import cache_root, find_java
from saga.stack._process import (
    any_free_port,
    pid_alive,
    run_checked,
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


def resolve_registry() -> Path:
    """Folder of the unpacked registry distribution, resolved by Maven once and cached."""
    pom = POM.read_bytes()
    key = hashlib.sha256(pom).hexdigest()[:12]
    work = cache_root() / f"apicurio-{key}"
    dist = work / "dist"
    if (dist / ".complete").exists():
        return dist
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven (mvn) not found; it resolves Apicurio Registry: install it "
            "(e.g. `apt-get install maven`)"
        )
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_bytes(pom)
    download = work / f"download.{os.getpid()}.tmp"
    staging = work / f"dist.{os.getpid()}.tmp"
    shutil.rmtree(download, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    run_checked(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(work / "pom.xml"),
            "dependency:copy",
            f"-DoutputDirectory={download}",
        ],
        what="Maven could not resolve Apicurio Registry (io.apicurio:apicurio-registry-app)",
        fix="check that Maven Central (or your ~/.m2/settings.xml mirror) is reachable",
    )
    archives = list(download.glob("*.tar.gz"))
    if len(archives) != 1:
        raise StackError(f"expected one registry archive in {download}, found {archives}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(staging, filter="data")
    shutil.rmtree(download)
    (staging / ".complete").touch()
    shutil.rmtree(dist, ignore_errors=True)
    try:
        staging.rename(dist)  # a crash mid-download never leaves a half cache behind
    except OSError:
        if not (dist / ".complete").exists():
            raise
        shutil.rmtree(staging)  # another session finished the same download first
    return dist


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
