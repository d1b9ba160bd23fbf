"""Set the shop up on one PostgreSQL server and one Kafka cluster, idempotently.

::

    python -m services.setup [--fresh] [--topic-prefix P] [--partitions N]

For each service: its database (``shop_<service>``, created when missing, or dropped and
created again with ``--fresh``), the framework's tables (what ``saga db upgrade`` does) and
its own (what ``alembic -c services/alembic.ini -n <service> upgrade head`` does); then the
topics every worker reads and writes, with their dead-letter topics; then the warehouse's
first stock (:mod:`services.catalog`) when the inventory is empty. The server comes from
``SAGA_DATABASE_URL`` / ``SAGA_KAFKA_BOOTSTRAP`` or the stack ``saga stack up`` started.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import psycopg
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from saga import SagaError, Settings
from saga.contracts.topics import TopicMap
from saga.engine.hosting import Subscriptions, topic_uses
from saga.errors import TransportError
from saga.kafka.admin import create_topics, existing_topics
from saga.postgres.connect import engine_for
from saga.postgres.tables import upgrade_database
from saga.settings import redact_error
from saga.stack import Endpoints, resolve_endpoints
from services import inventory, orders, payments, shipping
from services.catalog import CATALOG
from services.common import SERVICES, database_name, upgrade
from services.inventory.handlers import receive
from services.inventory.tables import stock

PARTITIONS = 6


def service_urls(server_url: str) -> dict[str, str]:
    """Each service's database URL on the server of ``server_url``."""
    url = make_url(server_url)
    return {
        s: url.set(database=database_name(s)).render_as_string(hide_password=False)
        for s in SERVICES
    }


def create_databases(server_url: str, *, fresh: bool) -> None:
    """Create the services' databases (drop them first when ``fresh``: see
    :func:`start_afresh`, which also drops their relays' progress)."""
    admin = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        have = {
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                ([database_name(s) for s in SERVICES],),
            )
        }
        for service in SERVICES:
            name = sql.Identifier(database_name(service))
            if fresh and database_name(service) in have:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
                have.discard(database_name(service))
            if database_name(service) not in have:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def start_afresh(endpoints: Endpoints) -> None:
    """New, empty databases for the services, and no progress of their old outboxes.

    A relay is named after its database and keeps the ids of its last Kafka transaction in
    ``saga-relay.<database>.progress``, to mark rows an earlier relay published but did not
    mark. A new database under the old name is a new outbox whose ids start again at 1:
    its relays must not read the old outbox's progress, or they would mark new rows as
    published. So the progress topics go with the databases.
    """
    drop_topics(endpoints, names=progress_topics())
    create_databases(endpoints.database_url, fresh=True)


def migrate(urls: dict[str, str]) -> None:
    """The framework's tables, then the service's own, in each service's database."""
    for service, url in urls.items():
        upgrade_database(url)
        upgrade(service, url)


def hosts() -> Subscriptions:
    """Every saga and participant of the shop (what its four workers host)."""
    return Subscriptions.of(
        [orders.OrderSaga],
        [orders.orders, inventory.inventory, payments.payments, shipping.shipping],
    )


def topics(prefix: str) -> list[str]:
    """The topics the shop's workers read and write, and their dead-letter topics."""
    uses = topic_uses(hosts(), TopicMap(prefix=prefix))
    return [*uses, *(f"{prefix}{service}.dead-letters" for service in SERVICES)]


def make_topics(endpoints: Endpoints, prefix: str, partitions: int = PARTITIONS) -> list[str]:
    config = Settings().kafka_config(endpoints.kafka_bootstrap)
    return create_topics(config, topics(prefix), partitions=partitions)


def progress_topics() -> list[str]:
    """The relays' progress topics of the services' outboxes (``saga-relay.<database>...``)."""
    return [f"saga-relay.{database_name(s)}.progress" for s in SERVICES]


def drop_topics(endpoints: Endpoints, *, prefix: str = "", names: Sequence[str] = ()) -> list[str]:
    """Delete the topics named, or starting with ``prefix``; wait until they are gone."""
    config = Settings().kafka_config(endpoints.kafka_bootstrap)
    doomed = sorted(
        t for t in existing_topics(config) if (prefix and t.startswith(prefix)) or t in names
    )
    if not doomed:
        return []
    admin = AdminClient(config)  # held until the futures are done
    try:
        for future in admin.delete_topics(doomed).values():
            future.result(30)
    except KafkaException as exc:
        raise TransportError(f"cannot delete topics of an earlier run: {exc}") from None
    deadline = time.monotonic() + 30
    while set(doomed) & set(existing_topics(config)):  # deletion completes in the background
        if time.monotonic() > deadline:
            raise TransportError(f"Kafka did not delete {', '.join(doomed)} within 30s")
        time.sleep(0.1)
    return doomed


def stock_up(inventory_url: str) -> bool:
    """The warehouse's first delivery, when it holds nothing yet; True when it came."""
    engine = engine_for(inventory_url)
    try:
        with Session(engine) as session, session.begin():
            if session.scalar(select(func.count()).select_from(stock)):
                return False
            receive(session, {p.sku: p.stock for p in CATALOG})
            return True
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.setup", description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="drop the databases first")
    parser.add_argument("--topic-prefix", default="", help="prefix of every topic")
    parser.add_argument("--partitions", type=int, default=PARTITIONS)
    args = parser.parse_args(argv)
    try:
        endpoints = resolve_endpoints(Settings())
        urls = service_urls(endpoints.database_url)
        if args.fresh:
            start_afresh(endpoints)
        create_databases(endpoints.database_url, fresh=False)
        migrate(urls)
        created = make_topics(endpoints, args.topic_prefix, args.partitions)
        stocked = stock_up(urls["inventory"])
    except (SagaError, psycopg.OperationalError) as exc:
        why = redact_error(exc, *Settings().secret_values())
        print(f"error: {why}: run `saga stack up` or check SAGA_DATABASE_URL", file=sys.stderr)
        return 2
    print(f"databases: {', '.join(database_name(s) for s in SERVICES)} migrated")
    print(f"topics: {len(created)} created")
    print("stock: first delivery received" if stocked else "stock: kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
