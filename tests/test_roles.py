"""Who may change mappings, as people see it: any member may look, only the team's owners (or
operators) change, unless the owners let every member; a refusal names who can and changes
nothing, and when Graph cannot say who owns the team the change is refused, never allowed. Every
change is in the audit trail with its outcome."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from bot.graph import GraphClient, MsalTenantTokens
from bot.handlers import MappingBot
from bot.permissions import Permissions
from bot.storage.models import AuditAction
from contextsms import ContextSMSClient
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number
from tests.support.features import bot_features
from tests.test_bot_behaviour import (
    APP_ID,
    GENERAL,
    MEMBER,
    NAMED,
    OPERATOR,
    OWNER,
    SALES,
    TEAM,
    TENANT,
    Directory,
    World,
    bot,
    button,
    click,
    in_channel,
    texts,
    world,
)
from tests.test_tenants import api_calls

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

REFUSED = "Only an owner of this team can map, move or unmap numbers here"


def writes(sandbox: RunningSandbox) -> dict[str, int]:
    return {route: n for route, n in api_calls(sandbox).items() if not route.startswith("GET")}


async def test_a_member_may_look_but_not_change(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)  # the owner maps one
    member = in_channel(user=MEMBER)
    assert number in texts(await bot.on_message(member, "status", TEAM))
    assert number in texts(await bot.on_message(member, "list", TEAM))
    # The owner's cards, clicked by the member.
    status = await bot.on_message(in_channel(), "status", NAMED)
    ask = await bot.on_message(in_channel(), f"unmap {number}", TEAM)
    pick = await click(bot, status, "Remap", directory=NAMED)
    sandbox.reset()
    typed = [f"map {fresh_number()}", f"remap {number}", f"unmap {number}"]
    cards = [await bot.on_message(member, text, TEAM) for text in typed]
    cards += [
        await click(bot, status, "Map to this channel", member, number=fresh_number()),
        await click(bot, status, "Remap", member, NAMED),
        await click(bot, status, "Unmap", member),
        await click(bot, ask, "Unmap", member),
        await click(bot, pick, "Move", member, NAMED, target=SALES),
    ]
    for card in cards:
        assert REFUSED in texts(card) and "Nothing was changed" in texts(card), texts(card)
        assert "Not allowed for you" in texts(card)
    assert writes(sandbox) == {}
    [mapping] = await client.list_mappings(world.enterprise.enterprise_id)
    assert (mapping.phone_number, mapping.messaging_app_id) == (number, GENERAL)
    assert [e.action for e in await world.entries() if e.actor_id == MEMBER.user_id] == []


async def test_when_graph_cannot_say_who_owns_the_team_nothing_changes(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World
) -> None:
    world.graph.graph_status = 503
    sandbox.reset()
    card = await bot.on_message(in_channel(), f"map {fresh_number()}", TEAM)
    shown = texts(card)
    assert "I cannot check your permissions right now" in shown
    assert "Nothing was changed" in shown and "Try again in a few minutes" in shown
    assert api_calls(sandbox) == {}
    # Looking needs no permission.
    assert "Numbers in General" in texts(await bot.on_message(in_channel(), "status", TEAM))
    world.graph.graph_status = None
    number = fresh_number()
    assert "Number mapped" in texts(await bot.on_message(in_channel(), f"map {number}", TEAM))
    assert [m.phone_number for m in await client.list_mappings(world.enterprise.enterprise_id)] == [
        number
    ]


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """An address that takes connections and never answers (a Graph that hangs)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_when_graph_hangs_a_click_is_answered_in_time_and_changes_nothing(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World,
    hanging_url: str,
) -> None:  # fmt: skip
    status = await bot.on_message(in_channel(), "status", TEAM)
    async with httpx.AsyncClient() as http:
        tokens = MsalTenantTokens(
            APP_ID, SecretStr("bot-password"), world.graph.base_url, verify=False
        )  # the stand-in's tokens, over its TLS; only Graph hangs
        hanging = MappingBot(
            bot.service, bot.signer, replace(bot.options, permission_wait_action=1.0),
            tenancy=bot.tenancy, audit=bot.audit, operations=bot.operations,
            **bot_features(bot),
            permissions=Permissions(
                GraphClient(base_url=hanging_url, tokens=tokens, http=http), world.storage,
                frozenset(),
            ),
        )  # fmt: skip
        sandbox.reset()
        started = time.monotonic()
        card = await click(hanging, status, "Map to this channel", number=fresh_number())
        # Teams waits 5 s for a card action's answer; Graph's own timeout is 4 s.
        assert time.monotonic() - started < 3.5
    shown = texts(card)
    assert "I cannot check your permissions right now" in shown and "Nothing was changed" in shown
    assert api_calls(sandbox) == {}
    assert await client.list_mappings(world.enterprise.enterprise_id) == []


async def test_a_member_cannot_open_the_settings_but_an_owner_can_let_every_member_change(
    bot: MappingBot, client: ContextSMSClient, world: World
) -> None:
    member = in_channel(user=MEMBER)
    refused = texts(await bot.on_message(member, "settings", TEAM))
    assert "Only an owner of this team can change who may map numbers" in refused
    settings = await bot.on_message(in_channel(), "settings", TEAM)
    assert "**the owners of this team**" in texts(settings)
    # The member clicking the owner's button is refused too.
    assert "Not allowed for you" in texts(
        await click(bot, settings, "Let every member change", member)
    )
    opened = await click(bot, settings, "Let every member change")
    assert "Every member of this team may now map, move and unmap numbers" in texts(opened)

    number = fresh_number()
    assert "Number mapped" in texts(await bot.on_message(member, f"map {number}", TEAM))
    # Every member may change mappings, but managing the team stays with its owners.
    assert "Only an owner of this team" in texts(await bot.on_message(member, "settings", TEAM))
    closed = await click(bot, opened, "Only owners may change")
    assert "Only this team's owners may now" in texts(closed)
    assert REFUSED in texts(await bot.on_message(member, f"unmap {number}", TEAM))
    [mapping] = await client.list_mappings(world.enterprise.enterprise_id)
    assert mapping.phone_number == number
    changes = [e for e in await world.entries() if e.action is AuditAction.SETTINGS_CHANGED]
    assert [e.actor_id for e in changes] == [OWNER.user_id, OWNER.user_id]


OTHER_GROUP = "b2b2b2b2-2222-4222-8222-222222222222"
OTHER_TEAM = "19:max-own-team@thread.tacv2"
OTHER_DIRECTORY = Directory(group=OTHER_GROUP)


async def test_an_owner_of_one_team_lets_only_that_teams_members_change(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World
) -> None:
    # Max, a member of the team, creates a team of his own in the same organization.
    world.graph.set_team(OTHER_GROUP, TENANT, [replace(MEMBER, roles=("owner",))])
    his_team = in_channel(OTHER_TEAM, "General", MEMBER, team=OTHER_TEAM)
    links_before = await world.storage.links()
    settings = await bot.on_message(his_team, "settings", OTHER_DIRECTORY)
    opened = await click(bot, settings, "Let every member change", his_team, OTHER_DIRECTORY)
    assert "Every member of this team may now" in texts(opened)

    # Only his team says so: in the first team, he is still a member who may not change.
    sandbox.reset()
    refused = await bot.on_message(in_channel(user=MEMBER), f"map {fresh_number()}", TEAM)
    assert REFUSED in texts(refused)
    assert writes(sandbox) == {}
    assert "**the owners of this team**" in texts(
        await bot.on_message(in_channel(), "settings", TEAM)
    )
    # The organization's link was not rewritten, and no team gained one.
    assert await world.storage.links() == links_before

    # The change is in his team's history, with its team and channel, not in the other's.
    [change] = [e for e in await world.entries() if e.action is AuditAction.SETTINGS_CHANGED]
    assert (change.team_id, change.channel_id, change.actor_id) == (
        OTHER_TEAM, OTHER_TEAM, MEMBER.user_id,
    )  # fmt: skip
    assert "Settings changed" in texts(await bot.on_message(his_team, "history", OTHER_DIRECTORY))
    assert "Settings changed" not in texts(await bot.on_message(in_channel(), "history", TEAM))


async def test_changing_the_option_never_brings_back_a_link_removed_meanwhile(
    bot: MappingBot, world: World
) -> None:
    settings = await bot.on_message(in_channel(), "settings", TEAM)  # the link is read here
    await world.tenancy.unlink(TENANT, None, by=OPERATOR)
    # Clicked after the unlink: nothing to act on, and the link stays removed.
    await click(bot, settings, "Let every member change")
    await world.tenancy.set_members_may_change(in_channel(), True)
    assert await world.storage.links() == []


async def test_every_change_is_audited_with_who_what_and_where(
    bot: MappingBot, world: World
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number} Desk", TEAM)
    await bot.on_message(in_channel(SALES, "Sales"), f"remap {number}", TEAM)
    ask = await bot.on_message(in_channel(SALES, "Sales"), f"unmap {number}", TEAM)
    await click(bot, ask, "Unmap", in_channel(SALES, "Sales"))
    await click(bot, ask, "Unmap", in_channel(SALES, "Sales"))  # twice: changes nothing more
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    await bot.on_message(in_channel(), f"map {number}", TEAM)  # already mapped: no change
    entries = [e for e in await world.entries(tenant_id=TENANT) if e.number]
    assert [(e.action, e.outcome, e.before, e.after) for e in reversed(entries)] == [
        (AuditAction.MAP, "ok", None, GENERAL),
        (AuditAction.REMAP, "ok", GENERAL, SALES),
        (AuditAction.UNMAP, "ok", SALES, None),
        (AuditAction.MAP, "ok", None, GENERAL),
    ]
    for entry in entries:
        assert (entry.actor_id, entry.actor_name) == (OWNER.user_id, OWNER.display_name)
        assert (entry.number, entry.team_id) == (number, GENERAL)
        assert entry.enterprise_id == world.enterprise.enterprise_id


@pytest.mark.parametrize("status", [500, 503])
async def test_a_change_whose_outcome_is_unknown_is_audited_as_such_with_its_reference(
    sandbox: RunningSandbox, bot: MappingBot, world: World, status: int
) -> None:
    number = fresh_number()
    served_then_failed = {"method": "POST", "path_prefix": "/api/v2/mapping/add",
                          "status": status, "after_handler": True}  # fmt: skip
    lookups_fail = {"method": "GET", "path_prefix": "/api/v2/numbertomessageappmapping/",
                    "status": status}  # fmt: skip
    sandbox.faults(script=[served_then_failed] * 8 + [lookups_fail] * 8)
    card = await bot.on_message(in_channel(), f"map {number}", TEAM)
    assert "may or may not have been applied" in texts(card)
    [entry] = [e for e in await world.entries() if e.number == number]
    assert (entry.action, entry.outcome) == (AuditAction.MAP, "unknown")
    assert entry.request_id and entry.request_id in texts(card)
    assert button(card, "Show this channel's numbers now")


async def test_a_refused_change_is_audited_as_failed(
    sandbox: RunningSandbox, bot: MappingBot, world: World
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(SALES, "Sales"), f"map {number}", TEAM)
    sandbox.faults(script=[{"method": "PUT", "path_prefix": "/api/v2/mapping/", "status": 403}])
    card = await bot.on_message(in_channel(), f"remap {number}", TEAM)
    assert "Nothing was changed" in texts(card)
    [entry] = [e for e in await world.entries() if e.action is AuditAction.REMAP]
    assert (entry.outcome, entry.number, entry.before, entry.after) == (
        "failed", number, SALES, GENERAL,
    )  # fmt: skip
