"""Teams' limits on how fast a bot posts, kept before each connector call rather than learnt
from 429s: per conversation at most 7 a second and 60 in 30 s, per tenant 30 a second.

Each limit is a leaky bucket (`aiolimiter.AsyncLimiter`). A bucket that holds `burst` and
drains at `rate` lets at most `burst + rate * T` sends through in any span of T seconds, so
each limit of N in W seconds gets a bucket with `burst + rate * (W + slack) <= N`: never more
than N in any window of W, even when the sends reach Teams up to `slack` seconds closer
together than they left (the network, a stalled event loop).

Buckets are kept per conversation and per tenant, the least recently used first dropped: one
that has been idle longer than any window is empty again, and forgetting it changes nothing.
Idle ones are looked for at most every PRUNE_EVERY seconds, and only from the oldest until the
first one in use: a send costs the same with ten or ten thousand conversations kept. Past
`max_kept` the oldest are dropped at once, but only those whose buckets have drained (unused
for their longest window): a bucket dropped sooner would let its conversation burst again. So
memory is bounded by the conversations posted to within 30 s, and by `max_kept` once they
quieten.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter


@dataclass(frozen=True)
class Rate:
    """At most `count` sends in any `seconds`."""

    count: int
    seconds: float


PER_CONVERSATION = (Rate(7, 1.0), Rate(60, 30.0))
PER_TENANT = (Rate(30, 1.0),)
SLACK = 0.25  # seconds by which sends may arrive closer together than they left
IDLE = 120.0  # seconds after which an unused conversation's or tenant's buckets are dropped
MAX_KEPT = 10_000  # conversations and tenants kept, past those used within their window
PRUNE_EVERY = 5.0  # seconds between looks for idle buckets (under the cap)


def bucket(rate: Rate, slack: float) -> AsyncLimiter:
    """A leaky bucket that keeps `rate` with `slack` to spare: a third of the limit as a burst,
    the rest spread over the window and its slack."""
    burst = max(1, rate.count // 3)
    drain = (rate.count - burst) / (rate.seconds + slack)  # sends a second, once the burst is used
    return AsyncLimiter(burst, burst / drain)


@dataclass
class _Kept:
    buckets: tuple[AsyncLimiter, ...]
    used: float
    waiting: int = 0


@dataclass
class _Buckets:
    """Buckets per key (a conversation, a tenant), the least recently used first dropped."""

    rates: tuple[Rate, ...]
    slack: float
    idle: float
    max_kept: int
    kept: OrderedDict[str, _Kept] = field(default_factory=OrderedDict)
    _next_prune: float = 0.0

    def take(self, key: str, now: float) -> _Kept:
        # Before the key is taken, so that the entry handed out is never the one dropped.
        self._prune(now)
        entry = self.kept.get(key)
        if entry is None:
            entry = _Kept(tuple(bucket(rate, self.slack) for rate in self.rates), now)
            self.kept[key] = entry
        else:
            self.kept.move_to_end(key)
            entry.used = now
        return entry

    def _prune(self, now: float) -> None:
        over = len(self.kept) + 1 - self.max_kept  # room for one more key
        if over <= 0 and now < self._next_prune:
            return
        self._next_prune = now + min(PRUNE_EVERY, self.idle / 2)
        # The oldest come first. One with sends waiting on it is never dropped (a new bucket
        # for its key would let a second burst through): it goes to the back, as in use.
        # Nor is one used within its longest window, whose bucket has not drained: a new one
        # would let a burst through early. Past the cap, memory then grows only while more
        # conversations than the cap were each used within that window.
        drained = max(rate.seconds for rate in self.rates) + self.slack
        dropped: list[str] = []
        busy: list[str] = []
        for key, entry in self.kept.items():
            quiet = now - entry.used
            if quiet < drained or (len(dropped) >= over and quiet < self.idle):
                break  # in the order of use: the rest were used later still
            (busy if entry.waiting else dropped).append(key)
        for key in dropped:
            del self.kept[key]
        for key in busy:
            self.kept.move_to_end(key)


class SendLimiter:
    def __init__(
        self,
        per_conversation: tuple[Rate, ...] = PER_CONVERSATION,
        per_tenant: tuple[Rate, ...] = PER_TENANT,
        *,
        slack: float = SLACK,
        idle: float = IDLE,
        max_kept: int = MAX_KEPT,
    ) -> None:
        self.per_conversation = per_conversation
        self.per_tenant = per_tenant
        self._conversations = _Buckets(per_conversation, slack, idle, max_kept)
        self._tenants = _Buckets(per_tenant, slack, idle, max_kept)

    def kept(self) -> int:
        """How many conversations and tenants have buckets in memory now."""
        return len(self._conversations.kept) + len(self._tenants.kept)

    async def acquire(self, tenant_id: str | None, conversation_id: str | None) -> None:
        """Wait until one more send to this conversation and tenant keeps within the limits."""
        now = time.monotonic()
        entries: list[_Kept] = []
        if conversation_id:
            entries.append(self._conversations.take(conversation_id, now))
        if tenant_id:
            entries.append(self._tenants.take(tenant_id.lower(), now))
        for entry in entries:
            entry.waiting += 1
        try:
            for entry in entries:
                for limiter in entry.buckets:
                    await limiter.acquire()
        finally:
            done = time.monotonic()
            for entry in entries:
                entry.waiting -= 1
                entry.used = done
