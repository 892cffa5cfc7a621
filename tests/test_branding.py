"""Every card of a linked organization in its CSP's brand (GET /csp/getcspconfig for the
enterprise's number): its product name, its colour as a card colour, its logo when the address
is https; the deployment's own brand for an organization nobody linked, and whenever the brand
cannot be read within a second (the card still answers, nothing is shown of the failure).

The bot here acts through the sandbox's partner account, which may act on both seeded CSPs: one
deployment serving the customers of two resellers."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.branding import Brand, Branding
from bot.conversation import Conversation
from bot.enterprise_info import EnterpriseInfo
from bot.handlers import MappingBot
from cards.elements import Card
from contextsms import ContextSMSClient
from sandbox.records import NewEnterprise
from sandbox.seed import SECOND_LOGO, SECOND_PRODUCT
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number, make_client
from tests.support.cards_text import elements
from tests.support.features import bot_features
from tests.test_bot_behaviour import (
    PERSONAL,
    TEAM,
    World,
    bot,
    in_channel,
    texts,
    world,
)
from tests.test_tenants import GENERAL_B, GROUP_B, OWNER_B, TEAM_B, TENANT_B, in_b

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

DEPLOYMENT = Brand(product="Deployment SMS", color="warning")  # the bot's own, without a CSP
CONFIG_ROUTE = "GET /api/v2/csp/getcspconfig"
UNLINKED_TENANT = "dddddddd-0000-4000-8000-00000000000d"


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[ContextSMSClient]:
    """The partner account (the `world`'s bot uses it): it may act on every CSP."""
    async with make_client(
        sandbox,
        username=sandbox.seeded.partner_username,
        password=sandbox.settings.partner_password,
    ) as api:
        yield api


def rebuilt(world: World, **features: Any) -> MappingBot:
    """The world's bot with some of its issue-9 collaborators replaced."""
    bot = world.bot
    return MappingBot(
        bot.service, bot.signer, bot.options, tenancy=bot.tenancy, permissions=bot.permissions,
        audit=bot.audit, operations=bot.operations, **{**bot_features(bot), **features},
    )  # fmt: skip


def branded_bot(world: World, client: ContextSMSClient, ttl: float = 600.0) -> MappingBot:
    return rebuilt(world, branding=Branding(client, EnterpriseInfo(client), DEPLOYMENT, ttl=ttl))


async def link_b(world: World, enterprise_id: str) -> None:
    """Tenant B, its team and its owner, linked to `enterprise_id`."""
    world.graph.set_team(GROUP_B, TENANT_B, [OWNER_B])
    await world.tenancy.link_from_settings(TENANT_B, enterprise_id)


def new_csp(sandbox: RunningSandbox, product: str, logo: str | None, color: str) -> tuple[str, str]:
    """A CSP of its own brand with one enterprise: their ids."""
    csp_id = f"CSPT{secrets.token_hex(4)}"
    sandbox.store.ensure_csp(csp_id, name=product, product_name=product, logo=logo, color=color)
    new = NewEnterprise(product + " Clinic", "C", fresh_number(), f"{csp_id}@example.com")
    return csp_id, sandbox.store.create_enterprise(csp_id, new).enterprise_id


def images(card: Card) -> list[str]:
    return [node["url"] for node in elements(card) if node.get("type") == "Image"]


def heading_color(card: Card) -> str:
    found = next(n for n in elements(card) if n.get("style") == "heading")
    color: str = found["color"]
    return color


def config_reads(sandbox: RunningSandbox) -> int:
    count: int = sandbox.stats()["requests"].get(CONFIG_ROUTE, 0)
    return count


async def test_each_organization_sees_its_own_csps_brand(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client)
    await link_b(world, sandbox.seeded.second_enterprise_id)

    northwind = await bot.on_message(in_b(), "help", TEAM_B)
    assert f"{SECOND_PRODUCT} for Teams" in texts(northwind)
    assert f"from your {SECOND_PRODUCT} provider" in texts(northwind)
    assert "ContextSMS" not in texts(northwind) and "Deployment SMS" not in texts(northwind)
    assert images(northwind) == [SECOND_LOGO]
    assert heading_color(northwind) == "Good"  # the CSP's green, as the card's own colour
    assert "#107C10" not in json.dumps(northwind)

    # A change's card too: a number mapped in tenant B's channel.
    number = fresh_number()
    mapped = await bot.on_message(in_b(), f"map {number}", TEAM_B)
    assert "Number mapped" in texts(mapped) and images(mapped) == [SECOND_LOGO]
    [mapping] = await client.list_mappings(sandbox.seeded.second_enterprise_id)
    assert (mapping.phone_number, mapping.messaging_app_id) == (number, GENERAL_B)
    await client.delete_mapping(mapping.id)

    # The welcome posted when the bot is added to a team already linked: in its brand too.
    welcome = await bot.welcome(in_b())
    assert f"Welcome to {SECOND_PRODUCT}" in texts(welcome) and images(welcome) == [SECOND_LOGO]

    # The first CSP's customer, in the same deployment at the same time: its CSP's own brand
    # (ContextSMS in blue, no logo), nothing of Northwind's.
    demo = await bot.on_message(in_channel(), "help", TEAM)
    assert "ContextSMS for Teams" in texts(demo) and SECOND_PRODUCT not in texts(demo)
    assert images(demo) == [] and heading_color(demo) == "Accent"


async def test_an_organization_nobody_linked_sees_the_deployments_brand(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client)
    sandbox.control("POST", "stats/reset")
    stranger = Conversation(UNLINKED_TENANT, user=PERSONAL.user, conversation_id="a:x",
                            personal=True)  # fmt: skip
    welcome = await bot.welcome(stranger)
    helped = await bot.on_message(stranger, "help", TEAM)
    for card in (welcome, helped):
        assert "Deployment SMS" in texts(card) and "ContextSMS" not in texts(card)
        assert images(card) == [] and heading_color(card) == "Warning"
    assert config_reads(sandbox) == 0  # nothing to ask ContextSMS about


async def test_a_logo_is_shown_only_from_an_https_address(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client, ttl=0)  # read anew each time
    csp_id, enterprise_id = new_csp(sandbox, "Logo Test", None, "#0F6CBD")
    await link_b(world, enterprise_id)
    shown: dict[str, list[str]] = {}
    for logo in ("http://cdn.example.com/logo.png", "javascript:alert(1)",
                 "data:image/png;base64,iVBORw0KGgo=", "https://", "https://cdn.example.com/a b",
                 "https://user:secret@cdn.example.com/logo.png",
                 "https://cdn.example.com/logo.png"):  # fmt: skip
        sandbox.store.set_brand(csp_id, product_name="Logo Test", logo=logo, color="#0F6CBD")
        card = await bot.on_message(in_b(), "help", TEAM_B)
        assert "Logo Test for Teams" in texts(card)  # the brand was read each time
        shown[logo] = images(card)
    assert shown == {
        "http://cdn.example.com/logo.png": [],
        "javascript:alert(1)": [],
        "data:image/png;base64,iVBORw0KGgo=": [],
        "https://": [],
        "https://cdn.example.com/a b": [],
        "https://user:secret@cdn.example.com/logo.png": [],
        "https://cdn.example.com/logo.png": ["https://cdn.example.com/logo.png"],
    }


async def test_a_product_name_with_markup_is_shown_as_written(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client)
    _, enterprise_id = new_csp(sandbox, "[Click](https://evil.example) *SMS*", None, "#000")
    await link_b(world, enterprise_id)
    card = await bot.on_message(in_b(), "help", TEAM_B)
    assert r"\[Click\](https://evil.example) \*SMS\* for Teams" in texts(card)
    assert heading_color(card) == "Default"  # black: the host's own text colour


async def test_a_product_name_keeps_no_invisible_characters(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client)
    hidden = "Sun\u200bshine\u202e SMS\ufeff\u2060\nPlus"
    _, enterprise_id = new_csp(sandbox, hidden, None, "#000")
    await link_b(world, enterprise_id)
    card = await bot.on_message(in_b(), "help", TEAM_B)
    assert "Sunshine SMS Plus for Teams" in texts(card)


async def test_a_failing_brand_read_gives_the_default_quickly(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    bot = branded_bot(world, client)
    await link_b(world, sandbox.seeded.second_enterprise_id)
    sandbox.faults(error_rate=1.0, path_prefix="/api/v2/csp/getcspconfig")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.branding"):
        card = await bot.on_message(in_b(), "help", TEAM_B)
    assert time.monotonic() - started < 3.0
    assert "Deployment SMS for Teams" in texts(card) and images(card) == []
    assert "went wrong" not in texts(card) and "problem" not in texts(card)
    [logged] = [r.getMessage() for r in caplog.records if r.name == "bot.branding"]
    assert "unreadable (ServerError)" in logged and "+1555" not in logged
    # A map still works, in the default brand.
    mapped = await bot.on_message(in_b(), f"map {fresh_number()}", TEAM_B)
    assert "Number mapped" in texts(mapped) and "Deployment SMS" in texts(
        await bot.on_message(in_b(), "help", TEAM_B)
    )
    for mapping in await client.list_mappings(sandbox.seeded.second_enterprise_id):
        await client.delete_mapping(mapping.id)


async def test_a_slow_brand_read_gives_the_default_now_and_the_brand_next(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client)
    await link_b(world, sandbox.seeded.second_enterprise_id)
    sandbox.faults(latency_ms=2500, path_prefix="/api/v2/csp/getcspconfig")
    sandbox.control("POST", "stats/reset")
    started = time.monotonic()
    card = await bot.on_message(in_b(), "help", TEAM_B)
    assert time.monotonic() - started < 2.4  # about a second, not the read's 2.5
    assert "Deployment SMS for Teams" in texts(card)
    # The read went on: once it is in, the next card has the brand, with no read of its own.
    for _ in range(100):
        await asyncio.sleep(0.1)
        card = await bot.on_message(in_b(), "help", TEAM_B)
        if SECOND_PRODUCT in texts(card):
            break
    assert f"{SECOND_PRODUCT} for Teams" in texts(card)
    assert config_reads(sandbox) == 1


async def test_turns_at_once_share_one_brand_read(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client)
    await link_b(world, sandbox.seeded.second_enterprise_id)
    sandbox.control("POST", "stats/reset")
    cards = await asyncio.gather(*(bot.on_message(in_b(), "help", TEAM_B) for _ in range(12)))
    assert all(f"{SECOND_PRODUCT} for Teams" in texts(card) for card in cards)
    assert config_reads(sandbox) == 1


async def test_a_changed_brand_shows_once_the_cached_one_expires(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = branded_bot(world, client, ttl=1.0)
    csp_id, enterprise_id = new_csp(sandbox, "Before Brand", None, "#0F6CBD")
    await link_b(world, enterprise_id)
    before = await bot.on_message(in_b(), "help", TEAM_B)
    assert "Before Brand for Teams" in texts(before) and heading_color(before) == "Accent"

    sandbox.store.set_brand(csp_id, product_name="After Brand", logo=None, color="#C50F1F")
    cached = await bot.on_message(in_b(), "help", TEAM_B)
    assert "Before Brand for Teams" in texts(cached)  # kept for the cache's time
    await asyncio.sleep(1.2)
    after = await bot.on_message(in_b(), "help", TEAM_B)
    assert "After Brand for Teams" in texts(after) and heading_color(after) == "Attention"
