"""The inventory service: stock per SKU, reservations for orders.

``saga worker services.inventory --name inventory`` hosts its participant; its database
(``shop_inventory``) is migrated by ``saga db upgrade`` (framework tables) and
``alembic -c services/alembic.ini -n inventory upgrade head`` (its own tables).
"""

from services.inventory.handlers import inventory

__all__ = ["inventory"]
