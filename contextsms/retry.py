"""When and how long to wait before trying a call again, and the deadline that bounds it all."""

from __future__ import annotations

import asyncio
import enum
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import assert_never

from contextsms.errors import DeadlineExceeded

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_RNG = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    `max_retries` counts the extra attempts after the first one.
    """

    max_retries: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `retry` (1-based): half fixed, half random ("equal
        jitter"), so many clients that failed together do not come back together."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        jitter = (rng or _RNG).uniform(0, ceiling / 2)
        return ceiling / 2 + jitter


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Deadline:
    """The time left for one call, retries and token renewal included. None: unbounded."""

    def __init__(self, seconds: float | None) -> None:
        self._end = None if seconds is None else time.monotonic() + max(0.0, seconds)

    def remaining(self) -> float | None:
        if self._end is None:
            return None
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def allows(self, delay: float) -> bool:
        remaining = self.remaining()
        return remaining is None or delay < remaining

    async def sleep(self, seconds: float) -> None:
        if not self.allows(seconds):
            raise DeadlineExceeded("the deadline passes before the next retry")
        await asyncio.sleep(seconds)


# -- what to do after one attempt: a pure decision, so every case is tested without a server --


class CallKind(enum.Enum):
    """How a call may be repeated after a failure, and whether its failure can hide a change."""

    SAFE = "safe"  # a read: repeat on any retryable failure; nothing ever changes
    UPDATE = "update"  # an idempotent change (PUT): repeat, but a lost answer may hide it
    DELETE = "delete"  # idempotent, but a repeat finds the object gone
    CREATE = "create"  # repeat only when the server surely did not act on it

    @property
    def changes(self) -> bool:
        return self is not CallKind.SAFE


@dataclass(frozen=True)
class Answered:
    """The server answered with `status` (and maybe a Retry-After, in seconds)."""

    status: int
    retry_after: float | None = None


@dataclass(frozen=True)
class NotAnswered:
    """No answer: the connection failed or broke, or the time ran out.

    `sent` is False only when the request surely never reached the server (no connection,
    or the deadline passed before sending). `failure` names what went wrong, for people.
    """

    sent: bool
    failure: str = "no answer"


Happened = Answered | NotAnswered


@dataclass(frozen=True)
class Return:
    """The answer is the result."""


@dataclass(frozen=True)
class AlreadyDone:
    """A repeated DELETE found the object gone: an earlier attempt deleted it."""


@dataclass(frozen=True)
class RetryAfter:
    delay: float


@dataclass(frozen=True)
class Fail:
    """Give up. `deadline`: the time ran out (raise DeadlineExceeded rather than the attempt's
    own error). `outcome_unknown`: a change may have been applied."""

    outcome_unknown: bool
    deadline: bool = False


Decision = Return | AlreadyDone | RetryAfter | Fail


def may_have_acted(happened: Happened) -> bool:
    """Whether the server may have applied the request in this attempt.

    A 4xx (429 included) refuses before acting. A 5xx does not say: even a 503 can come from a
    gateway after the service behind it applied the request, so it may hide a change.
    """
    match happened:
        case Answered(status=status):
            return status < 400 or status >= 500
        case NotAnswered(sent=sent):
            return sent
        case _:
            assert_never(happened)


def decide(
    kind: CallKind,
    happened: Happened,
    *,
    retry: int,
    acted_before: bool,
    time_left: float | None,
    backoff: float,
    max_retries: int,
) -> Decision:
    """What to do after attempt number `retry` (0 for the first) of a call.

    `acted_before`: an earlier attempt of the same call may have been applied. `time_left`:
    seconds until the call's deadline (None: no deadline). `backoff`: the delay the backoff
    schedule gives before the next attempt, used when the server names none.
    """
    acted = acted_before or may_have_acted(happened)
    unknown = kind.changes and acted
    match happened:
        case Answered(status=status) if status < 400:
            return Return()
        case Answered(status=404) if kind is CallKind.DELETE and acted_before:
            return AlreadyDone()
        case Answered(status=status, retry_after=retry_after):
            if status not in RETRYABLE_STATUSES:
                return Fail(outcome_unknown=unknown)
            delay = backoff if retry_after is None else retry_after
        case NotAnswered():
            if time_left is not None and time_left <= 0:
                return Fail(outcome_unknown=unknown, deadline=True)
            delay = backoff
        case _:
            assert_never(happened)
    if kind is CallKind.CREATE and may_have_acted(happened):
        return Fail(outcome_unknown=True)  # never repeated blindly: the caller looks it up
    if retry >= max_retries or (time_left is not None and delay >= time_left):
        return Fail(outcome_unknown=unknown)
    return RetryAfter(delay)
