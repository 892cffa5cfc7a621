"""`find`, as people see it: their organization's numbers that match part of a number however
it is written, or part of a name, with their channels, paged; Move here and Unmap only for those
who may change numbers, in a channel; an Unmap from the card changes a number only where the
card showed it, is in the audit trail, and never reaches another organization's numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.actions import ActionContext, ActionSigner, CardVerb
from bot.branding import LOGO_URL_LIMIT, Brand, logo_url, product_name
from bot.handlers import MappingBot
from bot.storage.models import AuditAction, AuditEntry
from cards import CARD_SIZE_LIMIT, card_size
from cards.elements import Card
from cards.find import QUERY_LIMIT, FoundNumber
from cards.screens import PAGE_SIZE, Screens
from contextsms import ContextSMSClient
from contextsms.models import Mapping, MappingCreate, MappingUpdate
from tests.conftest import fresh_number
from tests.support.cards_text import elements
from tests.test_bot_behaviour import (
    GENERAL,
    MEMBER,
    NO_TEAM,
    PERSONAL,
    SALES,
    Directory,
    World,
    act,
    bot,
    button,
    in_channel,
    texts,
    world,
)
from tests.test_tenants import TEAM_B, Two, in_b, two

__all__ = ["bot", "two", "world"]  # the fixtures, shared with the behaviour tests

SUPPORT = "19:support@thread.tacv2"
CHANNELS = Directory({GENERAL: "General", SALES: "Sales", SUPPORT: "Support"})


@dataclass
class Org:
    """The organization of the tests' bot, as ContextSMS holds it."""

    client: ContextSMSClient
    enterprise_id: str

    async def add(self, number: str, channel: str, name: str | None = None) -> Mapping:
        """A number mapped by someone else (the portal, another bot): no card of ours."""
        return await self.client.add_mapping(
            self.enterprise_id,
            MappingCreate(phone_number=number, messaging_app_id=channel, name=name),
        )

    async def mappings(self) -> dict[str, str]:
        """Number → channel, as ContextSMS has them now."""
        found = await self.client.list_mappings(self.enterprise_id)
        return {m.phone_number: m.messaging_app_id for m in found}


@pytest.fixture
def org(client: ContextSMSClient, world: World) -> Org:
    return Org(client, world.enterprise.enterprise_id)


async def find(bot: MappingBot, query: str, conversation: Any = None,
               directory: Any = CHANNELS) -> Card:  # fmt: skip
    return await bot.on_message(
        conversation or in_channel(), f"<at>Bot</at> find {query}", directory
    )


def rows(card: Card) -> list[dict[str, Any]]:
    """The found numbers' rows (containers), in order."""
    return [n for n in card["body"] if n.get("type") == "Container"]


def row_of(card: Card, number: str) -> dict[str, Any]:
    found = [r for r in rows(card) if number in texts(r)]
    assert len(found) == 1, f"{number} on {len(found)} rows of {texts(card)}"
    return found[0]


def titles(node: Any) -> list[str]:
    return [n["title"] for n in elements(node) if n.get("type") == "Action.Execute"]


def shown_numbers(card: Card, numbers: list[str]) -> set[str]:
    return {n for n in numbers if n in texts(card)}


async def press(bot: MappingBot, node: Any, title: str, conversation: Any = None,
                directory: Any = CHANNELS) -> Card:  # fmt: skip
    action = button(node, title)
    return await act(bot, conversation or in_channel(), action["verb"], action["data"], directory)


def changes(
    entries: list[AuditEntry], number: str
) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.action.value, e.outcome, e.before, e.after) for e in entries if e.number == number]


async def test_numbers_are_found_by_any_part_as_written_and_by_name(
    bot: MappingBot, org: Org, world: World
) -> None:
    desk, line, bare = fresh_number(), fresh_number(), fresh_number()
    await org.add(desk, GENERAL, "Front Desk")
    await org.add(line, SALES, "Sales line")
    await org.add(bare, SALES)
    every = [desk, line, bare]

    area, exchange, tail = desk[2:5], desk[5:8], desk[8:]
    national = f"({area}) {exchange}-{tail}"
    typed = {
        f"{exchange}-{tail}": {desk},  # national digits, any part
        f"{exchange}{tail}": {desk},
        national: {desk},  # the whole national form
        f"1 {area} {exchange}{tail}": {desk},  # E.164 digits, the country code included
        f"+1 {area}": set(every),  # the start of the E.164 form
        f"+1{desk[2:]}": {desk},
        "front DESK": {desk},  # a name, whatever its case
        "  sales   LINE ": {line},
        "e": {desk, line},  # part of two names: the unnamed one has none
    }
    for query, expected in typed.items():
        card = await find(bot, query)
        assert shown_numbers(card, every) == expected, (query, texts(card))
        word = "number matches" if len(expected) == 1 else "numbers match"
        assert f"{len(expected)} {word}" in texts(card), query

    # Part of the national form with its punctuation (the others may share that part).
    assert desk in texts(await find(bot, f"({area}) {exchange}-{tail[:2]}"))

    # With their channels: names where Teams tells them, this one said so.
    card = await find(bot, f"+1 {area}")
    assert "In this channel (General)" in texts(row_of(card, desk))
    assert "In **Sales**" in texts(row_of(card, line))
    # Named numbers by name, then the unnamed ones.
    assert [r for r in rows(card)] == [row_of(card, n) for n in (desk, line, bare)]

    # A `+` is the start of the international form, not any part of it.
    assert "No match" in texts(await find(bot, f"+{exchange}{tail}"))
    nothing = await find(bot, "nobody by that name")
    assert "No match" in texts(nothing) and "nobody by that name" in texts(nothing)
    assert rows(nothing) == [] and titles(nothing) == []  # and nothing else


async def test_find_without_a_query_says_how_and_long_queries_are_cut(bot: MappingBot) -> None:
    usage = await find(bot, "   ")
    assert "What should I look for?" in texts(usage) and "find 987 65" in texts(usage)
    long = await find(bot, "x" * 10_000)
    assert "No match" in texts(long)
    assert "x" * QUERY_LIMIT in texts(long) and "x" * (QUERY_LIMIT + 1) not in texts(long)


async def test_find_works_in_a_personal_chat_without_buttons(
    bot: MappingBot, org: Org, world: World
) -> None:
    number = fresh_number()
    await org.add(number, SALES, "Night line")
    card = await find(bot, "night", PERSONAL, NO_TEAM)
    assert number in texts(card) and "Night line" in texts(card)
    assert f"another channel ({SALES})" in texts(card)  # Teams tells no names here
    assert titles(card) == []
    assert "use `find` in a channel" in texts(card)


async def test_many_matches_are_paged(bot: MappingBot, org: Org) -> None:
    named = {f"Desk {i:02d}": fresh_number() for i in range(PAGE_SIZE + 3)}
    for name, number in reversed(named.items()):
        await org.add(number, SALES if int(name[-2:]) % 2 else GENERAL, name)
    await org.add(fresh_number(), GENERAL, "Reception")

    first = await find(bot, "desk")
    assert f"{PAGE_SIZE + 3} numbers match" in texts(first)
    assert "Page 1 of 2" in texts(first) and "Previous" not in titles(first)
    order = list(named.values())
    assert shown_numbers(first, order) == set(order[:PAGE_SIZE])
    assert [r for r in rows(first)] == [row_of(first, n) for n in order[:PAGE_SIZE]]

    second = await press(bot, first, "Next")
    assert "Page 2 of 2" in texts(second) and "Next" not in titles(second)
    assert shown_numbers(second, order) == set(order[PAGE_SIZE:])
    assert "Reception" not in texts(second)
    back = await press(bot, second, "Previous")
    assert shown_numbers(back, order) == set(order[:PAGE_SIZE])

    # Paging from a personal chat works the same.
    chat = await find(bot, "desk", PERSONAL, NO_TEAM)
    assert "Page 2 of 2" in texts(await press(bot, chat, "Next", PERSONAL, NO_TEAM))


async def test_an_owner_gets_the_buttons_a_member_only_reads(
    bot: MappingBot, org: Org, world: World
) -> None:
    here, there = fresh_number(), fresh_number()
    await org.add(here, GENERAL, "Shop here")
    await org.add(there, SALES, "Shop there")

    owner = await find(bot, "shop")
    assert titles(row_of(owner, here)) == ["Unmap"]
    assert titles(row_of(owner, there)) == ["Move here", "Unmap"]
    assert button(row_of(owner, here), "Unmap")["verb"] == CardVerb.UNMAP_ASK.value
    assert button(row_of(owner, there), "Unmap")["verb"] == CardVerb.FIND_UNMAP_ASK.value

    member = await find(bot, "shop", in_channel(user=MEMBER))
    assert shown_numbers(member, [here, there]) == {here, there}
    assert titles(member) == []
    assert "Only an owner of this team can move or unmap numbers here" in texts(member)

    # The member presses the owner's buttons: refused, nothing changed.
    for row, title in ((row_of(owner, there), "Move here"), (row_of(owner, there), "Unmap")):
        refused = await press(bot, row, title, in_channel(user=MEMBER))
        assert "Not allowed for you" in texts(refused), texts(refused)
    assert await org.mappings() == {here: GENERAL, there: SALES}


async def test_when_teams_cannot_say_who_may_change_there_are_no_buttons(
    bot: MappingBot, org: Org, world: World
) -> None:
    number = fresh_number()
    await org.add(number, SALES, "Back office")
    world.graph.graph_status = 503
    card = await find(bot, "back office", in_channel(user=MEMBER))
    assert number in texts(card) and titles(card) == []
    assert "could not tell me whether you may move or unmap" in texts(card)


async def test_move_here_from_the_find_card(bot: MappingBot, org: Org, world: World) -> None:
    number = fresh_number()
    await org.add(number, SALES, "Hotline")
    card = await find(bot, "hotline")
    moved = await press(bot, row_of(card, number), "Move here")
    assert "Number moved here" in texts(moved) and "instead of **Sales**" in texts(moved)
    assert await org.mappings() == {number: GENERAL}
    assert changes(await world.entries(), number) == [("remap", "ok", SALES, GENERAL)]


async def test_unmap_of_another_channels_number_from_the_find_card(
    bot: MappingBot, org: Org, world: World
) -> None:
    number, other = fresh_number(), fresh_number()
    await org.add(number, SALES, "Old fax")
    await org.add(other, SALES, "Old phone")
    card = await find(bot, "old")
    ask = await press(bot, row_of(card, number), "Unmap")
    assert "Unmap this number?" in texts(ask) and "**Sales**" in texts(ask)
    assert await org.mappings() == {number: SALES, other: SALES}  # asking changes nothing

    done = await press(bot, ask, "Unmap")
    assert "Number unmapped" in texts(done)
    assert number in texts(done) and "no longer mapped to **Sales**" in texts(done)
    assert await org.mappings() == {other: SALES}
    [entry] = [e for e in await world.entries() if e.number == number]
    assert (entry.action, entry.outcome, entry.before, entry.after) == (
        AuditAction.UNMAP, "ok", SALES, None,
    )  # fmt: skip
    assert entry.actor_name == "Olga Owner" and entry.channel_id == GENERAL

    again = await press(bot, ask, "Unmap")
    assert "Already unmapped" in texts(again) and "nothing was changed" in texts(again)
    assert await org.mappings() == {other: SALES}
    assert len([e for e in await world.entries() if e.number == number]) == 1


async def test_a_number_moved_since_the_card_is_not_unmapped(
    bot: MappingBot, client: ContextSMSClient, org: Org, world: World
) -> None:
    number = fresh_number()
    mapping = await org.add(number, SALES, "Roaming")
    card = await find(bot, "roaming")
    ask = await press(bot, row_of(card, number), "Unmap")

    # Someone moves it to Support between the card and the click.
    await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id=SUPPORT))
    refused = await press(bot, ask, "Unmap")
    shown = texts(refused)
    assert "This number has moved" in shown and "nothing was changed" in shown
    assert "now mapped to **Support**, not to **Sales**" in shown
    assert await org.mappings() == {number: SUPPORT}
    asked_late = await press(bot, row_of(card, number), "Unmap")
    assert "This number has moved" in texts(asked_late)
    assert changes(await world.entries(), number) == []

    # The card offers to unmap it where it is now; moved here, the usual Unmap.
    there = await press(bot, refused, "Unmap it there")
    assert "Unmap this number?" in texts(there) and "**Support**" in texts(there)
    await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id=GENERAL))
    came_here = await press(bot, there, "Unmap")
    assert "now mapped to **General**" in texts(came_here)
    assert button(came_here, "Unmap it here")["verb"] == CardVerb.UNMAP_ASK.value
    assert await org.mappings() == {number: GENERAL}

    # Unmapped by someone meanwhile: said so, nothing else done.
    await client.delete_mapping(mapping.id)
    gone = await press(bot, ask, "Unmap")
    assert "no longer mapped in your organization" in texts(gone)
    assert changes(await world.entries(), number) == []


async def test_another_organizations_numbers_are_never_found(
    bot: MappingBot, org: Org, client: ContextSMSClient, two: Two
) -> None:
    mine, theirs = fresh_number(), fresh_number()
    await org.add(mine, GENERAL, "Shared name")
    await client.add_mapping(
        two.b.enterprise_id,
        MappingCreate(phone_number=theirs, messaging_app_id=SALES, name="Shared name"),
    )
    for query in ("shared", f"+1 {theirs[2:5]}", theirs[5:], theirs):
        card = await find(bot, query)
        assert [r for r in rows(card) if theirs in texts(r)] == [], query
    assert mine in texts(await find(bot, "shared name"))
    assert "No match" in texts(await find(bot, theirs))

    b = await bot.on_message(in_b(), "find shared", TEAM_B)
    assert theirs in texts(b) and mine not in texts(b)


# -- sizes ------------------------------------------------------------------------------------

EMOJI = "\U0001f600"  # 12 bytes on a card as sent (\ud83d\ude00)
GUID = "aaaaaaaa-0000-4000-8000-00000000000a"
# A Teams channel id is some 60 characters: three times that; an id of ContextSMS's as long.
LONG_CHANNEL = "19:" + "x" * 170 + "@thread.tacv2"
LONG_ID = "x" * 200
# The CSP's brand at its largest: on every card.
BRAND = Brand(
    product_name(EMOJI * 100, "x"),
    logo_url("https://cdn.example.com/" + "l" * (LOGO_URL_LIMIT - 24)),
    "good",
)


def worst_mapping(i: int, channel: str, mapping_id: str) -> Mapping:
    return Mapping.model_validate(
        {
            "numberToMessageAppMapId": mapping_id, "phoneNumber": f"+1555{i:07d}",
            "messagingAppType": "Teams", "messagingAppId": channel, "name": EMOJI * 100,
            "createdDate": 1795700000000 + i,
        }
    )  # fmt: skip


def worst_page(channel: str, mapping_id: str, here: str) -> list[FoundNumber]:
    """A page of numbers named with 100 emoji, in channels named so, most of them elsewhere."""
    return [
        FoundNumber(
            worst_mapping(i, here if i % 5 == 0 else f"{channel}{i}", f"{mapping_id}{i}"),
            f"{i} {EMOJI * 100}", here=i % 5 == 0,
        )
        for i in range(PAGE_SIZE)
    ]  # fmt: skip


@pytest.mark.parametrize("ids", ["long", "far too long"])
def test_a_full_page_of_the_longest_names_fits(ids: str) -> None:
    here = LONG_CHANNEL if ids == "long" else f"19:{LONG_ID}"
    mapping_id = "NTMAP000000" if ids == "long" else LONG_ID
    s = Screens(ActionSigner(b"k"), ActionContext(here, "E" + LONG_ID, tenant=GUID), BRAND)
    channel, query = EMOJI * 100, EMOJI * QUERY_LIMIT
    page = worst_page(here, mapping_id, here)
    one = page[1].mapping
    cards = {
        "results": s.find_results(query, page, page=5, pages=100, total=1000, buttons=True),
        "results, read only": s.find_results(query, page, page=5, pages=100, total=1000,
                                             buttons=False, note="A note " * 20),
        "none": s.find_none(query),
        "usage": s.find_usage(),
        "confirm": s.find_confirm_unmap(one, channel),
        "unmapped": s.find_unmapped(one.phone_number, channel, already=False),
        "moved": s.find_moved(one, channel, channel, here=False),
        "moved here": s.find_moved(one, channel, channel, here=True),
        "gone": s.find_gone(),
    }  # fmt: skip
    sizes = {name: card_size(card) for name, card in cards.items()}
    assert {name: size for name, size in sizes.items() if size >= CARD_SIZE_LIMIT} == {}, sizes
    full = texts(cards["results"])
    assert all(m.mapping.phone_number in full for m in page)  # every row, with its buttons
    assert titles(cards["results"]).count("Move here") == PAGE_SIZE - 2
    assert titles(cards["results"]).count("Unmap") == PAGE_SIZE
    assert "…" in full  # names cut, not dropped
    assert any(n.get("url") == BRAND.logo_url for n in elements(cards["results"]))
    if ids == "long":
        assert EMOJI * 10 in full
