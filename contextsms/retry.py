"""When and how long to wait before trying a call again, and the deadline that bounds it all."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

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
