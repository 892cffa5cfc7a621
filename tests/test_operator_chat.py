"""The reseller's operators in chat: their commands work for them and are invisible to everyone
else; a new enterprise's form names each bad field; a setup code is shown to the operator only,
in a personal chat, and links the customer who types it; links are listed and removed."""

from __future__ import annotations

from dataclasses import replace

from bot.conversation import Conversation
from bot.handlers import MappingBot
from bot.storage.models import AuditAction
from cards.elements import Card
from contextsms import ContextSMSClient
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number
from tests.test_bot_behaviour import (
    MEMBER,
    NO_TEAM,
    OPERATOR,
    OPERATOR_TENANT,
    TEAM,
    TENANT,
    Directory,
    World,
    act,
    bot,
    button,
    click,
    in_channel,
    person,
    texts,
    world,
)
from tests.test_tenants import TEAM_NEW, api_calls, in_new, two

__all__ = ["bot", "two", "world"]  # the fixtures, shared with the behaviour tests

PRIVATE = Conversation(OPERATOR_TENANT, user=OPERATOR, conversation_id="a:olive", personal=True)
OPS_CHANNEL = "19:ops@thread.tacv2"
OPS_TEAM = Directory(group="c3c3c3c3-3333-4333-8333-333333333333")
OPERATOR_COMMANDS = ["enterprises", "new enterprise", "invite E0000001", "links", "unlink x"]


def in_ops_team() -> Conversation:
    return Conversation(OPERATOR_TENANT, OPS_CHANNEL, "General", OPS_CHANNEL, OPERATOR)


async def pages(bot: MappingBot, first: Card, conversation: Conversation) -> list[Card]:
    found = [first]
    while any(a.get("title") == "Next" for a in found[-1].get("actions", [])):
        found.append(await click(bot, found[-1], "Next", conversation, NO_TEAM))
    return found


async def test_operator_commands_are_invisible_to_everyone_else(
    sandbox: RunningSandbox, bot: MappingBot
) -> None:
    sandbox.reset()
    for who in (in_channel(), in_channel(user=MEMBER)):
        unknown = await bot.on_message(who, "frobnicate x", TEAM)
        for typed in OPERATOR_COMMANDS:
            card = await bot.on_message(who, typed, TEAM)
            word = typed.split()[0]
            # The same card as for a word the bot does not know.
            assert texts(card) == texts(unknown).replace("**frobnicate**", f"**{word}**"), typed
            assert "For operators" not in texts(card)
    assert api_calls(sandbox) == {}
    assert "For operators" not in texts(await bot.on_message(in_channel(), "help", TEAM))
    shown = texts(await bot.on_message(PRIVATE, "help", NO_TEAM))
    assert "For operators" in shown and "invite ‹enterpriseId› [team]" in shown


async def test_enterprises_shows_what_each_is_linked_to(bot: MappingBot, world: World) -> None:
    first = await bot.on_message(PRIVATE, "enterprises", NO_TEAM)
    every = await pages(bot, first, PRIVATE)
    [page] = [p for p in every if world.enterprise.enterprise_id in texts(p)]
    assert f"Linked to tenant {TENANT}" in texts(page)
    [row] = [b for b in page["body"] if world.enterprise.enterprise_id in texts(b)]
    [invite] = [a for a in row["items"][-1]["actions"] if a["verb"] == "invite"]
    assert invite["data"]["ctx"]["id"] == world.enterprise.enterprise_id
    assert "Page 1 of" in texts(first) or len(every) == 1


async def test_a_new_enterprise_form_names_each_bad_field_then_creates_it(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient
) -> None:
    form = await bot.on_message(PRIVATE, "new enterprise", NO_TEAM)
    before = len(await client.list_enterprises())
    sandbox.reset()
    bad = await click(bot, form, "Create", PRIVATE, NO_TEAM, name=" ", contact="Dr. X",
                      number="12", email="nope")  # fmt: skip
    shown = texts(bad)
    assert "Nothing was created" in shown
    for field in ("Name", "Phone number", "Email"):
        assert field in [f["title"] for b in bad["body"] if b["type"] == "FactSet"
                         for f in b["facts"]], field  # fmt: skip
    assert api_calls(sandbox) == {}
    number = fresh_number()
    done = await click(bot, bad, "Create", PRIVATE, NO_TEAM, name="Sunshine Dental",
                       contact="Dr. Maria", number=number, email="maria@example.com")  # fmt: skip
    assert "Enterprise created" in texts(done) and "Sunshine Dental" in texts(done)
    created = [e for e in await client.list_enterprises() if e.number == number]
    assert len(created) == 1 and len(await client.list_enterprises()) == before + 1
    assert created[0].enterprise_id in texts(done)


async def test_an_invite_is_shown_only_in_a_personal_chat_and_links_the_customer(
    bot: MappingBot, world: World, two: object, client: ContextSMSClient
) -> None:
    eid = world.enterprise.enterprise_id
    in_team = await bot.on_message(in_ops_team(), f"invite {eid}", OPS_TEAM)
    assert "Setup codes are shown in a personal chat only" in texts(in_team)
    assert "No code was made" in texts(in_team)
    assert [e for e in await world.entries() if e.action is AuditAction.CODE_ISSUED] == []

    card = await bot.on_message(PRIVATE, f"invite {eid}", NO_TEAM)
    code = next(b["text"] for b in card["body"] if b.get("fontType") == "Monospace")
    assert f"`setup {code}`" in texts(card) and "Expires" in texts(card)
    linked = await bot.on_message(in_new(), f"setup {code}", TEAM_NEW)
    assert f"**{eid}**" in texts(linked)
    # Only a chat Teams calls personal is one: not a group chat, nor one whose ids look alike.
    for chat in (
        replace(PRIVATE, personal=False),
        replace(PRIVATE, conversation_id="19:meeting_x@thread.v2", personal=False),
        replace(PRIVATE, conversation_id=None, personal=False),
    ):
        shown = texts(await bot.on_message(chat, f"invite {eid}", NO_TEAM))
        assert "Setup codes are shown in a personal chat only" in shown, chat
    unknown = await bot.on_message(PRIVATE, "invite E9999999", NO_TEAM)
    assert "No such enterprise" in texts(unknown) and "No code was made" in texts(unknown)
    # The Invite button of the enterprises card does the same, for the operator only.
    enterprises = await bot.on_message(in_ops_team(), "enterprises", OPS_TEAM)
    someone = Conversation(OPERATOR_TENANT, OPS_CHANNEL, "General", OPS_CHANNEL,
                           person(MEMBER))  # fmt: skip
    invite = button(enterprises, "Invite")
    clicked = await act(bot, someone, invite["verb"], invite["data"], OPS_TEAM)
    assert "I route the SMS" in texts(clicked) and "ABCDE" not in texts(clicked)
    issued = [e for e in await world.entries() if e.action is AuditAction.CODE_ISSUED]
    assert len(issued) == 1


async def test_links_and_unlink(bot: MappingBot, world: World) -> None:
    links = await bot.on_message(PRIVATE, "links", NO_TEAM)
    assert f"Tenant {TENANT} uses **{world.enterprise.enterprise_id}**" in texts(links)
    nothing = await bot.on_message(PRIVATE, "unlink 19:nobody@thread.tacv2", NO_TEAM)
    assert "Nothing to unlink" in texts(nothing)
    ask = await click(bot, links, "Unlink", PRIVATE, NO_TEAM)
    assert "Unlink?" in texts(ask)
    assert "No team of it has a link of its own" in texts(ask)
    assert "Numbers in General" in texts(await bot.on_message(in_channel(), "status", TEAM))
    done = await click(bot, ask, "Unlink", PRIVATE, NO_TEAM)
    assert "Unlinked" in texts(done) and TENANT in texts(done)
    assert "Not set up yet" in texts(await bot.on_message(in_channel(), "status", TEAM))
    latest = await world.entries(tenant_id=TENANT)
    assert latest[0].action is AuditAction.UNLINK and latest[0].actor_id == OPERATOR.object_id
    typed = await bot.on_message(PRIVATE, f"unlink {TENANT}", NO_TEAM)
    assert "Nothing to unlink" in texts(typed)


async def test_unlinking_a_tenant_says_which_team_links_stay(bot: MappingBot, world: World) -> None:
    from bot.storage.models import Link

    team_link = Link(TENANT, "19:own-team@thread.tacv2", "E0000042", world.audit.clock(), "x")
    await world.storage.put_link(team_link)
    ask = texts(await bot.on_message(PRIVATE, f"unlink {TENANT}", NO_TEAM))
    assert "1 of its teams keeps its own link and goes on working" in ask
    assert "19:own-team@thread.tacv2 uses **E0000042**" in ask
    assert "will not be able to use" not in ask
    # Unlinking the team alone says its people follow their organization's link.
    team = texts(await bot.on_message(PRIVATE, "unlink 19:own-team@thread.tacv2", NO_TEAM))
    assert "their organization's link" in team


async def test_a_team_id_keeps_its_case_and_unlinks_however_it_is_typed(
    bot: MappingBot, world: World
) -> None:
    from bot.storage.models import Link

    mixed = "19:Own-Team@thread.tacv2"
    await world.storage.put_link(Link(TENANT, mixed, "E0000042", world.audit.clock(), "x"))
    assert f"Team {mixed} of tenant" in texts(await bot.on_message(PRIVATE, "links", NO_TEAM))
    ask = await bot.on_message(PRIVATE, f"unlink {mixed.lower()}", NO_TEAM)
    done = await click(bot, ask, "Unlink", PRIVATE, NO_TEAM)
    assert "Unlinked" in texts(done)
    assert all(link.team_id != mixed for link in await world.storage.links())
