"""A cache of values by key that expire, read once however many callers ask at once: the
enterprises' records, brands and payment states (bot.enterprise_info, bot.branding,
bot.payment) keep theirs in one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

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
