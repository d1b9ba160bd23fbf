"""The example shop's event contracts as Python classes.

The classes are generated from ``avro/`` (the source of truth) into ``_generated.py`` by
``saga schemas generate``; this package re-exports them. The order saga is choreographed
with events only (no commands): each participant reacts to the facts the others publish.

* happy path: OrderPlaced → StockReserved → PaymentAuthorized → ShipmentScheduled →
  OrderApproved;
* StockReservationFailed → OrderRejected;
* PaymentDeclined → StockReleased (compensation) and OrderRejected;
* ShipmentFailed → PaymentRefunded and StockReleased (compensations) and OrderRejected.
"""

from services.contracts._generated import *  # noqa: F403
from services.contracts._generated import __all__ as __all__
