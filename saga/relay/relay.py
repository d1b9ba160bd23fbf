"""The relay: publishes committed outbox rows to Kafka, exactly once, in per-key order.

Run it as ``saga relay`` or embed it (``Relay(...).run(stop_event)``). How it stays right:

* **No committed row is ever skipped.** The relay keeps no cursor: it reads rows that are
  not yet marked published, in id order, so a transaction that commits after rows with
  larger ids simply shows up in a later read.
* **Per-key order.** A key hashes to one lane; one relay holds a lane at a time (lease rows
  in PostgreSQL share the lanes out) and publishes its rows in id order, one Kafka
  transaction after another. Ids follow insertion time (an uncached identity), so an event
  written after another one committed has the larger id; and a read (one snapshot) that
  sees the newer row sees the older one too, since it committed first.
* **Fencing.** Each lane has its own transactional producer id. A relay taking a lane over
  calls ``init_transactions``, which fences every earlier producer of the lane: a paused
  relay that wakes up cannot commit anything any more, whatever it believes about its lease.
* **Exactly-once publication.** Each lane transaction carries, with the events, a progress
  record listing the outbox ids it publishes, plus those of the lane's previous transaction
  while their marking may still be under way (see ``saga.relay._progress``). Rows are
  marked in PostgreSQL only after their transaction committed; if the relay dies before,
  whoever recovers the lane reads the last committed progress record and marks those rows
  instead of publishing them again. ``read_committed`` consumers therefore see each row
  exactly once.
* **Pipelined rounds, same order as one read at a time.** While the lanes run the Kafka
  transactions of batch N, the relay marks batch N-1 (on a connection of its own) and, when
  batch N was full, reads batch N+1: the first rows in id order that are pending, leaving
  out by id exactly the rows of N and those of N-1 not known to be marked. That is what a
  read would return once they are published, so the argument above holds for every read:
  if a key's newer row is visible, its older one committed before and is visible too, and
  comes first. (Reading "ids above batch N's" instead would skip an older row that commits
  late below N and publish the key's next row before it.) A lane publishes batch N+1 only
  if its whole batch N committed; otherwise the rows read behind it are dropped and read
  again, so refusals and retries keep each key's order.
* **Poison rows.** A row Kafka refuses for good (e.g. larger than the broker accepts) is
  marked refused with its error; later rows of the same key wait behind it (so order is
  never broken) while every other key flows. ``requeue_refused`` / ``discard_refused``
  release it.

**At-least-once delivery** (``delivery="at-least-once"``, ``SAGA_RELAY_DELIVERY``) trades the
last point for speed: each lane publishes with an idempotent producer and no transaction
(measured on one broker, a one-record transaction with its progress record costs the broker
about 8 times the CPU of the same record produced idempotently, and at low rates there is a
transaction per event). Rows are
marked once the broker acknowledged them. A relay that dies between the acknowledgement and
the mark, or one that lost its lease while publishing, publishes rows again: consumers
see copies with the same event id, which every framework consumer drops in its inbox, so
effects stay exactly-once; a plain consumer sees the copies. Per-key order of first
deliveries still holds (see :class:`~saga.relay._lane.IdempotentLane`). Switching between
the two is safe at any time: unmarked rows are published again.

Wake-ups come from LISTEN/NOTIFY (a trigger notifies on every outbox insert), with a
fallback poll every ``poll_interval`` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
from confluent_kafka import KafkaException
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from saga._backoff import backoff
from saga._crashpoints import crash_point
from saga.errors import ConfigError, TransportError
from saga.kafka.log import kafka_logger
from saga.observability import metrics as _metrics
from saga.postgres import relay_store as store
from saga.postgres.connect import engine_for, keepalives_for
from saga.postgres.maintenance import Lag, cleanup_outbox, outbox_lag
from saga.postgres.tables import OUTBOX_CHANNEL, OUTBOX_LANES
from saga.relay._lane import BatchResult, IdempotentLane, LaneOutcome, LaneProducer
from saga.relay._progress import Progress, ProgressReader, ensure_topic
from saga.settings import Settings, check_database_url, redact_error

__all__ = ["DELIVERIES", "Relay", "default_relay_name"]

#: How the relay publishes (``Relay(delivery=...)``, ``SAGA_RELAY_DELIVERY``): see the
#: module docstring.
DELIVERIES = ("exactly-once", "at-least-once")

_log = logging.getLogger("saga.relay.relay")
# The relay's own statements are short: one that hangs (a lock it waits on) fails instead.
_RELAY_SESSION = "-c statement_timeout=60000 -c idle_in_transaction_session_timeout=60000"


class _LeaseKeeper:
    """Renews this relay's leases and membership from a thread of its own, so that they hold
    while a round blocks (a commit may wait ``kafka_timeout``, longer than the lease) - as
    long as the main loop is alive: once it has not begun a step for ``bound`` seconds the
    keeper stops and the leases lapse, so another relay takes the lanes over (fencing the
    stuck producers)."""

    def __init__(self, url: str, relay_id: str, ttl: timedelta, every: float, bound: float) -> None:
        self._url, self._relay_id, self._ttl = url, relay_id, ttl
        self._every, self._bound = every, bound
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="saga-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        self._beat = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            while not self._stop.wait(self._every):
                if time.monotonic() - self._beat > self._bound:
                    continue  # the main loop is stuck: let the leases lapse
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(
                            self._url,
                            autocommit=True,
                            connect_timeout=10,
                            **keepalives_for(self._url),
                        )
                    store.heartbeat(conn, self._relay_id, self._ttl)
                    store.renew(conn, self._relay_id, self._ttl)
                except psycopg.Error:
                    # The main loop reports database outages; try again next time.
                    if conn is not None:
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()


# Longest run of back-to-back batches in one step (lease upkeep and stop requests wait).
_STEP_SECONDS = 1.0


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def default_relay_name(database_url: str) -> str:
    """The relay name when none is given: the database's name."""
    return make_url(database_url).database or "saga"


class Relay:
    """Publishes ``saga_outbox`` rows of one database to Kafka (see the module docstring).

    ``name`` must be unique per outbox across the Kafka cluster: it names the lanes'
    transactional ids and the progress topic (``saga-relay.<name>.progress``). It defaults
    to the database name. Several relays with the same name and database share the lanes.
    """

    def __init__(
        self,
        database_url: str,
        kafka_bootstrap: str,
        *,
        name: str | None = None,
        settings: Settings | None = None,
        batch_size: int = 5000,
        batch_bytes: int = 32 * 1024 * 1024,
        lease_seconds: float = 10.0,
        poll_interval: float = 1.0,
        kafka_timeout: float = 15.0,
        retention: timedelta | None = timedelta(days=1),
        cleanup_interval: float = 60.0,
        delivery: str | None = None,
    ) -> None:
        settings = settings or Settings()
        self.delivery = delivery or settings.relay_delivery
        if self.delivery not in DELIVERIES:
            raise ConfigError(
                f"relay delivery {self.delivery!r}: choose one of {', '.join(DELIVERIES)}"
            )
        if (
            batch_size < 1
            or batch_bytes < 1
            or lease_seconds <= 0
            or poll_interval <= 0
            or kafka_timeout <= 0
        ):
            raise ConfigError(
                "Relay needs batch_size and batch_bytes >= 1 and positive lease_seconds, "
                "poll_interval and kafka_timeout"
            )
        self.name = name or default_relay_name(database_url)
        if not self.name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigError(
                f"relay name {self.name!r} must use letters, digits, '.', '_' and '-' only: "
                "it becomes part of Kafka topic and transactional ids"
            )
        check_database_url(database_url)
        self.relay_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.progress_topic = f"saga-relay.{self.name}.progress"
        self._url = _plain_url(database_url)
        # Lag and retention: rare, off the hot path, through the admin functions.
        self._admin = engine_for(self._url, poolclass=NullPool)
        self._secrets = (database_url, *settings.secret_values())  # masked in warnings
        self._kafka: dict[str, Any] = {
            **settings.kafka_config(kafka_bootstrap),
            "logger": kafka_logger(),
        }
        self._producer_config: dict[str, Any] = {
            "partitioner": settings.partitioner,
            **self._kafka,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": max(100_000, batch_size * 2),
            "transaction.timeout.ms": 60_000,
            "message.timeout.ms": 50_000,
            # Only failed records need a report (to refuse them); one per record costs Python
            # time for every row published.
            "delivery.report.only.error": True,
        }
        self._batch_size = batch_size
        self._batch_bytes = batch_bytes  # a batch's keys and values, at most (one row more)
        self._ttl = timedelta(seconds=lease_seconds)
        self._maintain_every = lease_seconds / 3
        self._poll_interval = poll_interval
        self._kafka_timeout = kafka_timeout
        self._retention = retention
        self._cleanup_interval = cleanup_interval

        self._db: psycopg.Connection | None = None
        self._outbox: uuid.UUID | None = None  # the outbox's identity, read on connecting
        # Marks batch N-1 while the main connection reads batch N+1: both are on the
        # critical path of a round, and they overlap well.
        self._marking_db: psycopg.Connection | None = None
        self._listener: psycopg.Connection | None = None
        self._progress: ProgressReader | None = None
        # Lanes held and recovered: publishing.
        self._lanes: dict[int, LaneProducer | IdempotentLane] = {}
        self._recovering: dict[int, float] = {}  # lanes held, recovery due at this time
        self._retry_at: dict[int, float] = {}
        self._failures: dict[int, int] = defaultdict(int)
        # Rows in a record batch the broker refused; each is retried alone to find the bad one.
        self._suspects: dict[int, set[int]] = defaultdict(set)
        self._next_maintenance = 0.0
        self._next_cleanup = time.monotonic() + cleanup_interval
        self._pool = ThreadPoolExecutor(max_workers=OUTBOX_LANES, thread_name_prefix="saga-lane")
        self._marker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="saga-mark")
        self._setup_done = False
        self._more = False  # the last round may have left rows pending: read again at once
        self.renewals = 0  # producers replaced after an aborted transaction

    # -- public ----------------------------------------------------------------------------

    @property
    def lanes(self) -> frozenset[int]:
        """Lanes this relay holds and publishes right now."""
        return frozenset(self._lanes)

    def run(self, stop: threading.Event | None = None) -> None:
        """Publish until ``stop`` is set; recovers from Kafka and PostgreSQL outages."""
        stop = stop or threading.Event()
        attempt = 0
        # A round blocks at most: the produce wait and the commit (kafka_timeout each).
        keeper = _LeaseKeeper(
            self._url,
            self.relay_id,
            self._ttl,
            self._maintain_every,
            bound=3 * self._kafka_timeout + self._ttl.total_seconds(),
        )
        keeper.start()
        try:
            while not stop.is_set():
                try:
                    keeper.beat()
                    published = self.step()
                    attempt = 0
                    if published == 0 or not self._more:
                        # A round that took every pending row ends in a wait: a row committed
                        # since the read has notified, so the wait ends at once (one read
                        # less per round). Inside the try: the listener's connection breaks
                        # when PostgreSQL does.
                        self._wait(stop)
                except (psycopg.Error, TransportError) as exc:
                    attempt += 1
                    _log.warning(
                        "relay %s: %s; starting over",
                        self.relay_id,
                        redact_error(exc, *self._secrets),
                    )
                    self._reset()
                    stop.wait(backoff(attempt))
        finally:
            keeper.stop()
            self.close()

    def step(self) -> int:
        """Lease upkeep when due, then one round of publication; returns rows published."""
        self._connect()
        now = time.monotonic()
        if now >= self._next_maintenance:
            self._maintain()
            self._next_maintenance = now + self._maintain_every
        self._recover_due()
        if self._retention is not None and now >= self._next_cleanup:
            self._cleanup(self._retention)
            self._next_cleanup = now + self._cleanup_interval
        return self._publish_round()

    def lag(self) -> Lag:
        """Backlog size, age of the oldest unpublished row, refused rows (no Kafka needed)."""
        with self._admin.connect() as conn:
            return outbox_lag(conn)

    def _cleanup(self, older_than: timedelta) -> None:
        """Retention: published rows older than ``older_than``, a chunk per transaction."""
        for _ in range(100):  # bounded; the next cleanup goes on
            with self._admin.begin() as conn:
                if cleanup_outbox(conn, older_than) < 10_000:
                    return

    def close(self) -> None:
        """Give the lanes back and close connections (a crash leaves leases to expire)."""
        for producer in self._lanes.values():
            producer.close()
        self._lanes.clear()
        self._recovering.clear()
        if self._db is not None and not self._db.closed:
            with contextlib.suppress(psycopg.Error):  # the leases expire on their own
                store.leave(self._db, self.relay_id)
            self._db.close()
        for conn in (self._listener, self._marking_db):
            if conn is not None:
                conn.close()
        if self._progress is not None:
            self._progress.close()
        self._db = self._listener = self._marking_db = None
        self._progress = None
        self._pool.shutdown(wait=True)
        self._marker.shutdown(wait=True)
        self._admin.dispose()

    # -- connections and leases -------------------------------------------------------------

    def _conn(self) -> psycopg.Connection:
        assert self._db is not None
        return self._db

    def _connect(self) -> None:
        self._connect_db()
        if not self._setup_done:
            if self.delivery == "exactly-once":
                # A broker that is away or refuses the login raises TransportError: run()
                # waits it out like any outage.
                ensure_topic(self._kafka, self.progress_topic, OUTBOX_LANES, self._kafka_timeout)
                self._progress = ProgressReader(self._kafka, self.progress_topic)
            self._setup_done = True

    def _connect_db(self) -> None:
        if self._db is None or self._db.closed:
            self._db = self._connect_one()
            store.read_in_id_order(self._db)
            self._marking_db = self._connect_one()
            self._listener = self._connect_one()
            self._listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
            try:
                store.ensure_lanes(self._db)
                outbox, named = store.outbox_identity(self._db, self.name)
            except psycopg.errors.UndefinedTable:
                # Not an outage to wait out: only an upgrade makes the tables.
                self._reset()
                raise ConfigError(
                    "the framework's tables are missing in this database: run `saga db upgrade`"
                ) from None
            if named != self.name:
                self._reset()
                raise ConfigError(
                    f"this outbox is relayed under the name {named!r}, not {self.name!r}: "
                    f"relays of two names would publish its rows twice; run the relay with "
                    f"--name {named} (a worker's relay: --relay-name), or, to rename it, stop "
                    "every relay of the outbox and set saga_outbox_identity.relay_name to null"
                )
            if self._outbox is not None and outbox != self._outbox:
                # Another outbox under the same URL: nothing held or learned still applies.
                _log.warning(
                    "relay %s: the outbox at this URL is a new one (identity %s, was %s): "
                    "its database was created again; starting over",
                    self.relay_id,
                    outbox,
                    self._outbox,
                )
                for producer in self._lanes.values():
                    producer.close()
                self._lanes.clear()
                self._recovering.clear()
                self._suspects.clear()
            self._outbox = outbox
            self._next_maintenance = 0.0

    def _connect_one(self) -> psycopg.Connection:
        # Added to the URL's own options, if it has any (search_path, say).
        given = conninfo_to_dict(self._url).get("options")
        return psycopg.connect(
            self._url,
            autocommit=True,
            connect_timeout=10,
            options=f"{given} {_RELAY_SESSION}" if given else _RELAY_SESSION,
            **keepalives_for(self._url),
        )

    def _reset(self) -> None:
        """Forget every lane and connection; the next step starts over (always safe)."""
        for producer in self._lanes.values():
            producer.close()
        self._lanes.clear()
        self._recovering.clear()
        for conn in (self._db, self._listener, self._marking_db):
            if conn is not None:
                conn.close()
        self._db = self._listener = self._marking_db = None

    def _maintain(self) -> None:
        conn = self._conn()
        alive = store.heartbeat(conn, self.relay_id, self._ttl)
        held = store.renew(conn, self.relay_id, self._ttl)
        known = set(self._lanes) | set(self._recovering)
        for lane in known - held:
            _log.info("relay %s lost lane %d", self.relay_id, lane)
            self._drop(lane)
        fair = store.fair_share(alive)
        if len(held) > fair:
            excess = sorted(held)[fair:]
            store.release(conn, self.relay_id, excess)
            for lane in excess:
                self._drop(lane)
            held -= set(excess)
        elif len(held) < fair:
            held |= store.acquire(conn, self.relay_id, self._ttl, fair - len(held))
        for lane in held - set(self._lanes) - set(self._recovering):
            self._recovering[lane] = 0.0

    def _drop(self, lane: int) -> None:
        self._suspects.pop(lane, None)
        producer = self._lanes.pop(lane, None)
        if producer is not None:
            producer.close()
        self._recovering.pop(lane, None)

    def _recover_due(self) -> None:
        now = time.monotonic()
        due = sorted(lane for lane, at in self._recovering.items() if at <= now)
        if not due:
            return
        # New producers in parallel: init_transactions waits on the broker per lane.
        outcomes = list(self._pool.map(self._fence, due))
        fenced = {o.lane: o for o in outcomes if not isinstance(o, str)}
        for lane, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, str):
                self._recovery_failed(lane, outcome)
        if not fenced:
            return
        if self._progress is None:  # at-least-once: rows not marked are published again
            self._held(fenced)
            return
        try:
            committed = self._progress.last(sorted(fenced), self._kafka_timeout)
        except TransportError as exc:
            for lane, producer in fenced.items():
                producer.close()
                self._recovery_failed(lane, str(exc))
            return
        # Rows of each lane's last committed transaction: published, perhaps never marked.
        # Only a record of this outbox names its rows: ids mean nothing in another one.
        ours = [i for p in committed.values() if p.outbox == self._outbox for i in p.ids]
        for lane, progress in sorted(committed.items()):
            if progress.outbox != self._outbox:
                self._foreign_progress(lane, progress)
        marked = store.mark_published(self._conn(), ours)
        if marked:
            _log.warning(
                "relay %s: marked %d rows that an earlier relay published but did not mark",
                self.relay_id,
                marked,
            )
        self._held(fenced)

    def _held(self, fenced: dict[int, LaneProducer | IdempotentLane]) -> None:
        for lane, producer in fenced.items():
            self._failures[lane] = 0
            del self._recovering[lane]
            self._lanes[lane] = producer
            _log.info("relay %s holds lane %d", self.relay_id, lane)

    def _foreign_progress(self, lane: int, progress: Progress) -> None:
        """Report a lane's last progress record that another outbox's relay wrote."""
        if progress.outbox is None:
            whose = "a relay from before outboxes had an identity"
            hint = "if it stopped without marking them, those rows are published again"
        else:
            whose = f"the relay of another outbox (identity {progress.outbox})"
            hint = (
                "this database was created again under the same name, or two outboxes "
                f"share the relay name {self.name!r}: give each relay its own --name"
            )
        _log.warning(
            "relay %s: lane %d's last record on %s was written by %s, not for this outbox "
            "(identity %s); its %d row ids are not marked here: %s",
            self.relay_id,
            lane,
            self.progress_topic,
            whose,
            self._outbox,
            len(progress.ids),
            hint,
        )

    def _fence(self, lane: int) -> LaneProducer | IdempotentLane | str:
        if self.delivery == "at-least-once":
            return IdempotentLane(self._producer_config, lane, self._kafka_timeout)
        assert self._outbox is not None  # read on connecting, before any lane is held
        producer = LaneProducer(
            self._producer_config,
            f"saga-relay.{self.name}.{lane}",
            lane,
            self.progress_topic,
            outbox=self._outbox,
        )
        try:
            producer.init(self._kafka_timeout)  # fences every earlier producer of the lane
        except KafkaException as exc:
            producer.close()
            return str(exc)
        return producer

    def _recovery_failed(self, lane: int, error: str) -> None:
        self._failures[lane] += 1
        self._recovering[lane] = time.monotonic() + backoff(self._failures[lane])
        _log.warning("relay %s: lane %d not recovered yet: %s", self.relay_id, lane, error)

    # -- publication --------------------------------------------------------------------------

    def _publish_round(self) -> int:
        """Publish batch after batch while batches come full and the step's time lasts.

        Pipelined: while the lanes run the Kafka transactions of batch N, a second connection
        marks the rows of batch N-1 (committed on Kafka) and this thread, if batch N was
        full, reads batch N+1 (pending rows but those of N and N-1). A row is marked only after its
        transaction committed; until its marking is known to be done, the lane's next
        progress record lists it again (``unmarked``), so a crash at any point leaves
        recovery a record that names it.
        Everything published is marked before this returns. A short batch ends the step:
        measured, that keeps commit-to-visible latency lower than reading again at once.
        """
        deadline = min(time.monotonic() + _STEP_SECONDS, self._next_maintenance)
        rows = self._read()
        self._more = False
        unmarked: dict[int, list[int]] = {}  # lane: committed ids, marking not done yet
        total = 0
        while rows:
            # Only a full batch hints at more backlog: then read ahead while the lanes run.
            full = len(rows) >= self._batch_size or (
                sum(len(r.key) + len(r.value) for r in rows) >= self._batch_bytes
            )
            by_lane: dict[int, list[store.PendingRow]] = defaultdict(list)
            for row in rows:
                by_lane[row.lane].append(row)
            work = [
                (self._lanes[lane], self._isolate(lane, lane_rows), unmarked.get(lane, []))
                for lane, lane_rows in by_lane.items()
            ]
            timeout = self._kafka_timeout
            futures = [self._pool.submit(p.publish, r, timeout, u) for p, r, u in work]
            marking = self._marker.submit(self._mark, [i for ids in unmarked.values() for i in ids])
            try:
                ahead = full and time.monotonic() < deadline
                following: list[store.PendingRow] = []
                if ahead:
                    crash_point("relay.before_read_ahead")
                    # What a full read returns once batch N and the rows of N-1 still being
                    # marked are published: a row that committed late below them is in it.
                    in_flight = [r.id for r in rows] + [i for ids in unmarked.values() for i in ids]
                    following = self._read(skip=in_flight)
            finally:
                try:
                    results = [f.result() for f in futures]  # never leave a lane running
                finally:
                    marking.result()
            unmarked = {}
            refused: dict[int, str] = {}
            clean: set[int] = set()  # lanes whose batch went through whole
            for (producer, _, _), result in zip(work, results, strict=True):
                self._settle(producer.lane, result)
                refused.update(result.refused)
                if result.outcome is LaneOutcome.COMMITTED:
                    unmarked[producer.lane] = result.published
                    total += len(result.published)
                    if len(result.published) == len(by_lane[producer.lane]):
                        clean.add(producer.lane)
            if refused:
                store.refuse(self._conn(), refused)
                for row_id, error in refused.items():
                    _log.error(
                        "relay %s: Kafka refused outbox row %d for good: %s",
                        self.relay_id,
                        row_id,
                        error,
                    )
            if full or refused or len(clean) < len(by_lane):
                self._more = True
            # A lane whose batch did not go through whole (held back behind a suspect, refused for
            # good, turned away, aborted, lost) must not publish rows read behind it.
            rows = [
                r
                for r in following
                if (r.lane in clean or r.lane not in by_lane)
                and r.lane in self._lanes
                and r.lane not in self._retry_at
            ]
        self._mark([i for ids in unmarked.values() for i in ids])
        if total and _metrics.enabled():
            _metrics.published.add(total, {"saga.relay": self.name})
        return total

    def _read(self, skip: list[int] | None = None) -> list[store.PendingRow]:
        now = time.monotonic()
        ready = sorted(lane for lane in self._lanes if self._retry_at.get(lane, 0.0) <= now)
        if not ready:
            return []
        return store.read_pending(
            self._conn(), ready, self._batch_size, skip, budget=self._batch_bytes
        )

    def _mark(self, ids: list[int]) -> None:
        if ids:
            assert self._marking_db is not None
            store.mark_published(self._marking_db, ids)
            crash_point("relay.after_mark")

    def _isolate(self, lane: int, rows: list[store.PendingRow]) -> list[store.PendingRow]:
        """Rows before the first suspect, or the first suspect alone."""
        suspects = self._suspects.get(lane)
        if not suspects:
            return rows
        for index, row in enumerate(rows):
            if row.id in suspects:
                return rows[: max(1, index)]
        return rows

    def _settle(self, lane: int, result: BatchResult) -> None:
        self._suspects[lane] -= set(result.published) | set(result.refused)
        self._suspects[lane] |= result.suspects
        if result.outcome is LaneOutcome.COMMITTED:
            self._retry_at.pop(lane, None)
            self._failures[lane] = 0
            return
        self._failures[lane] += 1
        if result.outcome is LaneOutcome.RESET:
            _log.warning("relay %s: lane %d reset: %s", self.relay_id, lane, result.error)
            self._drop(lane)
            self._recovering[lane] = time.monotonic() + backoff(self._failures[lane])
            return
        if not result.refused and not result.suspects:  # passing failure (broker away)
            _log.warning("relay %s: lane %d retries: %s", self.relay_id, lane, result.error)
            self._retry_at[lane] = time.monotonic() + backoff(self._failures[lane])
        if result.produced:
            self._renew(lane)

    def _renew(self, lane: int) -> None:
        """A new producer for a lane whose transaction was aborted after records went out.

        librdkafka has no transaction version 2 (KIP-890): a produce request of the aborted
        transaction still in flight can be appended to the next transaction of the same
        producer epoch. A new producer's ``init_transactions`` bumps the epoch, and the
        broker refuses whatever the old epoch still sends. The lane keeps its suspects."""
        producer = self._lanes.pop(lane, None)
        if producer is not None:
            producer.close()
        self._recovering[lane] = self._retry_at.pop(lane, time.monotonic())
        self.renewals += 1

    def _wait(self, stop: threading.Event) -> None:
        if stop.is_set() or self._listener is None:
            return
        timeout = max(0.0, min(self._poll_interval, self._next_maintenance - time.monotonic()))
        if self._retry_at:
            timeout = min(timeout, max(0.0, min(self._retry_at.values()) - time.monotonic()))
        if self._recovering:
            timeout = min(timeout, max(0.0, min(self._recovering.values()) - time.monotonic()))
        for _ in self._listener.notifies(timeout=timeout, stop_after=1):
            pass
