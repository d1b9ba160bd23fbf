"""Test support for saga authors.

- An in-memory runtime (:class:`Harness`) with virtual time, ``drain()`` and fault injection,
  driving the same processing path as the durable runtime: unit tests in milliseconds.
- pytest fixtures for a real Kafka and PostgreSQL (``kafka_bootstrap``, ``database_url``,
  ``kafka_topic``, ``fresh_database_url``), registered by the package's pytest plugin.
- :func:`eventually` to poll with a deadline instead of sleeping.
"""

from saga.testing._backend import TestBackend, select_test_backend
from saga.testing._memory import OrphanEvent
from saga.testing._poll import eventually
from saga.testing._replay import recorded_history, replay
from saga.testing.harness import Faults, Harness, VirtualClock

__all__ = [
    "Faults",
    "Harness",
    "OrphanEvent",
    "TestBackend",
    "VirtualClock",
    "eventually",
    "recorded_history",
    "replay",
    "select_test_backend",
]
