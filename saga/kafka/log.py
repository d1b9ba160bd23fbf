"""Where librdkafka's own log lines go: the ``saga.kafka`` logger, each line once a minute.

By default librdkafka prints to stderr, and while a broker is away it prints the same
"connection refused" line every few milliseconds from every client: thousands of lines that
hide the one the worker or relay writes itself. Through Python logging the application
decides where they go, and a repeated line is let through once per minute with the count of
those held back.
"""

from __future__ import annotations

import logging
import re
import threading
import time

__all__ = ["kafka_logger"]

_WINDOW = 60.0
# Client names, timestamps and broker addresses vary between otherwise equal lines.
_VARYING = re.compile(r"rdkafka#\w+-\d+|\d+ms|\d+(\.\d+)?")


# Warnings about settings the framework chose on purpose: they tell an operator nothing.
# (The at-least-once relay relies on librdkafka's gapless guarantee, flagged experimental.)
_CHOSEN = ("enable.gapless.guarantee is experimental",)


class _OncePerWindow(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()  # librdkafka logs from the threads that poll it
        self._seen: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(chosen in message for chosen in _CHOSEN):
            return False
        key = _VARYING.sub("#", message)
        now = time.monotonic()
        with self._lock:
            first, held = self._seen.get(key, (0.0, 0))
            if now - first < _WINDOW:
                self._seen[key] = (first, held + 1)
                return False
            self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last minute)"
        return True


_logger = logging.getLogger("saga.kafka")
_logger.addFilter(_OncePerWindow())


def kafka_logger() -> logging.Logger:
    """The logger to hand librdkafka clients as their ``logger`` setting."""
    return _logger
