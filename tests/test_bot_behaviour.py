"""What people see, message by message and click by click, against the sandbox over HTTP.

No Bot Framework here: the handlers take a Conversation and return cards.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.actions import ActionSigner, TamperedAction, card_action
from bot.audit import Audit
from bot.conversation import Conversation, Person, TeamDirectory
from bot.graph import GraphClient, MsalTenantTokens
from bot.handlers import MappingBot
from bot.mappings import MappingService
from bot.operations import Operations
from bot.permissions import Permissions
from bot.storage.models import AuditEntry
from bot.storage.sqlite import SqliteStorage
from bot.tenancy import Tenancy
from bot.turn import BotOptions
from cards.elements import Card
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate, MappingCreate
from sandbox.threaded import RunningSandbox
from standins.graph import GraphStandIn, Member
from standins.tls import make_ca
from tests.conftest import fresh_number, make_client
from tests.support.cards_text import elements
from tests.support.features import bot_features, new_features

GENERAL = "19:general@thread.tacv2"
SALES = "19:sales@thread.tacv2"
APP_ID = "11111111-2222-3333-4444-555555555555"
TENANT = "aaaaaaaa-0000-4000-8000-00000000000a"
GROUP = "a1a1a1a1-1111-4111-8111-111111111111"  # the team's Microsoft 365 group (aadGroupId)
OWNER = Member("0e0e0e0e-0000-4000-8000-0000000000e1", "Olga Owner", ("owner",))
MEMBER = Member("0f0f0f0f-0000-4000-8000-0000000000f1", "Max Member")
OPERATOR_TENANT = "cccccccc-0000-4000-8000-00000000000c"  # the reseller's own tenant
OPERATOR = Person("0c0c0c0c-0000-4000-8000-0000000000c1", "Olive Operator")
SETUP_KEY = b"setup codes key for the tests"


def person(member: Member) -> Person:
    return Person(member.user_id, member.display_name)


def in_channel(
    channel: str = GENERAL, name: str | None = "General", user: Member = OWNER,
    tenant: str = TENANT, team: str = GENERAL,
) -> Conversation:  # fmt: skip
    """A channel of the team, as its owner (by default) writes in it."""
    return Conversation(tenant, channel, name, team_id=team, user=person(user))


PERSONAL = Conversation(
    TENANT, user=person(OWNER), conversation_id="a:personal-olga", personal=True
)


@dataclass
class Directory:
    """What Teams tells of the conversation's team (the glue asks TeamsInfo)."""

    names: dict[str, str] = field(default_factory=dict)
    group: str | None = GROUP

    async def channel_names(self) -> dict[str, str]:
        return dict(self.names)

    async def group_id(self) -> str | None:
        return self.group


TEAM = Directory()  # the team, whose channel names Teams does not tell
NO_TEAM = Directory(group=None)  # a personal chat
NAMED = Directory({GENERAL: "General", SALES: "Sales"})


@dataclass
class World:
    """The bot with everything real behind it: the sandbox, SQLite, and Graph's stand-in."""

    bot: MappingBot
    graph: GraphStandIn
    storage: SqliteStorage
    enterprise: Enterprise

    @property
    def audit(self) -> Audit:
        return self.bot.audit

    @property
    def tenancy(self) -> Tenancy:
        return self.bot.tenancy

    async def entries(self, **filters: Any) -> list[AuditEntry]:
        return await self.audit.history(limit=1000, **filters)


def with_service(bot: MappingBot, service: MappingService, options: BotOptions) -> MappingBot:
    """Another bot over the same organizations, people and audit trail."""
    return MappingBot(
        service, bot.signer, options, tenancy=bot.tenancy, permissions=bot.permissions,
        audit=bot.audit, operations=bot.operations, **bot_features(bot),
    )  # fmt: skip


@pytest.fixture
async def world(
    client: ContextSMSClient, enterprise: Enterprise, tmp_path: Path
) -> AsyncIterator[World]:
    ca = make_ca(tmp_path)
    graph = GraphStandIn(ssl_context=ca.server_context)
    graph.set_team(GROUP, TENANT, [OWNER, MEMBER])
    storage = SqliteStorage(tmp_path / "bot.db")
    audit = Audit(storage)
    tenancy = Tenancy(storage, audit, SETUP_KEY)
    await tenancy.link_from_settings(TENANT, enterprise.enterprise_id)
    try:
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca.ca_file)) as http:
            tokens = MsalTenantTokens(
                APP_ID, SecretStr("bot-password"), graph.base_url, verify=str(ca.ca_file)
            )
            permissions = Permissions(
                GraphClient(base_url=graph.base_url, tokens=tokens, http=http), storage,
                frozenset({(OPERATOR_TENANT, OPERATOR.object_id)}),
            )  # fmt: skip
            bot = MappingBot(
                MappingService(client), ActionSigner(b"k"), BotOptions(), tenancy=tenancy,
                permissions=permissions, audit=audit, operations=Operations(client, tenancy, audit),
                **new_features(client, storage, audit),
            )  # fmt: skip
            yield World(bot, graph, storage, enterprise)
    finally:
        graph.stop()
        await storage.aclose()


@pytest.fixture
def bot(world: World) -> MappingBot:
    return world.bot


def texts(card: Card) -> str:
    """Everything a person reads on the card, buttons included."""
    keys = ("text", "title", "value", "label", "placeholder")
    return "\n".join(
        node[key] for node in elements(card) for key in keys if isinstance(node.get(key), str)
    )


def button(card: Card, title: str) -> dict[str, Any]:
    found = next(
        (
            n
            for n in elements(card)
            if n.get("type") == "Action.Execute" and n.get("title") == title
        ),
        None,
    )
    assert found is not None, f"no button {title!r} on {texts(card)}"
    return found


async def click(bot: MappingBot, card: Card, title: str, conversation: Conversation | None = None,
                directory: TeamDirectory = TEAM, **inputs: str) -> Card:  # fmt: skip
    action = button(card, title)
    data = {**action["data"], **inputs}
    return await act(bot, conversation or in_channel(), action["verb"], data, directory)


async def act(bot: MappingBot, conversation: Conversation, verb: str, data: Any,
              directory: TeamDirectory = TEAM) -> Card:  # fmt: skip
    """A card action as Teams sends it: parsed as the edge parses it, then handled."""
    try:
        action = card_action(verb, data)
    except TamperedAction as exc:
        return bot.tampered(conversation, exc)
    return await bot.on_action(conversation, action, directory)


async def test_map_as_people_type_it(bot: MappingBot, client: ContextSMSClient,
                                     enterprise: Enterprise) -> None:  # fmt: skip
    number = fresh_number()
    national = f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    card = await bot.on_message(in_channel(), f"<at>Test Bot</at> MAP {national} Front desk", TEAM)
    assert "Number mapped" in texts(card)
    assert number in texts(card) and "Front desk" in texts(card)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert (mapping.phone_number, mapping.messaging_app_id, mapping.name) == (
        number,
        GENERAL,
        "Front desk",
    )

    again = await bot.on_message(in_channel(), f"<at>Test Bot</at> add {number}", TEAM)
    assert "Already mapped here" in texts(again)
    assert len(await client.list_mappings(enterprise.enterprise_id)) == 1


@pytest.mark.parametrize("typed", ["map 555-12", "map hello", "map", "add +1 555 987 65431234567"])
async def test_invalid_number_says_the_format_and_changes_nothing(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, typed: str
) -> None:
    card = await bot.on_message(in_channel(), f"<at>Test Bot</at> {typed}", TEAM)
    shown = texts(card)
    assert "not a phone number I can use" in shown
    assert "+12015550123" in shown and "(201) 555-0123" in shown  # the region's example
    assert "Nothing was changed" in shown
    assert await client.list_mappings(enterprise.enterprise_id) == []


async def test_unknown_command_gets_help(bot: MappingBot) -> None:
    card = await bot.on_message(in_channel(), "<at>Test Bot</at> frobnicate now", TEAM)
    assert "I don't know the command **frobnicate**" in texts(card)
    assert "map ‹number› [name]" in texts(card)
    for word in ("?", "help", "HELP"):
        assert "map ‹number› [name]" in texts(await bot.on_message(in_channel(), word, TEAM))


async def test_status_lists_this_channel_only(bot: MappingBot, client: ContextSMSClient,
                                              enterprise: Enterprise) -> None:  # fmt: skip
    empty = await bot.on_message(in_channel(), "<at>Test Bot</at> status", TEAM)
    assert "No number is mapped to this channel yet" in texts(empty)
    here, there = fresh_number(), fresh_number()
    await bot.on_message(in_channel(), f"map {here} Reception", TEAM)
    await bot.on_message(in_channel(SALES, "Sales"), f"map {there} Sales line", TEAM)
    card = await bot.on_message(in_channel(), "show", TEAM)
    assert "Numbers in General" in texts(card)
    assert here in texts(card) and "Reception" in texts(card)
    assert there not in texts(card)


async def test_map_form_on_the_status_card(bot: MappingBot, client: ContextSMSClient,
                                           enterprise: Enterprise) -> None:  # fmt: skip
    status = await bot.on_message(in_channel(), "status", TEAM)
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
    await bot.on_message(in_channel(SALES, "Sales"), f"map {number}", TEAM)

    card = await bot.on_message(in_channel(), f"map {number}", NAMED)
    assert "Already mapped to another channel" in texts(card)
    assert "is mapped to **Sales**" in texts(card)
    unnamed = await bot.on_message(in_channel(), f"map {number}", TEAM)
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
    card = await bot.on_message(in_channel(), f"map {number}", TEAM)
    assert "Mapped by another organization" in texts(card)
    assert "cannot be moved from here" in texts(card)
    assert "Move it here" not in texts(card)


async def test_remap_moves_or_offers_to_map(bot: MappingBot, client: ContextSMSClient,
                                            enterprise: Enterprise) -> None:  # fmt: skip
    number = fresh_number()
    offer = await bot.on_message(in_channel(), f"remap {number}", TEAM)
    assert "Not mapped yet" in texts(offer)
    mapped = await click(bot, offer, "Map to this channel", number=number, name="")
    assert "Number mapped" in texts(mapped)
    moved = await bot.on_message(in_channel(SALES, "Sales"), f"move {number}", TEAM)
    assert "Number moved here" in texts(moved) and "instead of **General**" in texts(moved)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == SALES


async def test_unmap_asks_first_and_a_second_click_changes_nothing(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number} Desk", TEAM)
    ask = await bot.on_message(in_channel(), f"unmap {number}", TEAM)
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
    card = await bot.on_message(in_channel(), f"remove {fresh_number()}", TEAM)
    assert "is not mapped to this channel; nothing to unmap" in texts(card)


async def test_mapping_commands_need_a_channel(bot: MappingBot) -> None:
    for typed in ("map +15559876543", "status", "unmap +15559876543"):
        card = await bot.on_message(PERSONAL, typed, NO_TEAM)
        assert "This works in a channel" in texts(card)
    assert "Mapping works in a channel of a team" in texts(
        await bot.on_message(PERSONAL, "help", NO_TEAM)
    )
    assert "All numbers of your organization" in texts(
        await bot.on_message(PERSONAL, "list", NO_TEAM)
    )


async def test_list_groups_by_channel_and_pages(bot: MappingBot) -> None:
    for _ in range(12):
        await bot.on_message(in_channel(), f"map {fresh_number()}", TEAM)
    for _ in range(3):
        await bot.on_message(in_channel(SALES, "Sales"), f"map {fresh_number()}", TEAM)

    first = await bot.on_message(PERSONAL, "list", NAMED)
    assert "Page 1 of 2" in texts(first)
    second = await act(
        bot, PERSONAL, button(first, "Next")["verb"], button(first, "Next")["data"], NAMED
    )
    assert "Page 2 of 2" in texts(second) and "Sales" in texts(second)
    assert "Next" not in [a.get("title") for a in second.get("actions", [])]


async def test_forged_and_foreign_card_actions_are_refused(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    ask = await bot.on_message(in_channel(), f"unmap {number}", TEAM)
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
    card = await bot.on_message(in_channel(), "status", TEAM)
    shown = texts(card)
    assert "ContextSMS had a problem" in shown
    assert "Support reference: req-" in shown
    assert "Traceback" not in shown and "eyJ" not in shown


async def test_wrong_credentials_and_enterprise_are_explained(
    sandbox: RunningSandbox, world: World
) -> None:
    async with make_client(sandbox, password=SecretStr("wrong")) as wrong:
        bot = with_service(world.bot, MappingService(wrong), BotOptions())
        card = await bot.on_message(in_channel(), "status", TEAM)
        assert "cannot sign in to ContextSMS" in texts(card)
        assert "wrong" not in texts(card)
    gone = "bbbbbbbb-0000-4000-8000-00000000000b"
    await world.tenancy.link_from_settings(gone, "E9999999")
    card = await world.bot.on_message(in_channel(tenant=gone), "status", TEAM)
    assert "Not found" in texts(card) and "check this organization's setup" in texts(card)
    unset = "dddddddd-0000-4000-8000-00000000000d"
    card = await world.bot.on_message(in_channel(tenant=unset), "status", TEAM)
    assert "Not set up yet" in texts(card)


async def test_an_api_that_never_answers_gets_a_plain_answer(
    sandbox: RunningSandbox, client: ContextSMSClient, world: World
) -> None:
    import time

    bot = with_service(world.bot, MappingService(client), BotOptions(deadline=0.5))
    sandbox.faults(
        script=[{"path_prefix": "/api/v2/mapping/add", "delay_ms": 4000, "after_handler": True}]
    )
    started = time.monotonic()
    card = await bot.on_message(in_channel(), f"map {fresh_number()}", TEAM)
    assert time.monotonic() - started < 3.0
    assert "No answer from ContextSMS" in texts(card)
    assert "may or may not have been applied" in texts(card)


async def test_remap_from_the_status_card_moves_a_number_to_a_chosen_channel(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:

    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number} Desk", TEAM)
    status = await bot.on_message(in_channel(), "status", NAMED)
    pick = await act(bot, in_channel(), **_click(status, "Remap"), directory=NAMED)
    assert "Move this number" in texts(pick) and "Sales" in texts(pick)
    assert "General" not in [c["title"] for c in pick["body"][2]["choices"]]
    move = button(pick, "Move")

    forged = await act(
        bot, in_channel(), move["verb"], {**move["data"], "target": "19:evil"}, NAMED
    )
    assert "Choose one of this team's channels" in texts(forged)
    done = await act(bot, in_channel(), move["verb"], {**move["data"], "target": SALES}, NAMED)
    assert "Number moved" in texts(done) and "**Sales**" in texts(done)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.messaging_app_id == SALES
    again = await act(bot, in_channel(), move["verb"], {**move["data"], "target": SALES}, NAMED)
    assert "Already there" in texts(again)


def _click(card: Card, title: str) -> dict[str, Any]:
    action = button(card, title)
    return {"verb": action["verb"], "data": action["data"]}


LOOKUP = "/api/v2/numbertomessageappmapping"


async def while_looked_up(
    sandbox: RunningSandbox, work: Awaitable[Card], meanwhile: Callable[[], Awaitable[object]]
) -> Card:
    """`work`, whose look-up of the numbers ContextSMS answers late: `meanwhile` (someone
    else's change) runs after ContextSMS read them and before the bot acts on what it read."""

    def lookups() -> int:
        counts: dict[str, int] = sandbox.stats()["requests"]
        return sum(n for key, n in counts.items() if key.startswith(f"GET {LOOKUP}"))

    before = await asyncio.to_thread(lookups)
    sandbox.faults(
        script=[{"method": "GET", "path_prefix": LOOKUP, "delay_ms": 3000, "after_handler": True}]
    )
    task = asyncio.ensure_future(work)
    for _ in range(200):
        if await asyncio.to_thread(lookups) > before:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # read by now: its answer is held back for 3 s
    await meanwhile()
    return await task


async def test_unmap_of_a_number_someone_unmapped_meanwhile_says_it_is_unmapped(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    ask = await bot.on_message(in_channel(), f"unmap {number}", TEAM)
    card = await while_looked_up(
        sandbox, click(bot, ask, "Unmap"), lambda: client.delete_mapping(mapping.id)
    )
    assert "Already unmapped" in texts(card) and number in texts(card)
    assert "Not found" not in texts(card) and "setup" not in texts(card)
    assert await client.list_mappings(enterprise.enterprise_id) == []


async def test_moving_a_number_someone_unmapped_meanwhile_says_it_is_not_mapped(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(SALES, "Sales"), f"map {number}", TEAM)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    typed = await while_looked_up(
        sandbox, bot.on_message(in_channel(), f"remap {number}", NAMED),
        lambda: client.delete_mapping(mapping.id),
    )  # fmt: skip
    assert f"{number}) is not mapped in your organization" in texts(typed)
    assert "Not found" not in texts(typed)
    assert await client.list_mappings(enterprise.enterprise_id) == []

    await bot.on_message(in_channel(), f"map {number}", TEAM)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    pick = await click(bot, await bot.on_message(in_channel(), "status", NAMED), "Remap",
                       directory=NAMED)  # fmt: skip
    move = button(pick, "Move")
    chosen = await while_looked_up(
        sandbox, act(bot, in_channel(), move["verb"], {**move["data"], "target": SALES}, NAMED),
        lambda: client.delete_mapping(mapping.id),
    )  # fmt: skip
    assert f"{number}) is no longer mapped in your organization" in texts(chosen)
    assert "Not found" not in texts(chosen) and "Number moved" not in texts(chosen)
    assert await client.list_mappings(enterprise.enterprise_id) == []


def test_one_paging_rule_for_every_paged_card() -> None:
    from bot.turn import page_of
    from cards.screens import PAGE_SIZE

    rows = list(range(2 * PAGE_SIZE + 3))
    assert page_of(rows, 0) == (rows[:PAGE_SIZE], 0, 3)
    assert page_of(rows, 2) == (rows[2 * PAGE_SIZE :], 2, 3)
    # A page out of range (a card from when there were more rows, or a forged one) shows the
    # nearest page that exists.
    assert page_of(rows, 99) == (rows[2 * PAGE_SIZE :], 2, 3)
    assert page_of(rows, -4) == (rows[:PAGE_SIZE], 0, 3)
    assert page_of([], 5) == ([], 0, 1)
    assert page_of(rows[:PAGE_SIZE], 1) == (rows[:PAGE_SIZE], 0, 1)
