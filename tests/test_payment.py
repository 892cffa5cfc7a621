"""Maps and moves only for an enterprise whose subscription is active (POST
/stripe/check-payment with its email), as its people see it: an unpaid organization is told
its subscription is not active, that nothing was changed and whom to ask, and can still look at
its numbers and unmap them; Stripe's cancellation closes the gate within the cache's time; the
deployment may turn the check off, and decides what a failed check means."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import pytest

from bot.enterprise_info import EnterpriseInfo
from bot.handlers import MappingBot
from bot.payment import PaymentGate
from bot.settings import PaymentCheckFailure
from cards.elements import Card
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate, MappingCreate
from sandbox.records import NewEnterprise
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number
from tests.test_bot_behaviour import (
    GENERAL,
    SALES,
    TEAM,
    World,
    bot,
    click,
    in_channel,
    texts,
    world,
)
from tests.test_branding import link_b, rebuilt
from tests.test_sandbox_billing import event
from tests.test_sandbox_server import signed
from tests.test_tenants import TEAM_B, in_b

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

CHECK_ROUTE = "POST /api/v2/stripe/check-payment"
REFUSED = "Your subscription is not active"


@pytest.fixture
async def enterprise(client: ContextSMSClient, sandbox: RunningSandbox) -> Enterprise:
    """The world's enterprise with an email of its own, subscribed through Stripe's webhook:
    a test may cancel it without touching any other test's."""
    email = f"clinic-{secrets.token_hex(4)}@example.com"
    created = await client.create_enterprise(
        EnterpriseCreate(name="Paying Clinic", contact="P", number=fresh_number(), email=email)
    )
    await stripe(client, sandbox, email, "created", "active")
    return created


async def stripe(
    client: ContextSMSClient, sandbox: RunningSandbox, email: str, kind: str, status: str
) -> None:
    """A signed `customer.subscription.<kind>` event, as Stripe sends it."""
    body = event(f"evt_{secrets.token_hex(6)}", kind, status, email, int(time.time()))
    ack = await client.send_stripe_event(*signed(sandbox, body))
    assert ack.processed is True


def gated(
    world: World, client: ContextSMSClient, *, enabled: bool = True,
    on_failure: PaymentCheckFailure = PaymentCheckFailure.ALLOW, ttl: float = 60.0,
) -> MappingBot:  # fmt: skip
    """The world's bot with a payment gate of these settings (BOT_PAYMENT_CHECK,
    BOT_PAYMENT_CHECK_FAILURE, BOT_PAYMENT_CACHE_SECONDS), its cache empty."""
    gate = PaymentGate(
        client, EnterpriseInfo(client), enabled=enabled, on_failure=on_failure, ttl=ttl
    )
    return rebuilt(world, payments=gate)


def checks(sandbox: RunningSandbox) -> int:
    count: int = sandbox.stats()["requests"].get(CHECK_ROUTE, 0)
    return count


async def placed(client: ContextSMSClient, enterprise: Enterprise) -> dict[str, str]:
    return {m.phone_number: m.messaging_app_id for m in await client.list_mappings(
        enterprise.enterprise_id)}  # fmt: skip


def refused_for_payment(card: Card, product: str = "ContextSMS") -> None:
    shown = texts(card)
    assert REFUSED in shown and "was canceled" in shown
    assert "Nothing was changed" in shown
    assert f"contact your {product} provider" in shown
    assert "see your numbers, and unmap them" in shown


async def test_an_unpaid_organization_cannot_map_or_move_but_can_look_and_unmap(
    world: World, client: ContextSMSClient, enterprise: Enterprise, sandbox: RunningSandbox
) -> None:
    here, there = fresh_number(), fresh_number()
    paid_bot = gated(world, client)
    await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=here, messaging_app_id=GENERAL)
    )
    await client.add_mapping(enterprise.enterprise_id,
                             MappingCreate(phone_number=there, messaging_app_id=SALES))  # fmt: skip
    # Offered while paid: the card with "Move it here" for the number in Sales.
    offer = await paid_bot.on_message(in_channel(), f"map {there}", TEAM)
    assert "Move it here" in texts(offer)

    await stripe(client, sandbox, enterprise.email or "", "deleted", "canceled")
    bot = gated(world, client)
    before = await placed(client, enterprise)

    new = fresh_number()
    refused_for_payment(await bot.on_message(in_channel(), f"map {new} Desk", TEAM))
    refused_for_payment(await click(bot, offer, "Move it here"))
    refused_for_payment(await bot.on_message(in_channel(), f"remap {there}", TEAM))
    assert await placed(client, enterprise) == before  # nothing mapped, nothing moved
    assert [e for e in await world.entries() if e.number == new] == []

    status = await bot.on_message(in_channel(), "status", TEAM)
    assert here in texts(status) and REFUSED not in texts(status)
    ask = await bot.on_message(in_channel(), f"unmap {here}", TEAM)
    done = await click(bot, ask, "Unmap")
    assert "Number unmapped" in texts(done)
    assert await placed(client, enterprise) == {there: SALES}


async def test_stripes_cancellation_closes_the_gate_within_the_cache_time(
    world: World, client: ContextSMSClient, enterprise: Enterprise, sandbox: RunningSandbox
) -> None:
    bot = gated(world, client, ttl=1.0)
    sandbox.control("POST", "stats/reset")
    first, second = fresh_number(), fresh_number()
    assert "Number mapped" in texts(await bot.on_message(in_channel(), f"map {first}", TEAM))
    assert "Number mapped" in texts(await bot.on_message(in_channel(), f"map {second}", TEAM))
    assert checks(sandbox) == 1  # the answer was kept for the second map

    await stripe(client, sandbox, enterprise.email or "", "deleted", "canceled")
    await asyncio.sleep(1.3)  # the cache's time, and a margin
    late = fresh_number()
    refused_for_payment(await bot.on_message(in_channel(), f"map {late}", TEAM))
    assert set(await placed(client, enterprise)) == {first, second}

    # Renewed: maps work again once the refusal's answer expires in turn.
    await stripe(client, sandbox, enterprise.email or "", "updated", "active")
    await asyncio.sleep(1.3)
    assert "Number mapped" in texts(await bot.on_message(in_channel(), f"map {late}", TEAM))


async def test_the_check_turned_off_lets_an_unpaid_organization_map(
    world: World, client: ContextSMSClient, enterprise: Enterprise, sandbox: RunningSandbox
) -> None:
    await stripe(client, sandbox, enterprise.email or "", "deleted", "canceled")
    bot = gated(world, client, enabled=False)  # BOT_PAYMENT_CHECK=false
    sandbox.control("POST", "stats/reset")
    number = fresh_number()
    assert "Number mapped" in texts(await bot.on_message(in_channel(), f"map {number}", TEAM))
    assert set(await placed(client, enterprise)) == {number}
    assert checks(sandbox) == 0


@pytest.mark.parametrize("failure", ["error", "no email"])
async def test_a_failed_check_lets_the_map_through_when_allowed(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox, failure: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    enterprise = await failing_enterprise(world, client, sandbox, failure)
    bot = gated(world, client, on_failure=PaymentCheckFailure.ALLOW)
    number = fresh_number()
    with caplog.at_level(logging.WARNING, logger="bot.payment"):
        card = await bot.on_message(in_b(), f"map {number}", TEAM_B)
    assert "Number mapped" in texts(card)
    assert set(await placed(client, enterprise)) == {number}
    [logged] = [r.getMessage() for r in caplog.records if r.name == "bot.payment"]
    assert "not checked" in logged and "change allowed" in logged
    assert "@" not in logged  # no email in the log


@pytest.mark.parametrize("failure", ["error", "no email"])
async def test_a_failed_check_refuses_the_map_when_the_deployment_says_so(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox, failure: str
) -> None:
    enterprise = await failing_enterprise(world, client, sandbox, failure)
    bot = gated(world, client, on_failure=PaymentCheckFailure.REFUSE)
    card = await bot.on_message(in_b(), f"map {fresh_number()}", TEAM_B)
    shown = texts(card)
    assert "I cannot check your subscription right now" in shown
    assert "Nothing was changed" in shown and "contact your ContextSMS provider" in shown
    assert await placed(client, enterprise) == {}


async def failing_enterprise(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox, failure: str
) -> Enterprise:
    """Tenant B linked to an enterprise whose payment cannot be checked: the check answers
    errors, or the enterprise has no email to check."""
    email = "" if failure == "no email" else f"x-{secrets.token_hex(4)}@example.com"
    new = NewEnterprise("Unchecked Clinic", "U", fresh_number(), email)
    created = sandbox.store.create_enterprise(sandbox.seeded.csp_id, new)
    if failure == "error":
        sandbox.faults(error_rate=1.0, path_prefix="/api/v2/stripe/check-payment")
    await link_b(world, created.enterprise_id)
    return Enterprise(enterprise_id=created.enterprise_id, name=created.name)


async def test_the_seeded_unpaid_enterprise_is_refused_and_the_demo_one_is_not(
    world: World, client: ContextSMSClient, sandbox: RunningSandbox
) -> None:
    bot = gated(world, client)
    await link_b(world, sandbox.seeded.unpaid_enterprise_id)
    refused_for_payment(await bot.on_message(in_b(), f"map {fresh_number()}", TEAM_B))
    assert await client.list_mappings(sandbox.seeded.unpaid_enterprise_id) == []
    assert (await client.check_payment(sandbox.seeded.email)).paid is True
    assert (await client.check_payment(sandbox.seeded.unpaid_email)).paid is False
