"""The retry decision, case by case, without a server: what the client does after an attempt."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from contextsms.retry import (
    AlreadyDone,
    Answered,
    CallKind,
    Decision,
    Fail,
    Happened,
    NotAnswered,
    RetryAfter,
    Return,
    decide,
    may_have_acted,
)

SAFE, UPDATE, DELETE, CREATE = CallKind.SAFE, CallKind.UPDATE, CallKind.DELETE, CallKind.CREATE
BACKOFF = 0.25
MAX_RETRIES = 3
SENT, NOT_SENT = NotAnswered(sent=True), NotAnswered(sent=False)


@dataclass(frozen=True)
class Case:
    name: str
    kind: CallKind
    happened: Happened
    expected: Decision
    retry: int = 0
    acted_before: bool = False
    time_left: float | None = None


def ok(status: int = 200) -> Answered:
    return Answered(status)


CASES = [
    # Success is the answer, whatever the kind and the history.
    *[Case(f"{k.value} 200", k, ok(), Return()) for k in CallKind],
    Case("create 201", CREATE, ok(201), Return()),
    Case("update 200 after a lost answer", UPDATE, ok(), Return(), retry=2, acted_before=True),
    # Refusals end the call at once, and a change refused first is known not applied.
    *[
        Case(f"{k.value} {s} first", k, Answered(s), Fail(outcome_unknown=False))
        for k in CallKind
        for s in (400, 401, 403, 404, 409)
    ],
    # ... but once an earlier attempt may have acted, a refusal does not make it known.
    Case("update 403 after", UPDATE, Answered(403), Fail(True), retry=1, acted_before=True),
    Case("update 409 after", UPDATE, Answered(409), Fail(True), retry=1, acted_before=True),
    Case("delete 403 after", DELETE, Answered(403), Fail(True), retry=1, acted_before=True),
    Case("read 403 after", SAFE, Answered(403), Fail(False), retry=1, acted_before=True),
    # A repeated DELETE that finds the object gone succeeded earlier.
    Case("delete 404 after", DELETE, Answered(404), AlreadyDone(), retry=1, acted_before=True),
    Case("delete 404 after refusals", DELETE, Answered(404), Fail(False), retry=1),
    # Retryable failures are retried after the backoff, or the server's Retry-After.
    *[
        Case(f"{k.value} {s} retried", k, Answered(s), RetryAfter(BACKOFF))
        for k in (SAFE, UPDATE, DELETE)
        for s in (429, 500, 502, 503, 504)
    ],
    Case("429 names its delay", SAFE, Answered(429, retry_after=2.0), RetryAfter(2.0)),
    Case("503 names its delay", UPDATE, Answered(503, retry_after=0.0), RetryAfter(0.0)),
    Case("lost answer retried", UPDATE, SENT, RetryAfter(BACKOFF)),
    Case("no connection retried", SAFE, NOT_SENT, RetryAfter(BACKOFF)),
    # A create is repeated only when the server surely did not act on it.
    Case("create 429", CREATE, Answered(429), RetryAfter(BACKOFF)),
    Case("create 503", CREATE, Answered(503), Fail(outcome_unknown=True)),
    Case("create no connection", CREATE, NOT_SENT, RetryAfter(BACKOFF)),
    Case("create 500", CREATE, Answered(500), Fail(outcome_unknown=True)),
    Case("create 502", CREATE, Answered(502), Fail(outcome_unknown=True)),
    Case("create 504", CREATE, Answered(504), Fail(outcome_unknown=True)),
    Case("create lost answer", CREATE, SENT, Fail(outcome_unknown=True)),
    # Retries run out: the outcome is unknown exactly when a change may have acted.
    Case("read 500 last", SAFE, Answered(500), Fail(False), retry=MAX_RETRIES),
    Case("update 500 last", UPDATE, Answered(500), Fail(True), retry=MAX_RETRIES),
    Case("delete 502 last", DELETE, Answered(502), Fail(True), retry=MAX_RETRIES),
    Case("update lost last", UPDATE, SENT, Fail(True), retry=MAX_RETRIES),
    Case("update 503 last", UPDATE, Answered(503), Fail(True), retry=MAX_RETRIES),
    Case("delete 429 last", DELETE, Answered(429), Fail(False), retry=MAX_RETRIES),
    Case("update unsent last", UPDATE, NOT_SENT, Fail(False), retry=MAX_RETRIES),
    Case("create 503 last", CREATE, Answered(503), Fail(True), retry=MAX_RETRIES),
    Case(
        "update 503 last after a 500",
        UPDATE,
        Answered(503),
        Fail(True),
        retry=MAX_RETRIES,
        acted_before=True,
    ),
    # The deadline: no retry that cannot finish in time, and a deadline reached says so.
    Case("retry-after beyond the deadline", SAFE, Answered(429, 30.0), Fail(False), time_left=2),
    Case("backoff beyond the deadline", UPDATE, Answered(500), Fail(True), time_left=0.1),
    Case("backoff within the deadline", UPDATE, Answered(500), RetryAfter(BACKOFF), time_left=1),
    Case("read timed out", SAFE, SENT, Fail(False, deadline=True), time_left=0),
    Case("update timed out", UPDATE, SENT, Fail(True, deadline=True), time_left=0),
    Case("create timed out", CREATE, SENT, Fail(True, deadline=True), time_left=0),
    Case("delete timed out unsent", DELETE, NOT_SENT, Fail(False, deadline=True), time_left=0),
    Case(
        "delete timed out unsent after a 500",
        DELETE,
        NOT_SENT,
        Fail(True, deadline=True),
        retry=1,
        acted_before=True,
        time_left=0,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_decision(case: Case) -> None:
    decision = decide(
        case.kind,
        case.happened,
        retry=case.retry,
        acted_before=case.acted_before,
        time_left=case.time_left,
        backoff=BACKOFF,
        max_retries=MAX_RETRIES,
    )
    assert decision == case.expected


@pytest.mark.parametrize("kind", list(CallKind), ids=lambda kind: kind.value)
def test_rules_that_hold_for_every_answer(kind: CallKind) -> None:
    """Over every status and history: a read never claims a change; a change that may have
    acted is never reported known; a create that may have acted is never sent again."""
    happenings: list[Happened] = [SENT, NOT_SENT, *(Answered(s) for s in range(400, 600))]
    for happened in happenings:
        for acted_before in (False, True):
            decision = decide(
                kind,
                happened,
                retry=1,
                acted_before=acted_before,
                time_left=None,
                backoff=BACKOFF,
                max_retries=MAX_RETRIES,
            )
            acted = acted_before or may_have_acted(happened)
            if isinstance(decision, Fail):
                assert decision.outcome_unknown is (kind is not SAFE and acted), happened
            if kind is CREATE and may_have_acted(happened):
                assert not isinstance(decision, RetryAfter), happened
