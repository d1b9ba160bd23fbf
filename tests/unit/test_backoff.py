"""The one retry delay of relays and consumers: exponential, capped, jittered."""

from __future__ import annotations

from saga._backoff import backoff


def test_grows_exponentially_up_to_the_cap() -> None:
    for attempt, ceiling in [(0, 0.05), (1, 0.1), (3, 0.4), (5, 1.6), (6, 2.0), (60, 2.0)]:
        delays = [backoff(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays))


def test_is_jittered_so_processes_that_failed_together_spread_out() -> None:
    delays = {round(backoff(8), 6) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) < 1.5 < max(delays)
