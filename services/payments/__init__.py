"""The payments service: authorizations, voids, captures and refunds, with declines.

``saga worker services.payments --name payments`` hosts its participant; its database is
``shop_payments`` (``alembic -c services/alembic.ini -n payments upgrade head``).
"""

from services.payments.handlers import payments

__all__ = ["payments"]
