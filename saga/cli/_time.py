"""The time syntax the commands share: durations (``30s``, ``10m``, ``2h``, ``1d``, ``1w``,
``1h30m``) and moments (a duration ago, or an ISO 8601 time), and short ages for tables."""

from __future__ import annotations

import re
from datetime import timedelta

from saga.errors import ConfigError

_DURATION = re.compile(r"(?:[0-9]+[smhdw])+")
_PART = re.compile(r"([0-9]+)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
SHOWN_INPUT = 60  # characters of a bad value quoted back
DURATION_FORMS = "30s, 10m, 2h, 1d, 1w, 1h30m"


def duration_of(text: str) -> timedelta | None:
    """``text`` as a duration, or None when it is not written as one."""
    text = text.strip()
    if not _DURATION.fullmatch(text):
        return None
    seconds = sum(int(n) * _UNIT[unit] for n, unit in _PART.findall(text))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        return timedelta.max


def parse_duration(text: str, *, option: str) -> timedelta:
    """A duration given to ``option``; anything else is one line naming the forms."""
    found = duration_of(text)
    if found is None:
        raise ConfigError(f"{option} {text[:SHOWN_INPUT]!r} is not a duration ({DURATION_FORMS})")
    return found


def short_age(seconds: float) -> str:
    """``45s``, ``12m``, ``3h5m``, ``2d4h``: the two largest units, for tables."""
    total = max(int(seconds), 0)
    units = (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (unit, size) in enumerate(units):
        if total >= size or unit == "s":
            first, rest = divmod(total, size)
            if unit in ("m", "s"):
                return f"{first}{unit}"
            smaller, smaller_size = units[index + 1]
            second = rest // smaller_size
            return f"{first}{unit}{second}{smaller}" if second else f"{first}{unit}"
    raise AssertionError("unreachable: seconds is the last unit")
