"""Test support for saga authors: pytest fixtures for a real Kafka and PostgreSQL, and
(in ``saga.testing.harness``) an in-memory runtime with virtual time."""

from saga.testing._poll import eventually
from saga.testing._select import TestBackend, select_test_backend

__all__ = ["TestBackend", "eventually", "select_test_backend"]
