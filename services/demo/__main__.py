"""``python -m services.demo`` (what ``make demo`` runs): parse the options, bring the stack
up (or use ``SAGA_KAFKA_BOOTSTRAP`` and ``SAGA_DATABASE_URL``) and run the demo."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from saga.postgres.connect import database_errors
from services.cli import main, program, require_checkout, stack_endpoints
from services.demo.run import Options, run

app = program("The example shop on a real Kafka and PostgreSQL.")


@app.command()
def demo(
    orders: Annotated[int, typer.Option(min=1, help="orders to place")] = 400,
    rate: Annotated[float, typer.Option(min=0.1, max=5000, help="orders per second")] = 25.0,
    seed: Annotated[int, typer.Option(help="decides the orders and which of them fail")] = 7,
    kill: Annotated[
        str, typer.Option(help="service killed (SIGKILL) and restarted mid-run, or none")
    ] = "inventory",
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as JSON, no live view")
    ] = False,
) -> None:
    """Run the example shop: four services, the order saga, failures, a kill; then check
    the invariants (exit 1 when one fails). Run it from the project's checkout."""
    require_checkout("demo")
    options = Options(orders=orders, rate=rate, seed=seed, kill=kill, as_json=as_json)
    options.check()  # before the stack comes up
    console = Console(soft_wrap=True, stderr=as_json)
    endpoints = stack_endpoints(console)
    with database_errors(endpoints.database_url):
        code = run(endpoints, options, Console(soft_wrap=True))
    raise typer.Exit(code)


if __name__ == "__main__":
    main(app)
