"""What a participant's handlers emit: single handlers one input at a time, batch handlers
many at once (:mod:`saga.definition.participant`), and which handler gets which inputs.

Whatever kind of handler, what it returns for an input is checked against its return
annotation and wrapped the same way: the input's correlation id, the input's id as
causation id, ids derived from the participant, the input's id and the event's index, and
the trace context it was handled in. So handling a redelivered event emits the same ids,
and switching a handler between the two kinds changes nothing on the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from saga.contracts.events import Event
from saga.definition.participant import BatchContext, Context, Handler, Participant
from saga.definition.signatures import as_events
from saga.engine.messages import Message, derived_id
from saga.errors import DefinitionError


def calls(
    participant: Participant, messages: Sequence[Message], todo: Sequence[int]
) -> list[tuple[Handler | None, list[int]]]:
    """Which handler gets which of ``todo`` (indices of ``messages``), call by call.

    Each handler gets its inputs together, in input order. The inputs of one saga instance
    (correlation id, the Kafka key) are never reordered: where an instance's next input goes
    to another handler than its previous one, the calls so far are made first.
    """
    made: list[tuple[Handler | None, list[int]]] = []
    current: dict[str, tuple[Handler | None, list[int]]] = {}
    taker: dict[str, str] = {}  # correlation id -> the handler its inputs go to now
    for index in todo:
        message = messages[index]
        handler = participant.handlers.get(message.event_type)
        name = "" if handler is None else handler.name
        if taker.setdefault(message.correlation_id, name) != name:
            made.extend(current.values())
            current, taker = {}, {message.correlation_id: name}
        current.setdefault(name, (handler, []))[1].append(index)
    made.extend(current.values())
    return made


def run_handler(
    participant: Participant,
    message: Message,
    now: datetime,
    *,
    session: object = None,
    traceparent: str | None = None,
) -> list[Message]:
    """Run ``participant``'s handler for ``message`` and wrap what it emits.

    Emitted events carry the input's correlation id, the input's id as causation id and ids
    derived from the input, so handling a redelivered event emits the same ids. No handler
    for the event type: nothing. ``traceparent``: the context the handler runs in, when
    tracing (else the emitted events continue the input's trace).
    """
    handler = participant.handlers.get(message.event_type)
    if handler is None:
        return []
    context = Context(
        participant.name,
        message.event_id,
        message.correlation_id,
        message.causation_id,
        now,
        session,
    )
    return _emitted(
        participant, handler, message, handler(message.event, context), now, traceparent
    )


def run_batch_handler(
    participant: Participant,
    handler: Handler,
    messages: Sequence[Message],
    now: datetime,
    *,
    session: object = None,
    traceparents: Sequence[str | None] | None = None,
) -> list[list[Message]]:
    """Run the batch ``handler`` of ``participant`` once for ``messages`` (all of its event
    type) and wrap what it emits for each: one list per message, in order.

    Each message's events are wrapped as :func:`run_handler` wraps a single handler's (the
    same ids, correlation and causation ids, trace context). ``traceparents``: the context
    each message is handled in, when tracing.
    """
    if not messages:
        return []
    assert all(m.event_type == messages[0].event_type for m in messages), "one event type"
    contexts = tuple(
        Context(participant.name, m.event_id, m.correlation_id, m.causation_id, now, session)
        for m in messages
    )
    results = handler(
        [m.event for m in messages], BatchContext(participant.name, now, contexts, session)
    )
    if results is None:  # nothing for any request
        return [[] for _ in messages]
    if isinstance(results, str | bytes | Event) or not isinstance(results, Sequence):
        raise DefinitionError(
            f"participant {participant.name}, batch handler {handler.name}: returned "
            f"{results!r}; return a list with one result per request, in order, or None"
        )
    if len(results) != len(messages):
        raise DefinitionError(
            f"participant {participant.name}, batch handler {handler.name}: returned "
            f"{len(results)} results for {len(messages)} requests; return one per request, "
            "in order (None for a request that emits nothing)"
        )
    tracing = traceparents or [None] * len(messages)
    return [
        _emitted(participant, handler, message, result, now, traceparent)
        for message, result, traceparent in zip(messages, results, tracing, strict=True)
    ]


def _emitted(
    participant: Participant,
    handler: Handler,
    message: Message,
    result: object,
    now: datetime,
    traceparent: str | None,
) -> list[Message]:
    """What a handler returned for ``message``, checked against its return annotation and
    wrapped: ids derived from the input, its correlation id, its id as causation id."""
    emitted: list[Message] = []
    # The handler's span when tracing (the next hop becomes its child), else the input's.
    traceparent = traceparent or message.envelope.traceparent
    for index, event in enumerate(as_events(result)):
        if not isinstance(event, Event) or type(event) not in handler.emits:
            raise DefinitionError(
                f"participant {participant.name}, handler {handler.name}: returned {event!r}, "
                "which its return annotation does not name"
            )
        emitted.append(
            Message.new(
                event,
                event_id=derived_id(participant.name, message.event_id, str(index)),
                correlation_id=message.correlation_id,
                causation_id=message.event_id,
                producer=participant.name,
                occurred_at=now,
                traceparent=traceparent,
            )
        )
    return emitted
