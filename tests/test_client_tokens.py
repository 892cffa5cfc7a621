"""Token life: login on first use, renewal before expiry, one shared refresh, re-login; and
through the bot, a burst of commands just after the token expired renews it once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contextsms import ContextSMSClient
from sandbox.seed import subscribe_once
from sandbox.threaded import RunningSandbox, start_sandbox
from tests.conftest import PAID_EMAILS, fresh_number, make_client
from tests.test_bot_behaviour import TEAM, World, bot, in_channel, texts, world

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

TTL = 2  # seconds; the sandbox's expiry falls on a whole second, so a token lives 2 to 3 s
# Long enough for a burst (100 calls, 200 commands) to be over before its token is renewed
# again, however loaded the machine: a second renewal would then be right, not a fault.
BURST_TTL = 6


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(
        tmp_path_factory.mktemp("short") / "sandbox.db",
        access_token_ttl_seconds=TTL,
        refresh_token_ttl_seconds=60,
    )
    yield running
    running.stop()


@pytest.fixture
async def api(short_lived: RunningSandbox) -> ContextSMSClient:
    short_lived.reset()
    return make_client(short_lived)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """The `client` and `world` fixtures' sandbox, and that of the bursts: tokens that expire
    while a test waits, and outlast a burst."""
    running = start_sandbox(
        tmp_path_factory.mktemp("burst") / "sandbox.db",
        access_token_ttl_seconds=BURST_TTL,
        refresh_token_ttl_seconds=60,
    )
    for email in PAID_EMAILS:
        subscribe_once(running.store, email, "active")
    yield running
    running.stop()


@pytest.fixture
async def lasting(sandbox: RunningSandbox) -> ContextSMSClient:
    sandbox.reset()
    return make_client(sandbox)


async def wait_until_expired(api: ContextSMSClient) -> None:
    assert api._last_login is not None and api._last_login.expiration_time_in_utc is not None
    delay = api._last_login.expiration_time_in_utc.timestamp() - time.time() + 0.2
    await asyncio.sleep(max(0.0, delay))


async def test_logs_in_on_first_use_only(
    short_lived: RunningSandbox, api: ContextSMSClient
) -> None:
    async with api:
        for _ in range(5):
            await api.list_enterprises()
    assert short_lived.stats()["logins"] == 1
    assert short_lived.stats()["refreshes"] == 0


async def test_expiry_in_the_middle_of_a_sequence(
    short_lived: RunningSandbox, api: ContextSMSClient
) -> None:
    async with api:
        eid = short_lived.seeded.enterprise_id
        await api.get_enterprise(eid)
        await wait_until_expired(api)
        await api.get_enterprise(eid)
        await api.list_mappings(eid)
    stats = short_lived.stats()
    assert (stats["logins"], stats["refreshes"]) == (1, 1)
    assert stats["rejectedTokens"] == 0  # renewed before use, not after a 401


async def test_hundred_concurrent_calls_with_expired_token_refresh_once(
    short_lived: RunningSandbox, api: ContextSMSClient
) -> None:
    async with api:
        await api.ensure_logged_in()
        await wait_until_expired(api)
        results = await asyncio.gather(*(api.list_enterprises() for _ in range(100)))
    assert all(r and r[0].enterprise_id == short_lived.seeded.enterprise_id for r in results)
    stats = short_lived.stats()
    assert (stats["logins"], stats["refreshes"]) == (1, 1)


async def test_revoked_token_is_refreshed_once_for_a_burst_of_401s(
    sandbox: RunningSandbox, lasting: ContextSMSClient
) -> None:
    async with lasting:
        await lasting.ensure_logged_in()
        sandbox.control("POST", "revoke-tokens")
        results = await asyncio.gather(*(lasting.list_enterprises() for _ in range(100)))
    assert len(results) == 100
    stats = sandbox.stats()
    assert stats["refreshes"] == 1
    assert stats["rejectedTokens"] == 100


async def test_logs_in_again_when_refresh_token_is_refused(
    sandbox: RunningSandbox, lasting: ContextSMSClient
) -> None:
    async with lasting:
        await lasting.ensure_logged_in()
        await asyncio.sleep(0.01)
        sandbox.control("POST", "revoke-tokens", {"refresh": True})
        await asyncio.sleep(0.01)
        await lasting.list_enterprises()
    stats = sandbox.stats()
    assert (stats["logins"], stats["refreshes"]) == (2, 0)


async def test_renewal_survives_a_caller_whose_deadline_passes(
    short_lived: RunningSandbox, api: ContextSMSClient
) -> None:
    async with api:
        short_lived.faults(script=[{"path_prefix": "/api/v2/auth/login", "delay_ms": 300}])
        impatient = asyncio.create_task(api.list_enterprises(deadline=0.1))
        patient = asyncio.create_task(api.list_enterprises(deadline=5))
        with pytest.raises(TimeoutError):
            await impatient
        assert (await patient)[0].enterprise_id == short_lived.seeded.enterprise_id
    assert short_lived.stats()["logins"] == 1


@pytest.mark.parametrize("refresh_refused", [False, True], ids=["expired", "all revoked"])
async def test_200_commands_just_after_the_token_expired_renew_it_once(
    sandbox: RunningSandbox, world: World, client: ContextSMSClient, refresh_refused: bool
) -> None:
    """Half map a number each (a write each), half ask for the status; the token expired (or
    ContextSMS revoked it and its refresh token) just before they arrive."""
    await world.bot.on_message(in_channel(), "status", TEAM)  # logged in; brand, payment read
    if refresh_refused:
        sandbox.control("POST", "revoke-tokens", {"refresh": True})
    else:
        await wait_until_expired(client)
    sandbox.reset()  # counted from here
    numbers = [fresh_number() for _ in range(100)]
    cards = await asyncio.gather(
        *(world.bot.on_message(in_channel(), f"map {number}", TEAM) for number in numbers),
        *(world.bot.on_message(in_channel(), "status", TEAM) for _ in range(100)),
    )
    for number, card in zip(numbers, cards[:100], strict=True):
        assert "Number mapped" in texts(card) and number in texts(card)
    assert all("Numbers in General" in texts(card) for card in cards[100:])
    stats = sandbox.stats()
    if refresh_refused:  # each refused with the old token, then one login for all
        assert (stats["logins"], stats["refreshes"]) == (1, 0)
    else:  # renewed before use: one refresh, nothing refused
        assert (stats["logins"], stats["refreshes"], stats["rejectedTokens"]) == (0, 1, 0)
    mapped = {m.phone_number for m in await client.list_mappings(world.enterprise.enterprise_id)}
    assert mapped >= set(numbers)


def test_token_never_shows_in_repr(tmp_path: Path) -> None:
    from contextsms.models import TokenResponse

    answer = TokenResponse.model_validate(
        {"username": "u", "accessToken": "eyJ.SECRET.x", "refreshToken": "eyJ.REFRESH.y"}
    )
    assert "SECRET" not in repr(answer) and "REFRESH" not in str(answer)
    assert "SECRET" not in answer.model_dump_json()
