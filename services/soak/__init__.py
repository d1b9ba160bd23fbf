"""``make soak`` (``python -m services.soak`` underneath): the chaos soak. The demo's shop
(:mod:`services.demo`) takes thousands of orders while a seeded schedule SIGKILLs every kind
of process, pauses workers (SIGSTOP/SIGCONT), adds and removes workers (rebalance storms),
freezes the broker and crashes PostgreSQL (``-m immediate``) on a private stack; a
supervisor restarts what is down. Then a checker reads everything
(:mod:`services.soak.check`) and the run exits 1 naming the order on any violation.

``python -m services.soak --orders N --rate R --seed S --kills K [--shared-stack] [--json]``,
from the project's checkout (:mod:`services.soak.__main__`).
"""

from services.soak.run import Options, run

__all__ = ["Options", "run"]
