"""The test sagas, participants and events that more than one suite uses, in one place.

- ``shop``: ``OrderSaga``, ``TripSaga``, the ``Shop`` services that answer them, ``placed``
  (events ``test.shop.*``)
- ``jobs``: small events and the ``Job`` model for the DSL and engine tests (``test.unit.*``)

Event names, saga names and versions are what recorded histories
(``tests/fixtures/histories``), contract folders and running workers know them by: a change
here is a change to those. Modules that a process or a command line names by dotted path
(``tests.contract.shop``, ``tests.integration.worker.app``) import from here.
"""

from __future__ import annotations

from typing import Any


def avro(full_name: str, **fields: Any) -> dict[str, Any]:
    """An Avro record schema (what the .avsc in avro/ would hold)."""
    namespace, _, name = full_name.rpartition(".")
    return {
        "type": "record",
        "name": name,
        "namespace": namespace,
        "fields": [{"name": k, "type": v} for k, v in fields.items()],
    }
