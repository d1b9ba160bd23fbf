"""Inbox claims are kept as long as Kafka may keep the records they claim."""

from __future__ import annotations

from datetime import timedelta

from saga.runtime.failures import inbox_horizon

DAY = 86_400_000


def test_a_record_may_stay_its_retention_and_a_whole_segment() -> None:
    # Kafka's defaults: 7 days of retention, 7-day segments, deleted whole.
    horizon = inbox_horizon({"t": {"retention.ms": str(7 * DAY), "segment.ms": str(7 * DAY)}})
    assert horizon is not None
    assert horizon > timedelta(days=14)
    assert horizon < timedelta(days=15)


def test_the_longest_topic_decides() -> None:
    configs = {
        "short": {"retention.ms": str(DAY), "segment.ms": str(DAY)},
        "long": {"retention.ms": str(30 * DAY), "segment.ms": str(DAY)},
    }
    horizon = inbox_horizon(configs)
    assert horizon is not None
    assert horizon > timedelta(days=31)


def test_compacted_or_unlimited_topics_need_claims_kept_for_good() -> None:
    assert inbox_horizon({"t": {"cleanup.policy": "compact"}}) is None
    assert inbox_horizon({"t": {"retention.ms": "-1"}}) is None
    both = inbox_horizon({"t": {"cleanup.policy": "compact,delete", "retention.ms": str(DAY)}})
    assert both is not None  # compacted, and deleted past retention


def test_no_topics_need_nothing_beyond_the_skew() -> None:
    assert inbox_horizon({}) == timedelta(hours=1)
