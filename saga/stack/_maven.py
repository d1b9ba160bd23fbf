"""Artifacts resolved by Maven from a pom we ship, cached between runs under ~/.cache/saga."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from saga.errors import StackError
from saga.stack._process import run_checked


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "saga"


def resolve_cached(
    pom: bytes,
    name: str,
    goal: Sequence[str],
    *,
    what: str,
    fix: str,
    finish: Callable[[Path], None] | None = None,
) -> Path:
    """Run ``mvn <goal> -DoutputDirectory=<dir>`` for ``pom`` once; return the cached folder.

    The folder is keyed by the pom's hash, so a changed pom resolves again. Maven writes into
    a staging folder that ``finish`` may rework (e.g. unpack an archive in place); only a
    complete folder is renamed into place, so a crash never leaves a half cache behind.
    """
    work = cache_root() / f"{name}-{hashlib.sha256(pom).hexdigest()[:12]}"
    done = work / "out"
    if (done / ".complete").exists():
        return done
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            f"Maven (mvn) not found (it resolves {what}): install it (`apt-get install maven`)"
        )
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_bytes(pom)
    staging = work / f"out.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    run_checked(
        [mvn, "-B", "-q", "-f", str(work / "pom.xml"), *goal, f"-DoutputDirectory={staging}"],
        what=f"Maven could not resolve {what}",
        fix=fix,
    )
    if finish is not None:
        finish(staging)
    (staging / ".complete").touch()
    shutil.rmtree(done, ignore_errors=True)
    try:
        staging.rename(done)
    except OSError:
        if not (done / ".complete").exists():
            raise
        shutil.rmtree(staging)  # a concurrent run finished the same resolution first
    return done
