"""Teams' send limits, kept by the bot before every connector call: counted by the connector
stand-in over real HTTP, with the whole app (create_app) sending (tests/test_bot_http.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app import SERVICES
from bot.adapter import RetryingCloudAdapter
from bot.throttle import Rate, SendLimiter
from cards.elements import card, text
from standins.botframework import most_in_window
from tests.test_bot_http import APP_ID, GENERAL, TENANT, Bot

# Fixtures, by name.
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph
from tests.test_bot_http import identity as identity

NOTE = card([text("A note")])


async def reference_of_general(bot: Bot) -> dict[str, Any]:
    """General's reference, kept by the bot when a message arrived there."""
    assert (await bot.post(bot.activity("help"))).status_code == 201
    deadline = time.monotonic() + 5
    while (kept := await bot.storage.reference(GENERAL)) is None:
        assert time.monotonic() < deadline, "no reference kept"
        await asyncio.sleep(0.05)
    return kept.reference


def adapter_of(bot: Bot, limiter: SendLimiter) -> RetryingCloudAdapter:
    adapter: RetryingCloudAdapter = bot.app[SERVICES].adapter
    adapter.limiter = limiter
    return adapter


def elsewhere(reference: dict[str, Any], conversation: str) -> dict[str, Any]:
    return {**reference, "conversation": {**reference["conversation"], "id": conversation}}


def test_the_production_limits_are_teams_own() -> None:
    limiter = SendLimiter()
    assert limiter.per_conversation == (Rate(7, 1.0), Rate(60, 30.0))
    assert limiter.per_tenant == (Rate(30, 1.0),)


async def test_a_hundred_sends_to_one_conversation_stay_within_both_windows(bot: Bot) -> None:
    # Teams' windows of 1 s and 30 s, shortened to keep the test quick.
    fast, slow = Rate(7, 0.25), Rate(20, 1.0)
    adapter = adapter_of(bot, SendLimiter((fast, slow), (Rate(1000, 1.0),), slack=0.1))
    reference = await reference_of_general(bot)
    before = len(bot.connector.received)
    await asyncio.gather(*(adapter.post_card(reference, NOTE, APP_ID) for _ in range(100)))
    times = bot.connector.times(GENERAL)[before:]
    assert len(times) == 100
    assert most_in_window(times, fast.seconds) <= fast.count
    assert most_in_window(times, slow.seconds) <= slow.count


async def test_sends_to_many_conversations_of_a_tenant_stay_within_its_rate(bot: Bot) -> None:
    tenant = Rate(10, 0.5)  # Teams' 30 a second for a tenant, shortened
    adapter = adapter_of(bot, SendLimiter((Rate(100, 1.0),), (tenant,), slack=0.1))
    reference = await reference_of_general(bot)
    before = len(bot.connector.received)
    channels = [f"19:channel-{i}@thread.tacv2" for i in range(8)]
    await asyncio.gather(*(
        adapter.post_card(elsewhere(reference, channel), NOTE, APP_ID)
        for channel in channels for _ in range(5)
    ))  # fmt: skip
    sent = bot.connector.received[before:]
    assert {item["conversation"] for item in sent} == set(channels)
    assert {item["tenant"] for item in sent} == {TENANT}
    assert len(sent) == 40
    assert most_in_window([item["at"] for item in sent], tenant.seconds) <= tenant.count


async def test_a_429_waits_for_its_retry_after(bot: Bot) -> None:
    adapter = adapter_of(bot, SendLimiter())
    reference = await reference_of_general(bot)
    bot.connector.throttle_next(1, retry_after=1)
    await adapter.post_card(reference, NOTE, APP_ID)
    [throttled] = [at for _, at, status in bot.connector.answered if status == 429]
    sent = bot.connector.received[-1]
    assert sent["conversation"] == GENERAL and "A note" in str(sent["body"])
    assert sent["at"] - throttled >= 1.0


async def test_idle_conversations_are_forgotten() -> None:
    # Windows of 0.1 s for a conversation and 1 s for the tenant, so that this is quick.
    limiter = SendLimiter((Rate(7, 0.1),), (Rate(1000, 1.0),), slack=0.0, idle=0.2, max_kept=50)
    for i in range(200):
        await limiter.acquire(TENANT, f"19:channel-{i}@thread.tacv2")
    # Each used within its window: kept past the cap (a new bucket would let a burst through).
    assert limiter.kept() == 201
    await asyncio.sleep(1.1)  # every window drained, every conversation idle
    await limiter.acquire(TENANT, "19:one-more@thread.tacv2")
    assert limiter.kept() == 2  # the tenant and the one conversation just used


async def test_past_the_cap_a_conversation_keeps_teams_limits() -> None:
    # Many other conversations between its sends, more than the limiter keeps: the
    # conversation's bucket is not dropped while it has not drained.
    limiter = SendLimiter(max_kept=50)
    sent: list[float] = []
    for turn in range(14):
        await limiter.acquire(TENANT, "19:busy@thread.tacv2")
        sent.append(time.monotonic())
        for i in range(50):
            await limiter.acquire(f"tenant-{turn}-{i}", f"19:other-{turn}-{i}@thread.tacv2")
    assert most_in_window(sent, 1.0) <= 7


async def test_a_send_costs_the_same_with_ten_thousand_conversations_kept() -> None:
    # Every notice and reply passes here on the event loop: its cost must not grow with how
    # many conversations the bot has posted to lately.
    unlimited = (Rate(10**9, 1.0),)

    async def per_send(kept: int) -> float:
        limiter = SendLimiter(unlimited, unlimited, max_kept=20_000)
        channels = [f"19:channel-{i}@thread.tacv2" for i in range(kept)]
        for channel in channels:
            await limiter.acquire(TENANT, channel)
        best = float("inf")
        for _ in range(5):  # the best of five: a loaded machine slows some rounds
            started = time.perf_counter()
            for i in range(1000):
                await limiter.acquire(TENANT, channels[i % kept])
            best = min(best, (time.perf_counter() - started) / 1000)
        return best

    few, many = await per_send(10), await per_send(10_000)
    assert many < few * 5, f"{many * 1e6:.1f} µs a send with 10,000 kept, {few * 1e6:.1f} with 10"


async def test_a_conversation_with_sends_waiting_keeps_its_bucket_past_the_cap() -> None:
    # One send a second for a conversation (a burst of one); ten conversations kept at most.
    limiter = SendLimiter((Rate(2, 1.0),), (Rate(1000, 1.0),), slack=0.0, max_kept=10)
    busy = "19:busy@thread.tacv2"
    await limiter.acquire(TENANT, busy)
    waiting = asyncio.create_task(limiter.acquire(TENANT, busy))
    await asyncio.sleep(0.05)
    for i in range(50):  # many others come and go meanwhile, past the cap
        await limiter.acquire(TENANT, f"19:channel-{i}@thread.tacv2")
    await waiting
    # Its bucket was kept, full again: a new one would let this send through at once.
    started = time.monotonic()
    await limiter.acquire(TENANT, busy)
    assert time.monotonic() - started >= 0.5
