"""Many organizations in one deployment, as their people see it: each tenant acts on its own
enterprise and nobody else's, an organization nobody set up gets only how to set it up (and the
bot makes no call for it), setup codes link as the card says or are refused in plain words, and
cards made in one tenant, or before a re-link, change nothing elsewhere."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation import Conversation
from bot.handlers import MappingBot
from bot.tenancy import IssuedCode, Tenancy
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate
from sandbox.threaded import RunningSandbox
from standins.graph import Member
from tests.conftest import fresh_number
from tests.test_bot_behaviour import (
    GENERAL,
    MEMBER,
    NO_TEAM,
    OPERATOR,
    PERSONAL,
    SETUP_KEY,
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

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

TENANT_B = "bbbbbbbb-0000-4000-8000-00000000000b"
GROUP_B = "b2b2b2b2-2222-4222-8222-222222222222"
OWNER_B = Member("0b0b0b0b-0000-4000-8000-0000000000b1", "Bea Owner", ("owner",))
GENERAL_B = "19:b-general@thread.tacv2"
TEAM_B = Directory(group=GROUP_B)
NEW_TENANT = "eeeeeeee-0000-4000-8000-00000000000e"
GROUP_NEW = "e5e5e5e5-5555-4555-8555-555555555555"
ADMIN_NEW = Member("0a0a0a0a-0000-4000-8000-0000000000a1", "Ada Admin", ("owner",))
NEW_GENERAL = "19:new-general@thread.tacv2"
TEAM_NEW = Directory(group=GROUP_NEW)


def in_b(user: Member = OWNER_B) -> Conversation:
    return Conversation(TENANT_B, GENERAL_B, "General", GENERAL_B, person(user))


def in_new(user: Member = ADMIN_NEW) -> Conversation:
    return Conversation(NEW_TENANT, NEW_GENERAL, "General", NEW_GENERAL, person(user))


def new_personal() -> Conversation:
    return Conversation(NEW_TENANT, user=person(ADMIN_NEW), conversation_id="a:ada", personal=True)


async def create_enterprise(client: ContextSMSClient, name: str) -> Enterprise:
    return await client.create_enterprise(
        EnterpriseCreate(name=name, contact="C", number=fresh_number(), email="c@example.com")
    )


@dataclass
class Two:
    a: Enterprise
    b: Enterprise


@pytest.fixture
async def two(world: World, client: ContextSMSClient) -> Two:
    """A second organization: tenant B on its own enterprise, with its own team and owner."""
    world.graph.set_team(GROUP_B, TENANT_B, [OWNER_B])
    world.graph.set_team(GROUP_NEW, NEW_TENANT, [ADMIN_NEW])
    b = await create_enterprise(client, "Other Clinic")
    await world.tenancy.link_from_settings(TENANT_B, b.enterprise_id)
    return Two(world.enterprise, b)


# What a linked turn reads to show its organization's brand (cached): never a change, and
# made for whoever asks, so left out of what a refused person is said to have caused.
BRAND_READS = ("/csp/getcspconfig", "/enterprise/getenterprise/")


def api_calls(sandbox: RunningSandbox) -> dict[str, int]:
    """The ContextSMS requests and logins since the last reset (not the test controls', nor
    the brand reads)."""
    stats = sandbox.stats()
    calls = {
        route: n for route, n in stats["requests"].items()
        if "/_sandbox/" not in route and not any(read in route for read in BRAND_READS)
    }  # fmt: skip
    return {**calls, "logins": stats["logins"]} if stats["logins"] else calls


async def test_two_tenants_side_by_side_see_and_change_only_their_own(
    bot: MappingBot, client: ContextSMSClient, two: Two
) -> None:
    mine, theirs = fresh_number(), fresh_number()
    assert "Number mapped" in texts(await bot.on_message(in_channel(), f"map {mine}", TEAM))
    assert "Number mapped" in texts(await bot.on_message(in_b(), f"map {theirs}", TEAM_B))
    [a_map] = await client.list_mappings(two.a.enterprise_id)
    [b_map] = await client.list_mappings(two.b.enterprise_id)
    assert (a_map.phone_number, b_map.phone_number) == (mine, theirs)

    # Looking: each sees its own numbers only.
    a_status = texts(await bot.on_message(in_channel(), "status", TEAM))
    a_list = texts(await bot.on_message(in_channel(), "list", TEAM))
    b_list = texts(await bot.on_message(in_b(), "list", TEAM_B))
    assert mine in a_status and theirs not in a_status
    assert mine in a_list and theirs not in a_list
    assert theirs in b_list and mine not in b_list

    # Changing the other's: map, remap and unmap all leave it where it is.
    taken = texts(await bot.on_message(in_channel(), f"map {theirs}", TEAM))
    assert "Mapped by another organization" in taken and "Move it here" not in taken
    assert "not mapped in your organization" in texts(
        await bot.on_message(in_channel(), f"remap {theirs}", TEAM)
    )
    assert "nothing to unmap" in texts(await bot.on_message(in_channel(), f"unmap {theirs}", TEAM))
    assert [m.messaging_app_id for m in await client.list_mappings(two.b.enterprise_id)] == [
        GENERAL_B
    ]
    assert [m.phone_number for m in await client.list_mappings(two.a.enterprise_id)] == [mine]


async def test_a_card_of_one_tenant_replayed_in_another_changes_nothing(
    bot: MappingBot, client: ContextSMSClient, two: Two
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    ask = await bot.on_message(in_channel(), f"unmap {number}", TEAM)
    status = await bot.on_message(in_channel(), "status", TEAM)
    # Tenant B's owner gets hold of tenant A's cards and sends their buttons from B.
    for card, title in ((ask, "Unmap"), (status, "Remap"), (status, "Map to this channel")):
        refused = await click(bot, card, title, in_b(), TEAM_B, number=fresh_number())
        assert "This card is from another organization" in texts(refused), title
        assert "Nothing was changed" in texts(refused)
    # Even in a channel with the same id as A's (ids forged by a sideloaded app).
    same_channel = Conversation(TENANT_B, GENERAL, "General", GENERAL, person(OWNER_B))
    refused = await click(bot, ask, "Unmap", same_channel, TEAM_B)
    assert "This card is from another organization" in texts(refused)
    [mapping] = await client.list_mappings(two.a.enterprise_id)
    assert mapping.phone_number == number
    assert await client.list_mappings(two.b.enterprise_id) == []


COMMANDS_OF_A_LINKED_TEAM = [
    "status", "list", f"map {fresh_number()}", "remap +15559876543", "unmap +15559876543",
    "history", "settings",
]  # fmt: skip


async def test_an_organization_nobody_set_up_is_told_how_and_no_call_is_made(
    sandbox: RunningSandbox, bot: MappingBot, two: Two
) -> None:
    status = await bot.on_message(in_channel(), "status", TEAM)  # a card of a linked team
    sandbox.reset()
    for typed in COMMANDS_OF_A_LINKED_TEAM:
        card = await bot.on_message(in_new(), typed, TEAM_NEW)
        shown = texts(card)
        assert "Not set up yet" in shown, typed
        assert "ask your ContextSMS provider for a setup code" in shown
        assert "`setup ‹code›`" in shown and button(card, "Set up")["verb"] == "setup"
    # Its card actions too, and a card from a linked tenant is refused as another's.
    not_linked = await bot.on_message(in_new(), "status", TEAM_NEW)
    helped = texts(await click(bot, not_linked, "Help", in_new(), TEAM_NEW))
    assert "setup ‹setup code›" in helped
    foreign = await click(bot, status, "All numbers", in_new(), TEAM_NEW)
    assert "another organization" in texts(foreign)
    help_card = texts(await bot.on_message(in_new(), "help", TEAM_NEW))
    assert "setup ‹setup code›" in help_card
    assert api_calls(sandbox) == {}


async def test_without_a_tenant_nothing_can_be_done(
    sandbox: RunningSandbox, bot: MappingBot, world: World
) -> None:
    nowhere = Conversation(None, GENERAL, "General", GENERAL, person(Member("x", "X")))
    status = await bot.on_message(in_channel(), "status", TEAM)
    sandbox.reset()
    for typed in ("status", f"map {fresh_number()}", "help", "setup ABCDE-12345"):
        card = await bot.on_message(nowhere, typed, TEAM)
        assert "Nothing can be done here" in texts(card), typed
        assert "Nothing was changed" in texts(card)
    assert "Nothing can be done here" in texts(await click(bot, status, "All numbers", nowhere))
    assert api_calls(sandbox) == {}
    assert [e.action for e in await world.entries() if e.tenant_id is None] == []


async def issue(world: World, enterprise: Enterprise, **options: object) -> IssuedCode:
    return await world.tenancy.issue_code(enterprise.enterprise_id, by=OPERATOR, **options)  # type: ignore[arg-type]


async def test_setup_with_a_code_links_the_organization_and_says_to_what(
    bot: MappingBot, world: World, two: Two, client: ContextSMSClient,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    issued = await issue(world, two.b)
    typed = issued.code.lower().replace("-", " ")  # read aloud, typed as heard
    card = await bot.on_message(in_new(), f"<at>Bot</at> setup {typed}", TEAM_NEW)
    shown = texts(card)
    assert (
        "Set up" in shown and f"uses the ContextSMS enterprise **{two.b.enterprise_id}**" in shown
    )
    assert issued.code not in str(card) and typed not in str(card)
    # The answer's buttons act on the new link, and the organization now works.
    assert "All numbers of your organization" in texts(await click(bot, card, "All numbers",
                                                                   in_new(), TEAM_NEW))  # fmt: skip
    number = fresh_number()
    assert "Number mapped" in texts(await bot.on_message(in_new(), f"map {number}", TEAM_NEW))
    [mapping] = await client.list_mappings(two.b.enterprise_id)
    assert mapping.phone_number == number
    # Nothing logged the code, in any form.
    raw = issued.code.replace("-", "")
    assert not [r for r in caplog.records if raw in r.getMessage().upper().replace("-", "")]


async def test_a_team_scoped_code_links_the_team_it_is_typed_in(
    bot: MappingBot, world: World, two: Two
) -> None:
    issued = await issue(world, two.b, team_scoped=True)
    needs_team = await bot.on_message(new_personal(), f"setup {issued.code}", NO_TEAM)
    assert "That setup code is for one team" in texts(needs_team)
    card = await bot.on_message(in_new(), f"setup {issued.code}", TEAM_NEW)
    assert "This team now uses" in texts(card)
    [link] = [x for x in await world.tenancy.links() if x.tenant_id == NEW_TENANT]
    assert link.team_id == NEW_GENERAL
    # The rest of the organization is still not set up.
    assert "Not set up yet" in texts(await bot.on_message(new_personal(), "list", NO_TEAM))


async def test_each_refused_setup_says_why_in_plain_words_and_links_nothing(
    bot: MappingBot, world: World, two: Two
) -> None:
    async def setup(code: str) -> str:
        return texts(await bot.on_message(in_new(), f"setup {code}", TEAM_NEW))

    used = await issue(world, two.b)
    await bot.on_message(in_b(), f"setup {used.code}", TEAM_B)  # B uses it first
    foreign = await issue(world, two.b, for_tenant=TENANT_B)
    past = Tenancy(world.storage, world.audit, SETUP_KEY, clock=lambda: datetime.now(UTC)
                   - timedelta(days=4))  # fmt: skip
    expired = await past.issue_code(two.b.enterprise_id, by=OPERATOR)
    cases = {
        "ZZZZZ-ZZZZZ": "That setup code is not right",
        used.code: "That setup code was already used",
        expired.code: "That setup code has expired",
        foreign.code: "That setup code is for another organization",
    }
    for code, says in cases.items():
        shown = await setup(code)
        assert says in shown and "Nothing was linked" in shown, says
        assert code not in shown
    assert "Which setup code?" in await setup("")
    assert "Not set up yet" in texts(await bot.on_message(in_new(), "list", TEAM_NEW))

    # Five failures in the hour (four above and one more): then even a good code waits.
    await setup("ZZZZZ-ZZZZ1")
    good = await issue(world, two.b)
    locked = await setup(good.code)
    assert "Setup is paused for an hour" in locked and "Nothing was linked" in locked
    assert [x for x in await world.tenancy.links() if x.tenant_id == NEW_TENANT] == []


async def test_a_card_from_before_a_relink_changes_nothing(
    bot: MappingBot, world: World, two: Two, client: ContextSMSClient
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    ask = await bot.on_message(in_channel(), f"unmap {number}", TEAM)
    status = await bot.on_message(in_channel(), "status", TEAM)
    # The operator moves this organization to enterprise B.
    await world.bot.operations.unlink(TENANT, by=OPERATOR)
    issued = await issue(world, two.b)
    assert "Set up" in texts(await bot.on_message(in_channel(), f"setup {issued.code}", TEAM))

    for card, title in ((ask, "Unmap"), (status, "Remap"), (status, "Map to this channel")):
        refused = await click(bot, card, title, number=fresh_number())
        assert "This card is out of date" in texts(refused), title
        assert "Nothing was changed" in texts(refused)
    assert "This card is from another organization" not in texts(refused)
    [mapping] = await client.list_mappings(two.a.enterprise_id)
    assert mapping.phone_number == number
    assert await client.list_mappings(two.b.enterprise_id) == []
    # Reading with an old card shows today's enterprise.
    assert number not in texts(await click(bot, status, "All numbers"))


async def test_a_card_made_before_tenants_were_signed_works_only_where_it_belongs(
    bot: MappingBot, two: Two, client: ContextSMSClient
) -> None:
    from tests.test_verbs import old_signature

    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    [mapping] = await client.list_mappings(two.a.enterprise_id)
    ctx = {"ch": GENERAL, "ent": two.a.enterprise_id, "id": mapping.id}
    assert "Unmap this number?" in texts(
        await act(bot, in_channel(), "unmap.ask", old_signature("unmap.ask", ctx))
    )
    # In tenant B, in a channel with the same id: B's enterprise is not the card's.
    same_channel = Conversation(TENANT_B, GENERAL, "General", GENERAL, person(OWNER_B))
    card = await act(bot, same_channel, "unmap.confirm", old_signature("unmap.confirm", ctx),
                     TEAM_B)  # fmt: skip
    assert "This card is out of date" in texts(card)
    assert len(await client.list_mappings(two.a.enterprise_id)) == 1


async def test_only_an_owner_sets_up_in_a_team_and_a_refusal_uses_neither_code_nor_attempt(
    bot: MappingBot, world: World, two: Two
) -> None:
    issued = await issue(world, two.b)
    member = texts(await bot.on_message(in_channel(user=MEMBER), f"setup {issued.code}", TEAM))
    assert "Only an owner of this team can set up" in member and "Nothing was changed" in member
    # In a personal chat, a linked organization is not re-linked by whoever has a code.
    personal = texts(await bot.on_message(PERSONAL, f"setup {issued.code}", NO_TEAM))
    assert "already set up" in personal and "the code was not used" in personal
    world.graph.graph_status = 503
    down = texts(await bot.on_message(in_channel(), f"setup {issued.code}", TEAM))
    assert "I cannot check your permissions right now" in down
    world.graph.graph_status = None
    assert await world.storage.failed_setups(TENANT, datetime(2000, 1, 1, tzinfo=UTC)) == 0
    link = await world.tenancy.link_of(in_channel())
    assert link is not None and link.enterprise_id == two.a.enterprise_id

    # The code still works, for an owner of the team.
    done = texts(await bot.on_message(in_channel(), f"setup {issued.code}", TEAM))
    assert f"now uses the ContextSMS enterprise **{two.b.enterprise_id}**" in done


async def test_an_organization_not_set_up_yet_may_be_set_up_from_a_personal_chat(
    bot: MappingBot, world: World, two: Two
) -> None:
    issued = await issue(world, two.b)
    card = texts(await bot.on_message(new_personal(), f"setup {issued.code}", NO_TEAM))
    assert f"Your organization now uses the ContextSMS enterprise **{two.b.enterprise_id}**" in card


async def test_a_group_chat_cannot_set_up_an_organization(
    bot: MappingBot, world: World, two: Two
) -> None:
    # A group chat may hold guests: nobody there is known to speak for the organization.
    group = Conversation(NEW_TENANT, user=person(ADMIN_NEW), conversation_id="19:g@unq.gbl.spaces")
    issued = await issue(world, two.b)
    card = texts(await bot.on_message(group, f"setup {issued.code}", NO_TEAM))
    assert "Set up in a team or a personal chat" in card and "the code was not used" in card
    assert await world.storage.link_for(NEW_TENANT, None) is None
    # The code was neither used nor counted: it still links from a personal chat.
    card = texts(await bot.on_message(new_personal(), f"setup {issued.code}", NO_TEAM))
    assert "Your organization now uses" in card


async def test_an_organization_code_in_a_team_with_its_own_link_says_the_team_keeps_it(
    bot: MappingBot, world: World, two: Two, client: ContextSMSClient
) -> None:
    team_code = await issue(world, two.b, team_scoped=True)
    await bot.on_message(in_channel(), f"setup {team_code.code}", TEAM)
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)  # into B, the team's own link
    third = await create_enterprise(client, "Third Clinic")
    tenant_code = await issue(world, third)

    card = await bot.on_message(in_channel(), f"setup {tenant_code.code}", TEAM)
    shown = texts(card)
    assert (
        f"Your organization is now linked to the ContextSMS enterprise **{third.enterprise_id}**"
        in shown
    )
    assert f"This team keeps its own link to **{two.b.enterprise_id}**" in shown
    assert "ask your ContextSMS provider to unlink this team" in shown
    assert "now uses" not in shown
    # Its buttons act on the team's link, as the team does.
    listed = texts(await click(bot, card, "All numbers"))
    assert "out of date" not in listed and number in listed
