"""A plain inbox consumer: one handler function, each event's effect applied exactly once.

:class:`InboxConsumer` runs the runtime's one loop (:mod:`saga.runtime.loop`) for a
confluent-kafka ``Consumer`` the caller built and subscribed, and a handler called with the
unit of work's ``Session`` and the decoded event: one database transaction per polled
batch, handlers called in partition order, each event claimed in the inbox
(:mod:`saga.postgres.inbox`) under ``group`` in that same transaction, Kafka offsets
committed after the database commit. A crash before the commit means the batch comes again;
a crash after it loses nothing, and the redelivery is skipped.

**Dead letters** (opt-in: ``dead_letter_topic=``). An event whose handler still fails after
``attempts`` tries, or whose message cannot be decoded, is written to the outbox for the
dead-letter topic in the transaction that claims its event id: original key, value and
headers, plus ``dead-letter-error`` (exception type and message, at most 1 KiB),
``dead-letter-source`` (``topic[partition]@offset``) and ``dead-letter-group`` (``group``).
The relay publishes it exactly once and the partition moves on. Without a dead-letter topic,
a failing event stops the consumer, after the offsets of the events before it are
committed. Outages (database, broker, schema registry) are waited out by :meth:`run`.

**Retention.** :meth:`InboxConsumer.run` deletes its group's inbox rows older than
``retention`` (default 7 days) every ``cleanup_interval`` seconds, between batches.

A worker (:class:`~saga.runtime.worker.Worker`) is the richer face of the same loop: typed
participants, sagas, deadlines and its own relay. Use this one to put exactly-once effects
behind a handler of your own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from confluent_kafka import Consumer
from sqlalchemy.orm import Session, sessionmaker

from saga._crashpoints import crash_point
from saga.contracts.serde import Decoded
from saga.engine.hosting import Handler
from saga.engine.messages import Message
from saga.kafka.records import consumer_config
from saga.postgres.inbox import Inbox
from saga.postgres.store import PgStore
from saga.runtime.loop import ConsumerLoop, EventDecoder, LoopOptions

__all__ = ["EventDecoder", "InboxConsumer", "InboxHandler", "consumer_config"]

_log = logging.getLogger("saga.inbox")

#: A handler applies one event's effects through the session; it must not commit.
InboxHandler = Callable[[Session, Decoded], None]


class InboxConsumer:
    """Polls batches, applies each new event once in one transaction, then commits offsets.

    ``consumer`` must be built with :func:`consumer_config` (or the same options) and
    already subscribed. A handler error rolls the batch back; the batch is then replayed one
    event per transaction so the events before the failing one are kept. Without
    ``dead_letter_topic`` the error is then raised with the offsets of the applied events
    committed; with it, the event is tried up to ``attempts`` times in all and then written
    to the dead-letter topic (see the module docstring), and the consumer goes on.
    ``retention=None`` turns the inbox cleanup of :meth:`run` off.
    """

    def __init__(
        self,
        consumer: Consumer,
        sessions: sessionmaker[Session],
        decoder: EventDecoder,
        group: str,
        handler: InboxHandler,
        *,
        batch_size: int = 500,
        poll_timeout: float = 1.0,
        dead_letter_topic: str | None = None,
        attempts: int = 3,
        retention: timedelta | None = timedelta(days=7),
        cleanup_interval: float = 60.0,
    ) -> None:
        options = LoopOptions(
            batch_size=batch_size,
            poll_timeout=poll_timeout,
            attempts=attempts,
            dead_letter_topic=dead_letter_topic,
            retention=retention,
            cleanup_interval=cleanup_interval,
        )
        self.inbox = Inbox(group)

        def handle(session: Session, message: Message) -> None:
            crash_point("inbox.in_handler")
            handler(session, message)

        host = (Handler(group, handle),)
        url = getattr(sessions.kw.get("bind"), "url", None)
        self._loop = ConsumerLoop(
            consumer,
            PgStore(sessions),
            decoder,
            lambda _event_type: host,
            group=group,
            inboxes=[group],
            options=options,
            log=_log,
            who=f"inbox {group}",
            crash="inbox",
            # Masked in the outage warnings.
            secrets=() if url is None else (url.render_as_string(hide_password=False),),
        )

    def run(self, stop: threading.Event) -> None:
        """Poll and apply until ``stop`` is set; waits out database, broker and registry
        outages (a batch that failed for one is read again once it is back: the events it
        did apply are skipped by the inbox). Handler errors propagate unless a dead-letter
        topic takes them. Old inbox rows are removed when due."""
        self._loop.run(stop)

    def poll_once(self) -> int:
        """One batch; returns how many events were applied (duplicates not counted)."""
        return self._loop.poll_once()

    def cleanup(self) -> int:
        """Delete this group's rows older than ``retention``, a chunk per transaction.

        Bounded: stops after a few chunks (the next call goes on); returns how many went.
        """
        return self._loop.cleanup()
