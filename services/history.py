"""One order's story: its row in the orders service and its saga's history.

::

    python -m services.history ORDER_ID

Reads the ``shop_orders`` database on the server of ``SAGA_DATABASE_URL`` (or of the stack
``saga stack up`` started): the order row, then one line per input the saga handled (the
event, deadline or signal; the move; what it emitted; the engine's note).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from uuid import UUID

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from saga import SagaError, Settings
from saga.settings import redact_error
from saga.stack import resolve_endpoints
from services.orders.saga import OrderSaga
from services.setup import service_urls


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    err = Console(stderr=True, soft_wrap=True)
    try:
        order_id = UUID(args[0]) if len(args) == 1 else None
    except ValueError:
        order_id = None
    if order_id is None:
        err.print("usage: python -m services.history ORDER_ID (a UUID, as the demo prints it)")
        return 2
    try:
        url = service_urls(resolve_endpoints(Settings()).database_url)["orders"]
    except SagaError as exc:
        err.print(f"error: {exc}")
        return 2
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT status, total_cents, placed_at FROM customer_order WHERE order_id = :o"
                ),
                {"o": order_id},
            ).first()
            history = conn.execute(
                text(
                    "SELECT seq, at, trigger, from_state, to_state, entry -> 'emitted', "
                    "entry ->> 'note' FROM saga_history WHERE saga = :saga AND instance_id = :o "
                    "ORDER BY seq"
                ),
                {"saga": OrderSaga.__saga__.name, "o": str(order_id)},
            ).all()
    except (OperationalError, ProgrammingError) as exc:
        why = redact_error(exc.orig or exc, url)
        err.print(f"error: cannot read shop_orders ({why}): run `make demo`")
        return 2
    finally:
        engine.dispose()
    out = Console(soft_wrap=True)
    if row is None:
        err.print(f"error: no order {order_id} in shop_orders")
        return 2
    out.print(
        f"order {order_id}: {row.status}, {row.total_cents / 100:.2f}, placed {row.placed_at}"
    )
    table = Table("#", "at", "input", "move", "emitted", "note")
    start = history[0].at if history else None
    for seq, at, trigger, source, target, emitted, note in history:
        table.add_row(
            str(seq),
            f"+{(at - start).total_seconds() * 1000:.0f} ms" if start else "",
            trigger.rsplit(".", 1)[-1],
            f"{source or '(new)'} → {target}",
            ", ".join(e[0].rsplit(".", 1)[-1] for e in emitted or []),
            note or "",
        )
    out.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
