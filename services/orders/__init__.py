"""The orders service: the HTTP API (:mod:`services.orders.api`), the order saga
(:mod:`services.orders.saga`) and the participant that keeps each order row in step with
its saga (:mod:`services.orders.handlers`).

``saga worker services.orders --name orders`` hosts the saga and the participant;
``python -m services.orders.api`` serves the API. Both use ``SAGA_DATABASE_URL`` naming
the ``shop_orders`` database.
"""

from services.orders.handlers import orders
from services.orders.saga import OrderSaga

__all__ = ["OrderSaga", "orders"]
