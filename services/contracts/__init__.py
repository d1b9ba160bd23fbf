"""The example shop's event contracts as Python classes.

The classes are generated from ``avro/`` (the source of truth) into ``_generated.py`` by
``saga schemas generate``; this package re-exports them. Each service's events live in its
namespace: the requests it handles (marked ``"role": "request"`` in their contracts, they
travel on ``<namespace>.requests``, which only that service reads) and the answers it gives
(on ``<namespace>``, which the order saga reads).

* ``shop.orders``: OrderPlaced (from the HTTP API; starts the order saga), OrderApproved and
  OrderCancelled (the saga's end, applied to the order row);
* ``shop.inventory``: ReserveStock → StockReserved | StockReservationFailed; ReleaseStock;
* ``shop.payments``: AuthorizePayment → PaymentAuthorized | PaymentDeclined; VoidPayment;
  CapturePayment → PaymentCaptured | CaptureFailed;
* ``shop.shipping``: ShipOrder → ShipmentScheduled | ShipmentFailed.

StockReleased, PaymentRefunded and OrderRejected are earlier contracts the shop does not
send today; published versions stay in ``avro/`` for readers of old events.
"""

from services.contracts._generated import *  # noqa: F403
from services.contracts._generated import __all__ as __all__
