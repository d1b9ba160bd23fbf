"""The shipping service: shipments handed to carriers, and refusals.

``saga worker services.shipping --name shipping`` hosts its participant; its database is
``shop_shipping`` (``alembic -c services/alembic.ini -n shipping upgrade head``).
"""

from services.shipping.handlers import shipping

__all__ = ["shipping"]
