"""Every card stays under Teams' 28 KB whatever the data: 1,000 numbers, names as long as the
platform accepts, hundreds of long channel names, and whatever a person types."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from bot.actions import ActionContext, ActionSigner
from bot.branding import LOGO_URL_LIMIT, PRODUCT_LIMIT, Brand, logo_url, product_name
from bot.conversation import Conversation
from bot.handlers import MappingBot
from bot.operations import EnterpriseLinks, FieldProblem
from bot.storage.models import Link
from bot.tenancy import IssuedCode, SetupProblem
from cards import CARD_SIZE_LIMIT, card_size
from cards.elements import Card
from cards.find import FoundNumber
from cards.screens import Screens
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, MappingCreate
from tests.test_bot_behaviour import (
    GENERAL,
    PERSONAL,
    TEAM,
    Directory,
    act,
    bot,
    button,
    in_channel,
    texts,
    world,
)
from tests.test_bulk_chat import bulk_cards
from tests.test_cards import entry, mapping

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

PLATFORM_NAME_LIMIT = 200  # the longest name ContextSMS accepts
# Every character of it is one the cards must escape, so it doubles on the card.
WORST_NAME = ("*_[`<#" * 40)[:PLATFORM_NAME_LIMIT]
WORST_CHANNEL = ("[*_" * 100)[:PLATFORM_NAME_LIMIT]
# A character outside the Basic Multilingual Plane is a surrogate pair in the ASCII-escaped
# JSON that is sent, \ud83d\ude00: 12 bytes for one character of a name.
EMOJI_CHARACTER = "\U0001f600"
EMOJI = EMOJI_CHARACTER * PLATFORM_NAME_LIMIT
CHANNELS = [f"19:{i:04d}{'x' * 60}@thread.tacv2" for i in range(300)]
HUGE = 100_000
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fits(card: Card) -> bool:
    return card_size(card) < CARD_SIZE_LIMIT


channel_names = Directory(
    {GENERAL: "General", **{cid: f"{i} {WORST_CHANNEL}" for i, cid in enumerate(CHANNELS)}}
)


async def add_many(client: ContextSMSClient, enterprise: Enterprise, count: int,
                   channel_of: list[str], first: int,
                   name: str = WORST_NAME) -> dict[str, str]:  # fmt: skip
    """`count` numbers with the longest worst-case names, spread over `channel_of`."""
    numbers = [f"+1555{first + i:07d}" for i in range(count)]
    gate = asyncio.Semaphore(8)

    async def add(i: int, number: str) -> None:
        async with gate:
            await client.add_mapping(
                enterprise.enterprise_id,
                MappingCreate(
                    phone_number=number, messaging_app_id=channel_of[i % len(channel_of)],
                    name=name,
                ),
            )  # fmt: skip

    await asyncio.gather(*(add(i, n) for i, n in enumerate(numbers)))
    return {n: channel_of[i % len(channel_of)] for i, n in enumerate(numbers)}


def numbers_on(card: Card, numbers: set[str]) -> set[str]:
    shown = texts(card)
    return {n for n in numbers if n in shown}


async def walk(bot: MappingBot, first: Card, conversation: Conversation) -> list[Card]:
    """Every page, by the Next buttons."""
    pages = [first]
    while any(a.get("title") == "Next" for a in pages[-1].get("actions", [])):
        nxt = button(pages[-1], "Next")
        pages.append(await act(bot, conversation, nxt["verb"], nxt["data"], channel_names))
    return pages


async def test_status_and_list_of_a_thousand_numbers(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapped = await add_many(client, enterprise, 1000, [GENERAL] * 9 + CHANNELS[:10], 9_000_000)
    here = {n for n, channel in mapped.items() if channel == GENERAL}
    status = await walk(bot, await bot.on_message(in_channel(), "status", channel_names),
                        in_channel())  # fmt: skip
    assert all(fits(page) for page in status), max(card_size(p) for p in status)
    seen = set().union(*(numbers_on(page, here) for page in status))
    assert len(here) > 400 and seen == here  # every number of this channel, on its pages
    assert f"Page {len(status)} of {len(status)}" in texts(status[-1])
    lists = await walk(bot, await bot.on_message(PERSONAL, "list", channel_names), PERSONAL)
    assert all(fits(page) for page in lists), max(card_size(p) for p in lists)
    assert set().union(*(numbers_on(page, set(mapped)) for page in lists)) == set(mapped)


async def test_numbers_named_with_the_longest_emoji_names_fit(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    # 200 emoji are a name the platform accepts, and 2,400 bytes each on a card as sent.
    mapped = await add_many(client, enterprise, 12, [GENERAL], 9_200_000, name=EMOJI)
    emoji_names = Directory({GENERAL: EMOJI})
    status = await walk(bot, await bot.on_message(in_channel(), "status", emoji_names),
                        in_channel())  # fmt: skip
    lists = await walk(bot, await bot.on_message(PERSONAL, "list", emoji_names), PERSONAL)
    for page in status + lists:
        assert fits(page), card_size(page)
        assert EMOJI_CHARACTER * 10 in texts(page) and "…" in texts(page)  # cut, not dropped
    assert set().union(*(numbers_on(page, set(mapped)) for page in status)) == set(mapped)
    assert set().union(*(numbers_on(page, set(mapped)) for page in lists)) == set(mapped)


async def test_what_people_type_is_shortened_when_shown(bot: MappingBot) -> None:
    typed = {
        "an unknown command": "frobnicate" * (HUGE // 10),
        "a number too long": "map " + "5" * HUGE,
        "a word that is no number": "map " + "x" * HUGE,
        "a name too long": "map +1 555 987 6543 " + "n" * HUGE,
        "an extension": "map +1 555 987 6543 ext " + "9" * HUGE,
        "an emoji command": EMOJI_CHARACTER * HUGE,
        # As many pieces as a number may have (more are refused unread), each of them long.
        "a number of many words": "map " + " ".join(["5" * (HUGE // 16)] * 16),
        "an emoji name too long": "map +1 555 987 6543 " + EMOJI_CHARACTER * HUGE,
    }
    for what, text in typed.items():
        card = await bot.on_message(in_channel(), text, TEAM)
        assert fits(card), (what, card_size(card))
        assert "…" in texts(card), what


async def test_moving_a_number_with_three_hundred_channels(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    await add_many(client, enterprise, 1, [GENERAL], 9_100_000)
    status = await bot.on_message(in_channel(), "status", channel_names)
    remap = button(status, "Remap")
    pick = await act(bot, in_channel(), remap["verb"], remap["data"], channel_names)
    assert fits(pick), card_size(pick)
    assert "Showing the first 50 of 300 channels" in texts(pick)
    assert "remap +15559100000" in texts(pick)  # how to reach the others


@dataclass(frozen=True)
class Worst:
    """The longest text of one alphabet, wherever a card shows text from people or the API."""

    name: str  # a mapping's or an enterprise's name, a person's
    channel: str  # a channel's name
    typed: str  # one character of what people type, repeated HUGE times
    product: str  # a CSP's product name, as long as a brand keeps it

    @property
    def brand(self) -> Brand:
        """The CSP's brand at its largest: the longest product name and logo address kept."""
        return Brand(product_name(self.product, "x"), LONG_LOGO, "good")


# The longest logo address a brand keeps: it is on every card.
LONG_LOGO = logo_url("https://cdn.example.com/" + "l" * (LOGO_URL_LIMIT - 24))
assert LONG_LOGO is not None and len(LONG_LOGO) == LOGO_URL_LIMIT
WORST = {
    "markup": Worst(WORST_NAME, WORST_CHANNEL, "x", "*_[`<#" * PRODUCT_LIMIT),
    "emoji": Worst(EMOJI, EMOJI, EMOJI_CHARACTER, EMOJI),
}


def largest_bulk_cards(s: Screens) -> dict[str, Card]:
    """The largest of the bulk cards of each kind (500 numbers named in emoji among them),
    named by their screen."""
    largest: dict[str, Card] = {}
    for name, built in bulk_cards(s).items():
        kind = name.split(",")[0].replace(" ", "_")
        if kind not in largest or card_size(built) > card_size(largest[kind]):
            largest[kind] = built
    return largest


def worst_cards(worst: Worst) -> dict[str, Card]:
    """The largest card of each kind the Screens can build, in the largest brand."""
    s = Screens(ActionSigner(b"k"), ActionContext(GENERAL, "E" + LONG_ID, tenant=GUID), worst.brand)
    page = [mapping(i, channel=GENERAL, name=worst.name) for i in range(10)]
    one, channel, typed = page[0], worst.channel, worst.typed * HUGE
    many = [(f"19:{i}", f"{i} {channel}") for i in range(1000)]
    found = [
        FoundNumber(mapping(i, channel=f"19:{i} {LONG_ID}", name=worst.name), f"{i} {channel}",
                    here=i % 5 == 0)
        for i in range(10)
    ]  # fmt: skip
    return {
        "help": s.help(True, unknown=typed),
        "welcome": s.welcome(),
        "pending": s.pending(),
        "channel_only": s.channel_only(typed),
        "status": s.status(channel, page, notice="A notice", page=5, pages=100),
        "mapped": s.mapped(one, already=False),
        "taken_in_enterprise": s.taken_in_enterprise(one, channel),
        "taken_elsewhere": s.taken_elsewhere(one.phone_number),
        "moved": s.moved(one, channel, already=False),
        "pick_channel": s.pick_channel(one, many),
        "moved_away": s.moved_away(one, channel, already=False),
        "not_mapped": s.not_mapped(one.phone_number),
        "confirm_unmap": s.confirm_unmap(one),
        "unmapped": s.unmapped(one.phone_number, already=False),
        "in_another_channel": s.in_another_channel(one, channel),
        "list": s.list([(channel, [m]) for m in page], 5, 100),
        "invalid_number": s.invalid_number(typed, "it has too many digits", "map"),
        "invalid_name": s.invalid_name(typed, "it is too long"),
        "problem": s.problem("A problem", "Nothing was changed.", typed),
        "outcome_unknown": s.outcome_unknown("Not sure", "It may have been applied.", typed),
        "payment_required": s.payment_required(typed),
        "payment_unknown": s.payment_unknown(),
        "find_usage": s.find_usage(),
        "find_none": s.find_none(typed),
        "find_results": s.find_results(typed, found, page=5, pages=100, total=1000, buttons=True),
        "find_confirm_unmap": s.find_confirm_unmap(one, channel),
        "find_unmapped": s.find_unmapped(one.phone_number, channel, already=False),
        "find_moved": s.find_moved(one, channel, channel, here=False),
        "find_gone": s.find_gone(),
        **largest_bulk_cards(s),
        **worst_organization_cards(s, worst),
    }


# Ids of tenants, teams and enterprises come from Teams and ContextSMS (a GUID, a thread id of
# some 60 characters, E0000001): cards carry them in their buttons, so a card's size grows
# with them. Three times the longest real one, shown in full wherever a card shows one.
LONG_ID = "x" * 200
GUID = "aaaaaaaa-0000-4000-8000-00000000000a"


def worst_link(i: int) -> Link:
    return Link(f"{i} {LONG_ID}", f"{i} {WORST_CHANNEL}", f"E{i} {LONG_ID}", START, LONG_ID)


def worst_organization_cards(s: Screens, worst: Worst) -> dict[str, Card]:
    links = tuple(worst_link(i) for i in range(1000))
    typed = worst.typed * HUGE
    enterprise = Enterprise(enterprise_id=f"E {LONG_ID}", name=worst.name * 5)
    entries = [
        replace(entry(i), actor_name=worst.name * 5, outcome=worst.name, before=LONG_ID,
                after=LONG_ID, request_id=typed, entry_id=LONG_ID)
        for i in range(10)
    ]  # fmt: skip
    code = IssuedCode("ABCDE-12345", f"E {LONG_ID}", START, team_scoped=True)
    problems = [
        FieldProblem(f, "it is 100000 characters long; a name is at most 100")
        for f in ("name", "contact", "number", "email")
    ]
    return {
        "no_tenant": s.no_tenant(),
        "not_linked": s.not_linked(),
        "setup_without_code": s.setup_without_code(),
        "linked": s.linked(links[0], links[1]),
        "setup_refused": s.setup_refused(SetupProblem.WRONG),
        "not_allowed": s.not_allowed(typed, "map, move or unmap numbers here"),
        "cannot_tell": s.cannot_tell("map, move or unmap numbers here"),
        "foreign_tenant": s.foreign_tenant(),
        "relinked": s.relinked(),
        "history": s.history(entries, {LONG_ID: worst.channel}, page=99, older=LONG_ID,
                             whole=False),
        "settings": s.settings(True, "A notice"),
        "enterprises": s.enterprises([EnterpriseLinks(enterprise, links)] * 10, 50, 100),
        "enterprise_form": s.enterprise_form({k.field: typed for k in problems}, problems),
        "enterprise_created": s.enterprise_created(enterprise.enterprise_id, enterprise.name),
        "invite": s.invite(code),
        "invite_in_private": s.invite_in_private(),
        "operator_usage": s.operator_usage("unlink", "a tenant id or a team id"),
        "unknown_enterprise": s.unknown_enterprise(typed),
        "links": s.links(list(links[:10]), 50, 100),
        "confirm_unlink": s.confirm_unlink(
            links[0].tenant_id, [replace(links[0], team_id=None), *links], list(links)
        ),
        "relink_in_a_team": s.relink_in_a_team(),
        "setup_in_a_team_or_personal_chat": s.setup_in_a_team_or_personal_chat(),
        "unlinked": s.unlinked(typed, list(links)),
    }  # fmt: skip


@pytest.mark.parametrize("alphabet", sorted(WORST))
def test_the_largest_card_of_each_kind_fits(alphabet: str) -> None:
    cards = worst_cards(WORST[alphabet])
    kinds = {
        name for name, _ in inspect.getmembers(Screens, inspect.isfunction)
        if not name.startswith("_") and name not in {"act", "map_form", "card"}
    }  # fmt: skip
    assert kinds == set(cards), "a kind of card without its largest case"
    assert {name: card_size(c) for name, c in cards.items() if not fits(c)} == {}
