"""What people see, message by message and click by click, against the sandbox over HTTP.

No Bot Framework here: the handlers take a Conversation and return cards.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from bot.actions import ActionSigner, TamperedAction, card_action
from bot.conversation import Conversation
from bot.handlers import BotOptions, MappingBot
from bot.mappings import MappingService
from cards.elements import Card
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate, MappingCreate
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number, make_client

GENERAL = "19:general@thread.tacv2"
SALES = "19:sales@thread.tacv2"


def in_channel(channel: str = GENERAL, name: str | None = "General") -> Conversation:
    return Conversation("tenant-1", channel, name, team_id=GENERAL)


PERSONAL = Conversation("tenant-1")


def texts(card: Card) -> str:
    """Everything a person reads on the card, buttons included."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value", "label", "placeholder"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return "\n".join(found)


def button(card: Card, title: str) -> dict[str, Any]:
    def walk(node: Any) -> dict[str, Any] | None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute" and node.get("title") == title:
                return node
            for value in node.values():
                if (hit := walk(value)) is not None:
                    return hit
        elif isinstance(node, list):
            for value in node:
                if (hit := walk(value)) is not None:
                    return hit
        return None

    found = walk(card)
    assert found is not None, f"no button {title!r} on {texts(card)}"
    return found


@pytest.fixture
def bot(client: ContextSMSClient, enterprise: Enterprise) -> MappingBot:
    return MappingBot(
        MappingService(client),
        ActionSigner(b"k"),
        BotOptions(enterprise_id=enterprise.enterprise_id),
    )


async def click(bot: MappingBot, card: Card, title: str, conversation: Conversation | None = None,
                **inputs: str) -> Card:  # fmt: skip
    action = button(card, title)
    data = {**action["data"], **inputs}
    return await act(bot, conversation or in_channel(), action["verb"], data)


async def act(bot: MappingBot, conversation: Conversation, verb: str, data: Any,
              names: Any = None) -> Card:  # fmt: skip
    """A card action as Teams sends it: parsed as the edge parses it, then handled."""
    try:
        action = card_action(verb, data)
    except TamperedAction as exc:
        return bot.tampered(conversation, exc)
    if names is None:
        return await bot.on_action(conversation, action)
    return await bot.on_action(conversation, action, names)


async def test_map_as_people_type_it(bot: MappingBot, client: ContextSMSClient,
                                     enterprise: Enterprise) -> None:  # fmt: skip
    number = fresh_number()
    national = f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    card = await bot.on_message(in_channel(), f"<at>Test Bot</at> MAP {national} Front desk")
    assert "Number mapped" in texts(card)
    assert number in texts(card) and "Front desk" in texts(card)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert (mapping.phone_number, mapping.messaging_app_id, mapping.name) == (
        number,
        GENERAL,
        "Front desk",
    )

    again = await bot.on_message(in_channel(), f"<at>Test Bot</at> add {number}")
    assert "Already mapped here" in texts(again)
    assert len(await client.list_mappings(enterprise.enterprise_id)) == 1


@pytest.mark.parametrize("typed", ["map 555-12", "map hello", "map", "add +1 555 987 65431234567"])
async def test_invalid_number_says_the_format_and_changes_nothing(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, typed: str
) -> None:
    card = await bot.on_message(in_channel(), f"<at>Test Bot</at> {typed}")
    shown = texts(card)
    assert "not a phone number I can use" in shown
    assert "+12015550123" in shown and "(201) 555-0123" in shown  # the region's example
    assert "Nothing was changed" in shown
    assert await client.list_mappings(enterprise.enterprise_id) == []


async def test_unknown_command_gets_help(bot: MappingBot) -> None:
    card = await bot.on_message(in_channel(), "<at>Test Bot</at> frobnicate now")
    assert "I don't know the command **frobnicate**" in texts(card)
    assert "map <number> [name]" in texts(card)
    for word in ("?", "help", "HELP"):
        assert "map <number> [name]" in texts(await bot.on_message(in_channel(), word))


async def test_status_lists_this_channel_only(bot: MappingBot, client: ContextSMSClient,
                                              enterprise: Enterprise) -> None:  # fmt: skip
    empty = await bot.on_message(in_channel(), "<at>Test Bot</at> status")
    assert "No number is mapped to this channel yet" in texts(empty)
    here, there = fresh_number(), fresh_number()
    await bot.on_message(in_channel(), f"map {here} Reception")
    await bot.on_message(in_channel(SALES, "Sales"), f"map {there} Sales line")
    card = await bot.on_message(in_channel(), "show")
    assert "Numbers in General" in texts(card)
    assert here in texts(card) and "Reception" in texts(card)
    assert there not in texts(card)


async def test_map_form_on_the_status_card(bot: MappingBot, client: ContextSMSClient,
                                           enterprise: Enterprise) -> None:  # fmt: skip
    status = await bot.on_message(in_channel(), "status")
    number = fresh_number()
    done = await click(bot, status, "Map to this channel", number=f"tel:{number}", name="Desk")
    assert "Number mapped" in texts(done)
    bad = await click(bot, status, "Map to this channel", number="12", name="")
    assert "not a phone number I can use" in texts(bad)
    assert [m.phone_number for m in await client.list_mappings(enterprise.enterprise_id)] == [
        number
    ]


async def test_taken_in_another_channel_can_be_moved_here(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(SALES, "Sales"), f"map {number}")

    async def names() -> dict[str, str]:  # what Teams tells of the team's channels
        return {GENERAL: "General", SALES: "Sales"}

    card = await bot.on_message(in_channel(), f"map {number}", names)
    assert "Already mapped to another channel" in texts(card)
    assert "is mapped to **Sales**" in texts(card)
    unnamed = await bot.on_message(in_channel(), f"map {number}")
    assert f"another channel ({SALES})" in texts(unnamed)
    moved = await click(bot, card, "Move it here")
    assert "Number moved here" in texts(moved)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == GENERAL
    twice = await click(bot, card, "Move it here")
    assert "Already here" in texts(twice)


async def test_taken_by_another_enterprise_cannot_be_moved(
    bot: MappingBot, client: ContextSMSClient
) -> None:
    number = fresh_number()
    other = await client.create_enterprise(
        EnterpriseCreate(name="Other", contact="O", number=fresh_number(), email="o@example.com")
    )
    await client.add_mapping(
        other.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:x")
    )
    card = await bot.on_message(in_channel(), f"map {number}")
    assert "Mapped by another organization" in texts(card)
    assert "cannot be moved from here" in texts(card)
    assert "Move it here" not in texts(card)


async def test_remap_moves_or_offers_to_map(bot: MappingBot, client: ContextSMSClient,
                                            enterprise: Enterprise) -> None:  # fmt: skip
    number = fresh_number()
    offer = await bot.on_message(in_channel(), f"remap {number}")
    assert "Not mapped yet" in texts(offer)
    mapped = await click(bot, offer, "Map to this channel", number=number, name="")
    assert "Number mapped" in texts(mapped)
    moved = await bot.on_message(in_channel(SALES, "Sales"), f"move {number}")
    assert "Number moved here" in texts(moved) and "instead of **General**" in texts(moved)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == SALES


async def test_unmap_asks_first_and_a_second_click_changes_nothing(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number} Desk")
    ask = await bot.on_message(in_channel(), f"unmap {number}")
    assert "Unmap this number?" in texts(ask)
    assert len(await client.list_mappings(enterprise.enterprise_id)) == 1
    done = await click(bot, ask, "Unmap")
    assert "Number unmapped" in texts(done)
    assert await client.list_mappings(enterprise.enterprise_id) == []
    twice = await click(bot, ask, "Unmap")
    assert "Already unmapped" in texts(twice)
    cancel = await click(bot, ask, "Cancel")
    assert "No number is mapped to this channel yet" in texts(cancel)


async def test_unmap_of_a_number_not_here(bot: MappingBot) -> None:
    card = await bot.on_message(in_channel(), f"remove {fresh_number()}")
    assert "is not mapped to this channel; nothing to unmap" in texts(card)


async def test_mapping_commands_need_a_channel(bot: MappingBot) -> None:
    for typed in ("map +15559876543", "status", "unmap +15559876543"):
        card = await bot.on_message(PERSONAL, typed)
        assert "This works in a channel" in texts(card)
    assert "Mapping works in a channel of a team" in texts(await bot.on_message(PERSONAL, "help"))
    assert "All numbers of your organization" in texts(await bot.on_message(PERSONAL, "list"))


async def test_list_groups_by_channel_and_pages(bot: MappingBot) -> None:
    for _ in range(12):
        await bot.on_message(in_channel(), f"map {fresh_number()}")
    for _ in range(3):
        await bot.on_message(in_channel(SALES, "Sales"), f"map {fresh_number()}")

    async def names() -> dict[str, str]:
        return {GENERAL: "General", SALES: "Sales"}

    first = await bot.on_message(PERSONAL, "list", names)
    assert "Page 1 of 2" in texts(first)
    second = await act(
        bot, PERSONAL, button(first, "Next")["verb"], button(first, "Next")["data"], names
    )
    assert "Page 2 of 2" in texts(second) and "Sales" in texts(second)
    assert "Next" not in [a.get("title") for a in second.get("actions", [])]


async def test_forged_and_foreign_card_actions_are_refused(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}")
    ask = await bot.on_message(in_channel(), f"unmap {number}")
    action = button(ask, "Unmap")

    edited = json.loads(json.dumps(action["data"]))
    edited["ctx"]["id"] = "NTMAP9999999"
    refused = await act(bot, in_channel(), action["verb"], edited)
    assert "This card action was not accepted" in texts(refused)

    elsewhere = await act(bot, in_channel(SALES, "Sales"), action["verb"], action["data"])
    assert "This card belongs to another channel" in texts(elsewhere)

    unknown = await act(bot, in_channel(), "drop.tables", action["data"])
    assert "not accepted" in texts(unknown)
    assert "not accepted" in texts(await act(bot, in_channel(), "status", "garbage"))
    assert len(await client.list_mappings(enterprise.enterprise_id)) == 1


async def test_api_errors_become_short_cards(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[{"path_prefix": "/api/v2/numbertomessageappmapping", "status": 500}] * 4)
    card = await bot.on_message(in_channel(), "status")
    shown = texts(card)
    assert "ContextSMS had a problem" in shown
    assert "Support reference: req-" in shown
    assert "Traceback" not in shown and "eyJ" not in shown


async def test_wrong_credentials_and_enterprise_are_explained(sandbox: RunningSandbox) -> None:
    async with make_client(sandbox, password=SecretStr("wrong")) as wrong:
        bot = MappingBot(MappingService(wrong), ActionSigner(b"k"), BotOptions("E0000001"))
        card = await bot.on_message(in_channel(), "status")
        assert "cannot sign in to ContextSMS" in texts(card)
        assert "wrong" not in texts(card)
    async with make_client(sandbox) as api:
        bot = MappingBot(MappingService(api), ActionSigner(b"k"), BotOptions("E9999999"))
        assert "Not found" in texts(await bot.on_message(in_channel(), "status"))
        unset = MappingBot(MappingService(api), ActionSigner(b"k"), BotOptions(None))
        assert "Not set up yet" in texts(await unset.on_message(in_channel(), "status"))


async def test_an_api_that_never_answers_gets_a_plain_answer(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    import time

    bot = MappingBot(
        MappingService(client), ActionSigner(b"k"),
        BotOptions(enterprise.enterprise_id, deadline=0.5),
    )  # fmt: skip
    sandbox.faults(
        script=[{"path_prefix": "/api/v2/mapping/add", "delay_ms": 4000, "after_handler": True}]
    )
    started = time.monotonic()
    card = await bot.on_message(in_channel(), f"map {fresh_number()}")
    assert time.monotonic() - started < 3.0
    assert "No answer from ContextSMS" in texts(card)
    assert "may or may not have been applied" in texts(card)


async def test_remap_from_the_status_card_moves_a_number_to_a_chosen_channel(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    async def names() -> dict[str, str]:
        return {GENERAL: "General", SALES: "Sales"}

    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number} Desk")
    status = await bot.on_message(in_channel(), "status", names)
    pick = await act(bot, in_channel(), **_click(status, "Remap"), names=names)
    assert "Move this number" in texts(pick) and "Sales" in texts(pick)
    assert "General" not in [c["title"] for c in pick["body"][2]["choices"]]
    move = button(pick, "Move")

    forged = await act(
        bot, in_channel(), move["verb"], {**move["data"], "target": "19:evil"}, names
    )
    assert "Choose one of this team's channels" in texts(forged)
    done = await act(bot, in_channel(), move["verb"], {**move["data"], "target": SALES}, names)
    assert "Number moved" in texts(done) and "**Sales**" in texts(done)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == SALES
    again = await act(bot, in_channel(), move["verb"], {**move["data"], "target": SALES}, names)
    assert "Already there" in texts(again)


def _click(card: Card, title: str) -> dict[str, Any]:
    action = button(card, title)
    return {"verb": action["verb"], "data": action["data"]}
