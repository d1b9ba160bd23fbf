"""Named crash points, for tests that kill a relay or consumer at an exact step.

``SAGA_CRASH_AT=relay.after_commit`` makes the process SIGKILL itself the first time it
reaches ``crash_point("relay.after_commit")``; ``name:N`` waits for the N-th time, and
``name:N:stop`` SIGSTOPs instead (a test resumes it with SIGCONT, e.g. to play a zombie),
and ``name:N:raise`` raises :class:`CrashPointReached` there (a bug where none was expected).
Without the variable, :func:`crash_point` is a function that does nothing.

Points in the framework:

===========================  ==================================================================
``relay.before_read_ahead``  a batch in flight, the next one not read yet
``relay.before_commit``      records produced in the lane's Kafka transaction, not committed
``relay.after_commit``       Kafka transaction committed (broker acknowledged), rows not marked
``relay.before_flush``       at-least-once: a lane's records produced, acknowledgements awaited
``relay.after_flush``        at-least-once: every record acknowledged, rows not marked
``relay.after_mark``         rows marked published in PostgreSQL
``inbox.in_handler``         inside the consumer's database transaction, before a handler runs
``inbox.after_db_commit``    database transaction committed, Kafka offsets not yet committed
``inbox.after_dead_letter``  dead letters committed in PostgreSQL, Kafka offsets not committed
===========================  ==================================================================
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

__all__ = ["CrashPointReached", "crash_point"]

_VARIABLE = "SAGA_CRASH_AT"


class CrashPointReached(Exception):
    """Raised at a crash point armed with ``:raise``."""


def _parse(spec: str) -> tuple[str, int, signal.Signals | None]:
    name, _, rest = spec.partition(":")
    count_text, _, action = rest.partition(":")
    count = int(count_text) if count_text else 1
    chosen = {"stop": signal.SIGSTOP, "raise": None}.get(action, signal.SIGKILL)
    return name, count, chosen


def _armed(name: str, count: int, chosen: signal.Signals | None) -> Callable[[str], None]:
    hits = 0
    lock = threading.Lock()  # relay lanes pass their points from several threads

    def crash_point(point: str) -> None:
        nonlocal hits
        if point != name:
            return
        with lock:
            hits += 1
            reached = hits == count
        if not reached:
            return
        if chosen is None:
            raise CrashPointReached(f"crash point {point} reached")
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), chosen)

    return crash_point


def _disarmed(point: str) -> None:
    """No crash point is set: nothing to do."""


_spec = os.environ.get(_VARIABLE)
crash_point: Callable[[str], None] = _armed(*_parse(_spec)) if _spec else _disarmed
