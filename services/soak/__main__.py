"""``python -m services.soak`` (what ``make soak`` runs): parse the options and run the soak.

By default the soak starts a Kafka and a PostgreSQL of its own (``<stack dir>/soak``, free
ports), because it stops and crashes them; ``--shared-stack`` uses the usual stack (or
``SAGA_KAFKA_BOOTSTRAP`` and ``SAGA_DATABASE_URL``) and leaves the servers alone.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from saga.postgres.connect import database_errors
from services.cli import main, program, require_checkout, stack_endpoints
from services.soak.run import Options, run

app = program("The chaos soak on the example shop.")


@app.command()
def soak(
    orders: Annotated[int, typer.Option(help="orders to place")] = 10_000,
    rate: Annotated[float, typer.Option(help="orders per second")] = 25.0,
    seed: Annotated[int, typer.Option(help="decides the orders and the fault schedule")] = 16,
    kills: Annotated[int, typer.Option(help="SIGKILLs of random processes")] = 100,
    private_stack: Annotated[
        bool,
        typer.Option(
            "--private-stack/--shared-stack",
            help="a Kafka and PostgreSQL of the soak's own, restarted on schedule; or the "
            "usual stack, which the soak never stops (no broker or database restarts)",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Run the shop under a seeded fault schedule (kills, pauses, rebalance storms, broker
    and database restarts), then check that nothing was lost or doubled (exit 1 naming the
    order on any violation). Run it from the project's checkout."""
    require_checkout("soak")
    options = Options(
        orders=orders,
        rate=rate,
        seed=seed,
        kills=kills,
        private_stack=private_stack,
        as_json=as_json,
    )
    options.check()  # before anything starts
    console = Console(soft_wrap=True, stderr=as_json)
    if private_stack:
        code = run(None, options, Console(soft_wrap=True))
    else:
        endpoints = stack_endpoints(console)
        with database_errors(endpoints.database_url):
            code = run(endpoints, options, Console(soft_wrap=True))
    raise typer.Exit(code)


if __name__ == "__main__":
    main(app)
