"""Which events a worker would read and pass over: those on the topics it reads that none of
its sagas and participants consume. Requests and answers sharing their namespace's topic
make the saga read back its requests and the service its answers; marking the requests
gives them a topic of their own and nobody reads anything for nothing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from saga import Event, Participant, Saga, Start, State, Step, TopicMap
from saga.engine.hosting import Subscriptions, passed_over, topic_uses
from tests.sagas import avro


def contract(full_name: str, **extra: Any) -> dict[str, Any]:
    return {**avro(full_name, case_id="string"), **extra}


class Opened(Event, schema=contract("po.cases.Opened")):
    case_id: str


class Check(Event, schema=contract("po.checks.Check")):  # a request, not marked
    case_id: str


class Verify(Event, schema=contract("po.checks.Verify", role="request")):
    case_id: str


class Passed(Event, schema=contract("po.checks.Passed")):
    case_id: str


class Failed(Event, schema=contract("po.checks.Failed")):
    case_id: str


class Case(BaseModel):
    case_id: str


class Plain(Saga[Case], name="po.Plain", correlation="case_id"):
    check = Step(Check, success=Passed, failure=Failed, kind="pivot")
    start = Start(Opened, to="checking")
    checking = State(run=check, then="done")
    done = State(final="completed")


class Marked(Saga[Case], name="po.Marked", correlation="case_id"):
    verify = Step(Verify, success=Passed, failure=Failed, kind="pivot")
    start = Start(Opened, to="verifying")
    verifying = State(run=verify, then="done")
    done = State(final="completed")


checks = Participant("checks")


@checks.handler
def check(request: Check) -> Passed | Failed:
    return Passed(case_id=request.case_id)


verifier = Participant("verifier")


@verifier.handler
def verify(request: Verify) -> Passed | Failed:
    return Passed(case_id=request.case_id)


def skipped(
    saga: type[Saga[Case]], service: Participant, topics: TopicMap
) -> dict[str, dict[str, set[str]]]:
    """What each of the two workers (the saga's, the service's) reads and passes over."""
    uses = topic_uses(Subscriptions.of([saga], [service]), topics)
    return {
        "saga": passed_over(Subscriptions.of([saga], []), uses),
        "service": passed_over(Subscriptions.of([], [service]), uses),
    }


def test_unmarked_requests_are_read_back_by_the_saga_and_answers_by_the_service() -> None:
    assert skipped(Plain, checks, TopicMap()) == {
        "saga": {"po.checks": {"po.checks.Check"}},
        "service": {"po.checks": {"po.checks.Passed", "po.checks.Failed"}},
    }


def test_marked_requests_travel_apart_and_nobody_passes_anything_over() -> None:
    assert skipped(Marked, verifier, TopicMap(prefix="p.")) == {"saga": {}, "service": {}}
    uses = topic_uses(Subscriptions.of([Marked], [verifier]), TopicMap(prefix="p."))
    assert uses["p.po.checks.requests"].events == {"po.checks.Verify"}
    assert uses["p.po.checks.requests"].consumers == {"verifier"}
    assert uses["p.po.checks"].consumers == {"po.Marked"}


def test_one_worker_hosting_both_sides_reads_nothing_for_nothing() -> None:
    both = Subscriptions.of([Plain], [checks])
    assert passed_over(both, topic_uses(both, TopicMap())) == {}


def test_a_worker_alone_sees_what_it_reads_back_of_its_own() -> None:
    """What the worker logs at start: its own writes on the topics it reads."""
    alone = Subscriptions.of([], [checks])
    assert passed_over(alone, topic_uses(alone, TopicMap())) == {
        "po.checks": {"po.checks.Passed", "po.checks.Failed"}
    }
    marked = Subscriptions.of([], [verifier])
    assert passed_over(marked, topic_uses(marked, TopicMap())) == {}
