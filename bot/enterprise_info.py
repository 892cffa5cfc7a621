"""The linked enterprises' own records (contract 6: name, number, email), read once in a while:
the brand is found by the enterprise's number and the payment state by its email.

`Expiring` is the cache the three of them share (this module, bot.branding, bot.payment): a
value per enterprise kept for a while, and one read at a time per enterprise however many
turns ask at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from contextsms import ContextSMSClient
from contextsms.models import Enterprise
from contextsms.retry import Deadline

V = TypeVar("V")

# Enterprises remembered at most: a deployment serves a CSP's customers, far fewer than this;
# the bound only keeps a long-running process's memory flat.
MAX_KEPT = 10_000


class Expiring(Generic[V]):
    """Values by key, each kept for `ttl` seconds; callers that miss one key at once share a
    single read, which goes on to fill the cache even when every caller stopped waiting."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[str, tuple[float, V]] = {}
        self._reads: dict[str, asyncio.Task[V]] = {}

    async def get(self, key: str, read: Callable[[], Awaitable[V]]) -> V:
        kept = self._values.get(key)
        if kept is not None and time.monotonic() < kept[0]:
            return kept[1]
        task = self._reads.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(key, read))
            self._reads[key] = task
            task.add_done_callback(lambda done: self._read_ended(key, done))
        # Shielded: a caller that gives up (its own time limit) leaves the read to the others.
        return await asyncio.shield(task)

    def put(self, key: str, value: V, ttl: float | None = None) -> None:
        if len(self._values) >= MAX_KEPT:
            self._drop_expired()
        self._values[key] = (time.monotonic() + (self.ttl if ttl is None else ttl), value)

    def forget(self, key: str) -> None:
        self._values.pop(key, None)

    async def _read(self, key: str, read: Callable[[], Awaitable[V]]) -> V:
        value = await read()
        self.put(key, value)
        return value

    def _read_ended(self, key: str, task: asyncio.Task[V]) -> None:
        if self._reads.get(key) is task:
            del self._reads[key]
        if not task.cancelled():
            task.exception()  # retrieved: a failure nobody waited for is not reported again

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [k for k, (until, _) in self._values.items() if until <= now]:
            del self._values[key]
        while len(self._values) >= MAX_KEPT:  # all fresh: the oldest entries go
            del self._values[next(iter(self._values))]


class EnterpriseInfo:
    def __init__(self, client: ContextSMSClient, *, ttl: float = 600.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: Expiring[Enterprise] = Expiring(ttl)

    async def get(self, enterprise_id: str, limit: Deadline) -> Enterprise:
        """The enterprise (cached for `ttl` seconds); raises ContextSMSError."""
        return await self._cache.get(
            enterprise_id,
            lambda: self.client.get_enterprise(enterprise_id, deadline=limit.remaining()),
        )
