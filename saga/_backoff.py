"""How long to wait before trying again after a failure (relays, consumers, workers)."""

from __future__ import annotations

import random

__all__ = ["backoff"]


def backoff(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> float:
    """Seconds to wait before try ``attempt + 1``: exponential up to ``cap``, with jitter.

    Half of the delay is fixed and half random ("equal jitter"), so that processes that
    failed together (a broker or database restart) do not all come back at the same moment,
    yet none retries in a tight loop.
    """
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 0), 16))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311  (timing, not security)
