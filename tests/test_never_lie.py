"""A card never says "nothing was changed" unless the bot knows it.

Every write path (add, update, delete) is run against the sandbox with faults that serve the
request (the change is applied) and then lose the answer with a 500, on every retry: the card
must not deny the change, must say the outcome is unknown, and must offer the one action that
settles it (this channel's numbers, now). Then the sandbox's final state is compared with what
that button shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation import Conversation
from bot.handlers import MappingBot
from cards.elements import Card
from contextsms import ContextSMSClient
from contextsms.models import Enterprise
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number
from tests.test_bot_behaviour import (
    GENERAL,
    NAMED,
    SALES,
    TEAM,
    act,
    bot,
    button,
    click,
    in_channel,
    texts,
    world,
)

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

# More failures than the client's attempts (FAST_RETRIES: 1 + 3 retries), so none gets through.
OUTLAST = 8


def served_then_failed(method: str, path_prefix: str) -> list[dict[str, Any]]:
    return [
        {"method": method, "path_prefix": path_prefix, "status": 500, "after_handler": True}
    ] * OUTLAST


FAILED_LOOKUPS = [
    {"method": "GET", "path_prefix": "/api/v2/numbertomessageappmapping/", "status": 500}
] * OUTLAST


names = NAMED


def assert_tells_unknown(card: Card) -> None:
    shown = texts(card)
    assert "Nothing was changed" not in shown and "nothing was changed" not in shown
    assert "may or may not have been applied" in shown, shown
    assert button(card, "Show this channel's numbers now")["verb"] == "status"


async def settle(bot: MappingBot, card: Card, sandbox: RunningSandbox,
                 conversation: Conversation | None = None) -> str:  # fmt: skip
    """What the card's "Show this channel's numbers now" button shows, once ContextSMS is
    healthy again."""
    sandbox.reset()
    return texts(await click(bot, card, "Show this channel's numbers now", conversation))


async def test_map_served_but_failed_and_lookups_failing(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    sandbox.faults(script=served_then_failed("POST", "/api/v2/mapping/add") + FAILED_LOOKUPS)
    card = await bot.on_message(in_channel(), f"map {number} Desk", TEAM)
    assert_tells_unknown(card)
    sandbox.reset()
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert (mapping.phone_number, mapping.messaging_app_id) == (number, GENERAL)
    assert number in await settle(bot, card, sandbox)


@pytest.mark.parametrize("how", ["remap typed", "Move it here clicked"])
async def test_moving_a_number_here_served_but_failed(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise,
    how: str,
) -> None:  # fmt: skip
    number = fresh_number()
    await bot.on_message(in_channel(SALES, "Sales"), f"map {number}", TEAM)
    taken = await bot.on_message(in_channel(), f"map {number}", names)
    sandbox.faults(script=served_then_failed("PUT", "/api/v2/mapping/"))
    card = (
        await bot.on_message(in_channel(), f"remap {number}", names)
        if how == "remap typed"
        else await click(bot, taken, "Move it here")
    )
    assert_tells_unknown(card)
    sandbox.reset()
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == GENERAL  # it did move
    assert number in await settle(bot, card, sandbox)


async def test_move_to_a_chosen_channel_served_but_failed(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    status = await bot.on_message(in_channel(), "status", names)
    remap = button(status, "Remap")
    pick = await act(bot, in_channel(), remap["verb"], remap["data"], names)
    move = button(pick, "Move")
    sandbox.faults(script=served_then_failed("PUT", "/api/v2/mapping/"))
    card = await act(bot, in_channel(), move["verb"], {**move["data"], "target": SALES}, names)
    assert_tells_unknown(card)
    sandbox.reset()
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == SALES
    # This channel's numbers no longer show it: the button tells the truth.
    assert number not in await settle(bot, card, sandbox)


async def test_unmap_served_but_failed(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    ask = await bot.on_message(in_channel(), f"unmap {number}", TEAM)
    sandbox.faults(script=served_then_failed("DELETE", "/api/v2/mapping/"))
    card = await click(bot, ask, "Unmap")
    assert_tells_unknown(card)
    sandbox.reset()
    assert await client.list_mappings(enterprise.enterprise_id) == []
    assert number not in await settle(bot, card, sandbox)


async def test_a_refused_change_still_says_nothing_was_changed(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(SALES, "Sales"), f"map {number}", TEAM)
    sandbox.faults(script=[{"method": "PUT", "path_prefix": "/api/v2/mapping/", "status": 403}])
    card = await bot.on_message(in_channel(), f"remap {number}", TEAM)
    assert "Not allowed" in texts(card) and "Nothing was changed" in texts(card)
    sandbox.reset()
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == SALES


async def test_a_failed_late_card_does_not_claim_nothing_changed(bot: MappingBot) -> None:
    card = bot.failed(in_channel())
    assert "Something went wrong" in texts(card)
    assert "Nothing was changed" not in texts(card)
    assert "cannot tell whether anything was changed" in texts(card)
    assert button(card, "Show this channel's numbers now")["verb"] == "status"


async def test_contextsms_asking_to_slow_down_is_said_so(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    sandbox.faults(script=[{"method": "POST", "path_prefix": "/api/v2/mapping/add",
                            "status": 429, "retry_after": "0"}] * OUTLAST)  # fmt: skip
    card = await bot.on_message(in_channel(), f"map {number}", TEAM)
    assert "ContextSMS is busy" in texts(card) and "Nothing was changed" in texts(card)
    sandbox.reset()
    assert number not in {
        m.phone_number for m in await client.list_mappings(enterprise.enterprise_id)
    }
