"""``make demo`` (``python -m services.demo`` underneath): the shop on a real Kafka and
PostgreSQL.

It sets up the four services' databases (fresh each run) and this run's topics, starts
``saga worker services.<service>`` for orders, inventory, payments and shipping and the
orders HTTP API as processes, places orders at a steady rate through the API (a seed
decides which fail and why: out of stock, card declined, no carrier), kills one service
with SIGKILL and restarts it mid-run, lets a few customers cancel while it is down, waits
for every saga to end, stops every process with SIGTERM, and checks the invariants in the
services' databases (:mod:`services.demo.report`).

``python -m services.demo --orders N --rate R --seed S --kill SERVICE --json``, from the
project's checkout (:mod:`services.demo.__main__`).
"""

from services.demo.run import Options, run

__all__ = ["Options", "run"]
