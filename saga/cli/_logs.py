"""``--log-format``: how the long-running commands write their log, text or JSON lines.

Either way each record carries the trace and span id of the span it was written in, and
the saga and instance it handles (empty outside one), so a line leads to its trace. JSON
lines are one object each with ``time``, ``level``, ``logger``, ``message``, ``trace_id``,
``span_id``, ``saga``, ``instance_id`` (and ``exception``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import typer

from saga.errors import ConfigError
from saga.observability.tracing import TraceContextFilter

__all__ = ["LOG_FORMAT", "configure_logging"]

LOG_FORMAT = typer.Option("--log-format", help="text, or json: one JSON object per line")


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", ""),
            "span_id": getattr(record, "span_id", ""),
            "saga": getattr(record, "saga", ""),
            "instance_id": getattr(record, "instance_id", ""),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str) -> None:
    """Log INFO and above to stderr in ``log_format`` (``text`` or ``json``)."""
    if log_format not in ("text", "json"):
        raise ConfigError(f"--log-format {log_format}: use text or json")
    handler = logging.StreamHandler()
    handler.addFilter(TraceContextFilter())
    if log_format == "json":
        handler.setFormatter(_JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
