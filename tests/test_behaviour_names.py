"""Names and extensions are checked before any call: a clear card, nothing changed, and people's
text shown as they wrote it, never as markup."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt
from pydantic import SecretStr

from bot.handlers import MappingBot
from bot.mappings import MappingService
from bot.turn import BotOptions
from cards.elements import Card
from cards.markdown import plain
from contextsms import ClientOptions, ContextSMSClient, RetryPolicy
from contextsms.models import Enterprise, MappingCreate
from contextsms.phone import EXTENSION_PROBLEM
from tests.conftest import fresh_number
from tests.support.cards_text import elements
from tests.test_bot_behaviour import (
    GENERAL,
    TEAM,
    Directory,
    bot,
    click,
    in_channel,
    texts,
    with_service,
    world,
)

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

TOO_LONG = "n" * 101
# Zero-width space, non-joiner, joiner, word joiner, byte order mark; a soft hyphen (also Cf).
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


def bot_without_api(bot: MappingBot) -> MappingBot:
    """A bot whose ContextSMS cannot be reached: any call would show on its card."""
    client = ContextSMSClient(
        base_url="http://127.0.0.1:9/api/v2", username="u", password=SecretStr("p"), csp_id="C",
        options=ClientOptions(timeout=1.0, connect_timeout=0.5,
                              retry=RetryPolicy(max_retries=0, base_delay=0.01)),
    )  # fmt: skip
    return with_service(bot, MappingService(client), BotOptions())


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        (f"map +1 555 987 6543 {TOO_LONG}", "at most 100"),
        ("map +1 555 987 6543 " + "n" * 201, "at most 100"),
        ("map +1 555 987 6543 Front\x07desk", "control characters"),
        ("map +1 555 987 6543 Front\u202eksed", "invisible characters"),
        *[(f"map +1 555 987 6543 Front{c}desk", "invisible characters") for c in INVISIBLE],
        ("map +1 555 987 6543 ext 9", "an extension cannot be mapped, only the main number"),
        ("map +1 555 987 6543 ext. 9 Front desk", "an extension cannot be mapped"),
        ("map (555) 987-6543 x9", "an extension cannot be mapped"),
        ("map 555 987 6543 #12", "an extension cannot be mapped"),
        ("map +1 555 987 6543 extension 12", "an extension cannot be mapped"),
        ("map tel:+1-555-987-6543;ext=9 Front desk", "an extension cannot be mapped"),
    ],
)
async def test_a_name_or_extension_that_cannot_be_used_is_refused_before_any_call(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, typed: str, says: str
) -> None:
    card = await bot.on_message(in_channel(), typed, TEAM)
    assert says in texts(card) and "Nothing was changed" in texts(card)
    assert await client.list_mappings(enterprise.enterprise_id) == []
    # No call at all: a bot that cannot reach ContextSMS gives the same answer.
    assert says in texts(await bot_without_api(bot).on_message(in_channel(), typed, TEAM))


@pytest.mark.parametrize(
    ("number", "name", "says"),
    [
        ("+15559876543", TOO_LONG, "at most 100"),
        ("+15559876543", "Front\ndesk", "control characters"),
        ("+15559876543", "Front\u202eksed", "invisible characters"),
        ("+15559876543", "Front\u200bdesk", "invisible characters"),
        ("(555) 987-6543 x9", "", "an extension cannot be mapped"),
        ("+15559876543", "ext 9", "an extension cannot be mapped"),
    ],
)
async def test_the_map_form_follows_the_same_rules(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise,
    number: str, name: str, says: str,
) -> None:  # fmt: skip
    status = await bot.on_message(in_channel(), "status", TEAM)
    card = await click(bot, status, "Map to this channel", number=number, name=name)
    assert says in texts(card) and "Nothing was changed" in texts(card)
    assert await client.list_mappings(enterprise.enterprise_id) == []


@pytest.mark.parametrize(
    "typed",
    [
        "555-201-0003x9",
        "+1 555 201 0003;ext=9",
        "+1 555 201 0003,9",
        "(555) 201-0003 ext. 9",
        "tel:+1-555-201-0003;ext=9",
    ],
)
async def test_an_extension_is_refused_as_one_however_it_is_written(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, typed: str
) -> None:
    shown = f"**{plain(typed)}**: {EXTENSION_PROBLEM}. Nothing was changed."
    for verb in ("map", "remap", "unmap"):
        card = await bot_without_api(bot).on_message(
            in_channel(), f"{verb} {typed} Front desk", TEAM
        )
        assert shown in texts(card), verb
    status = await bot.on_message(in_channel(), "status", TEAM)
    form = await click(bot, status, "Map to this channel", number=typed, name="Front desk")
    assert shown in texts(form)
    assert await client.list_mappings(enterprise.enterprise_id) == []


async def test_a_name_of_the_longest_length_we_allow_is_mapped(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    card = await bot.on_message(in_channel(), f"map {fresh_number()} " + "n" * 100, TEAM)
    assert "Number mapped" in texts(card)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    assert mapping.name == "n" * 100


def rendered(card: Card) -> list[str]:
    """Each TextBlock and FactSet value of the card as CommonMark renders it to HTML."""
    md = MarkdownIt("commonmark")
    found: list[str] = []
    for node in elements(card):
        if node.get("type") == "TextBlock":
            found.append(md.render(node["text"]))
        if node.get("type") == "FactSet":
            found.extend(md.render(f["title"]) + md.render(f["value"]) for f in node["facts"])
    return found


def visible(html: str) -> str:
    text = re.sub(r"<[^>]+>", "", html)
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


MARKUP_NAMES = [
    "[Reset your password](https://evil.example)",
    "**Urgent** _now_",
    "# Heading",
    "`code` <b>bold</b>",
    "- a list",
    "1. first",
]


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_names_are_shown_as_written_never_as_markup(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, name: str
) -> None:
    # Names may come from elsewhere (the API, another tool): put it there directly.
    number = fresh_number()
    await client.add_mapping(
        enterprise.enterprise_id,
        MappingCreate(phone_number=number, messaging_app_id=GENERAL, name=name),
    )

    names = Directory({GENERAL: name})

    cards = {
        "status": await bot.on_message(in_channel(GENERAL, None), "status", names),
        "list": await bot.on_message(in_channel(), "list", names),
        "already mapped": await bot.on_message(in_channel(), f"map {number}", TEAM),
        "unknown command": await bot.on_message(in_channel(), name, TEAM),
    }
    for what, card in cards.items():
        html = "".join(rendered(card))
        assert "<a " not in html and "<em>" not in html and "<code>" not in html, what
        assert "<h1>" not in html and "<li>" not in html and "<b>" not in html, what
        if what != "unknown command":  # a command word is its first word only
            assert any(name in visible(h) for h in rendered(card)), (what, html)


async def test_a_name_from_elsewhere_is_never_shown_reversed(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    # ContextSMS keeps what another tool gave it: the card must not let it reorder the text.
    await client.add_mapping(
        enterprise.enterprise_id,
        MappingCreate(phone_number=fresh_number(), messaging_app_id=GENERAL,
                      name="Front\u202eksed\u2067"),
    )  # fmt: skip
    shown = texts(await bot.on_message(in_channel(), "status", TEAM))
    assert "Front ksed" in shown and "\u202e" not in shown and "\u2067" not in shown


async def test_the_invalid_number_card_teaches_the_configured_region(
    bot: MappingBot, client: ContextSMSClient
) -> None:
    british = with_service(bot, MappingService(client), BotOptions(default_region="GB"))
    shown = texts(await british.on_message(in_channel(), "map 555-12", TEAM))
    assert "+447400123456" in shown and "07400 123456" in shown and "in GB" in shown
    assert "in the US" not in shown
