"""The bot's HTTP app with real inbound JWT validation, outbound credentials and connector
retries, against local stand-ins of Microsoft's endpoints and the sandbox, over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web

from app import SERVICES, create_app
from bot.credentials import CachedCredentialsFactory
from bot.settings import Settings, load_settings
from contextsms.models import Enterprise
from sandbox.threaded import RunningSandbox
from standins.botframework import Connector, Identity, new_key
from tests.conftest import fresh_number

APP_ID = "11111111-2222-3333-4444-555555555555"
GENERAL = "19:general@thread.tacv2"


@pytest.fixture(scope="module")
def identity() -> Iterator[Identity]:
    stand_in = Identity()
    yield stand_in
    stand_in.server.stop()


@pytest.fixture
def connector() -> Iterator[Connector]:
    stand_in = Connector()
    yield stand_in
    stand_in.server.stop()


def settings_for(
    sandbox: RunningSandbox, identity: Identity, *, enterprise_id: str | None = None,
    password: str | None = None, **bot: Any,
) -> Settings:  # fmt: skip
    return load_settings(
        contextsms={
            "base_url": sandbox.api_url, "username": sandbox.settings.username,
            "password": password or sandbox.settings.password, "csp_id": sandbox.seeded.csp_id,
            "enterprise_id": enterprise_id, "tenant_id": "tenant-1" if enterprise_id else None,
        },
        bot={
            "MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "bot-password",
            "to_bot_from_channel_openid_metadata_url": identity.metadata_url, **bot,
        },
    )  # fmt: skip


@dataclass
class Bot:
    url: str
    http: httpx.AsyncClient
    identity: Identity
    connector: Connector
    credentials: CachedCredentialsFactory
    app: web.Application
    runner: web.AppRunner

    def activity(self, text: str = "status", **changes: Any) -> dict[str, Any]:
        activity: dict[str, Any] = {
            "type": "message", "id": f"m-{time.monotonic_ns()}", "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "from": {"id": "29:alex", "name": "Alex"},
            "recipient": {"id": "28:bot", "name": "Test Bot"},
            "conversation": {"id": f"{GENERAL};messageid=1", "conversationType": "channel",
                             "tenantId": "tenant-1"},
            "text": f"<at>Test Bot</at> {text}",
            "channelData": {"teamsChannelId": GENERAL, "teamsTeamId": GENERAL,
                            "channel": {"id": GENERAL, "name": None}, "team": {"id": GENERAL},
                            "tenant": {"id": "tenant-1"}},
        }  # fmt: skip
        activity.update(changes)
        return activity

    def token(self, **changes: Any) -> str:
        return self.identity.sign(self.identity.claims(APP_ID, self.connector.url, **changes))

    async def post(self, activity: dict[str, Any], token: str | None = None,
                   header: str | None = None) -> httpx.Response:  # fmt: skip
        headers = {"Authorization": header or f"Bearer {token or self.token()}"}
        return await self.http.post(f"{self.url}/api/messages", json=activity, headers=headers)


@pytest.fixture
async def bot(
    sandbox: RunningSandbox, enterprise: Enterprise, identity: Identity, connector: Connector
) -> AsyncIterator[Bot]:
    settings = settings_for(sandbox, identity, enterprise_id=enterprise.enterprise_id)
    credentials = CachedCredentialsFactory(
        APP_ID, settings.bot.MicrosoftAppPassword, token_source=identity.token_source()
    )
    app = create_app(settings, credentials_factory=credentials)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with httpx.AsyncClient(timeout=20) as http:
        yield Bot(f"http://{host}:{port}", http, identity, connector, credentials, app, runner)
    await runner.cleanup()


async def test_a_valid_request_is_served_and_answered_through_the_connector(bot: Bot) -> None:
    response = await bot.post(bot.activity("help"))
    assert response.status_code == 201
    [reply] = bot.connector.received
    assert reply["path"].startswith(f"/v3/conversations/{GENERAL};messageid=1/activities/")
    assert reply["authorization"] == f"Bearer outbound-{bot.identity.token_requests}"
    [card] = bot.connector.cards()
    assert card["type"] == "AdaptiveCard" and "map <number> [name]" in str(card)


def unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "case",
    ["missing", "not bearer", "garbage", "unsigned", "expired", "wrong audience", "wrong issuer",
     "unknown key", "other serviceurl", "no serviceurl", "hs256 with public key"],
)  # fmt: skip
async def test_bad_tokens_get_401_and_the_bot_does_nothing(
    bot: Bot, sandbox: RunningSandbox, enterprise: Enterprise, case: str
) -> None:
    claims = bot.identity.claims(APP_ID, bot.connector.url)
    headers = {
        "missing": "",
        "not bearer": f"Basic {bot.token()}",
        "garbage": "Bearer not.a.jwt",
        "unsigned": f"Bearer {unsigned(claims)}",
        "expired": f"Bearer {bot.token(exp=int(time.time()) - 301, nbf=int(time.time()) - 4000)}",
        "wrong audience": f"Bearer {bot.token(aud='someone-else')}",
        "wrong issuer": f"Bearer {bot.token(iss='https://evil.example.com')}",
        "unknown key": f"Bearer {bot.identity.sign(claims, kid='not-published', key=new_key()[1])}",
        "other serviceurl": f"Bearer {bot.token(serviceurl='https://attacker.example.com/')}",
        "no serviceurl": "Bearer "
        + bot.identity.sign({k: v for k, v in claims.items() if k != "serviceurl"}),
        "hs256 with public key": "Bearer " + jwt.api_jws.PyJWS().encode(
            b'{"aud":"x"}', key="a-shared-secret-of-more-than-32-bytes", algorithm="HS256",
            headers={"kid": bot.identity.published[0][0]}),
    }  # fmt: skip
    number = fresh_number()
    response = await bot.http.post(
        f"{bot.url}/api/messages",
        json=bot.activity(f"map {number}"),
        headers={"Authorization": headers[case]} if headers[case] else {},
    )
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert bot.connector.received == []
    assert sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0) == 0


async def test_clock_skew_of_less_than_five_minutes_is_allowed(bot: Bot) -> None:
    token = bot.token(exp=int(time.time()) - 200, nbf=int(time.time()) - 4000)
    assert (await bot.post(bot.activity("help"), token)).status_code == 201


async def test_rotated_signing_keys_are_fetched_once(bot: Bot) -> None:
    assert (await bot.post(bot.activity("help"))).status_code == 201
    auth = bot.app[SERVICES].auth
    assert auth is not None
    auth._refresh_interval = 0.5  # a production bot waits minutes between forced refreshes
    fetches = bot.identity.metadata_fetches
    await asyncio.sleep(0.6)
    bot.identity.rotate()
    assert (await bot.post(bot.activity("help"))).status_code == 201
    assert bot.identity.metadata_fetches == fetches + 1
    # A burst of tokens naming unknown keys right after costs no further fetch.
    for _ in range(5):
        token = bot.identity.sign(bot.identity.claims(APP_ID, bot.connector.url), kid="forged-kid")
        assert (await bot.post(bot.activity("help"), token)).status_code == 401
    assert bot.identity.metadata_fetches == fetches + 1


async def test_card_click_answers_200_with_the_new_card(
    bot: Bot, sandbox: RunningSandbox, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.post(bot.activity(f"map {number} Desk"))
    [mapped] = bot.connector.cards()
    unmap = next(a for a in mapped["actions"] if a["title"] == "Unmap")
    invoke = bot.activity(
        type="invoke", name="adaptiveCard/action", replyToId="activity-1",
        value={"action": {"type": "Action.Execute", "verb": unmap["verb"], "data": unmap["data"]}},
    )  # fmt: skip
    del invoke["text"]
    response = await bot.post(invoke)
    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Unmap this number?" in str(body["value"])
    confirm = next(a for a in body["value"]["actions"] if a["title"] == "Unmap")
    invoke["value"]["action"] = {
        "type": "Action.Execute",
        "verb": confirm["verb"],
        "data": confirm["data"],
    }
    done = (await bot.post(invoke)).json()
    assert "Number unmapped" in str(done["value"])
    again = (await bot.post(invoke)).json()
    assert again["statusCode"] == 200 and "Already unmapped" in str(again["value"])

    forged = {**confirm["data"], "ctx": {**confirm["data"]["ctx"], "id": "NTMAP9999999"}}
    invoke["value"]["action"] = {"type": "Action.Execute", "verb": confirm["verb"], "data": forged}
    refused = (await bot.post(invoke)).json()
    assert "not accepted" in str(refused["value"])


async def test_outbound_token_is_fetched_once_and_off_the_event_loop(bot: Bot) -> None:
    # The token endpoint takes 200 ms; 10 concurrent messages share one fetch, and the
    # event loop keeps serving (health checks answer) while it runs.
    before = bot.identity.token_requests
    posts = [asyncio.create_task(bot.post(bot.activity("help"))) for _ in range(10)]
    await asyncio.sleep(0.05)  # the turns are now waiting for the token
    started = time.monotonic()
    health = await bot.http.get(f"{bot.url}/healthz")
    # Ten blocking 200 ms fetches would hold the loop for 2 s.
    assert health.status_code == 200 and time.monotonic() - started < 0.5
    assert all(r.status_code == 201 for r in await asyncio.gather(*posts))
    assert bot.identity.token_requests == before + 1
    assert {r["authorization"] for r in bot.connector.received} == {f"Bearer outbound-{before + 1}"}


async def test_throttled_connector_calls_are_retried(bot: Bot) -> None:
    bot.connector.throttle = [429, 502]
    response = await bot.post(bot.activity("help"))
    assert response.status_code == 201
    assert bot.connector.attempts == 3
    assert len(bot.connector.received) == 1


async def test_health_and_readiness(bot: Bot, sandbox: RunningSandbox) -> None:
    assert (await bot.http.get(f"{bot.url}/healthz")).json() == {"status": "ok"}
    ready = await bot.http.get(f"{bot.url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_requests_that_are_not_activities(bot: Bot) -> None:
    text = await bot.http.post(f"{bot.url}/api/messages", content=b"hello",
                               headers={"Authorization": f"Bearer {bot.token()}"})  # fmt: skip
    assert text.status_code == 415
    empty = await bot.post({"no": "type"})
    assert empty.status_code == 400


async def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_slow_api_answers_in_time_and_updates_the_card_when_done(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    teams_bot = bot.app[SERVICES].teams_bot
    teams_bot.message_budget = teams_bot.action_budget = 0.5
    number = fresh_number()
    sandbox.faults(script=[{"path_prefix": "/api/v2/mapping/add", "delay_ms": 3000}])
    started = time.monotonic()
    response = await bot.post(bot.activity(f"map {number} Desk"))
    assert response.status_code == 201 and time.monotonic() - started < 2.5
    [pending] = bot.connector.received
    assert pending["method"] == "POST" and "Working on it" in str(pending["body"])
    await wait_for(lambda: len(bot.connector.received) == 2, timeout=10)
    update = bot.connector.received[1]
    assert update["method"] == "PUT"
    assert update["path"].endswith("/activities/activity-1")  # the "working on it" message
    assert "Number mapped" in str(update["body"]) and number in str(update["body"])

    # A card click: the invoke is answered in time, then the clicked card is updated.
    unmap = next(a for a in update["body"]["attachments"][0]["content"]["actions"]
                 if a["title"] == "Unmap")  # fmt: skip
    sandbox.faults(script=[{"path_prefix": "/api/v2/numbertomessageappmapping", "delay_ms": 3000}])
    invoke = bot.activity(
        type="invoke", name="adaptiveCard/action", replyToId="activity-1",
        value={"action": {"type": "Action.Execute", "verb": unmap["verb"], "data": unmap["data"]}},
    )  # fmt: skip
    del invoke["text"]
    started = time.monotonic()
    answer = (await bot.post(invoke)).json()
    assert time.monotonic() - started < 2.5
    assert "Working on it" in str(answer["value"])
    await wait_for(lambda: len(bot.connector.received) == 3, timeout=10)
    late = bot.connector.received[2]
    assert late["method"] == "PUT" and late["path"].endswith("/activities/activity-1")
    assert "Unmap this number?" in str(late["body"])


async def test_reused_connector_clients_still_renew_the_bots_token(bot: Bot) -> None:
    # The token lives 2 s: renewed after 1 s (half its life when that is under 5 minutes).
    bot.identity.token_lifetime = 2
    try:
        assert (await bot.post(bot.activity("help"))).status_code == 201
        first = bot.connector.received[-1]["authorization"]
        assert (await bot.post(bot.activity("help"))).status_code == 201
        assert bot.connector.received[-1]["authorization"] == first  # same token, reused
        await asyncio.sleep(1.2)
        assert (await bot.post(bot.activity("help"))).status_code == 201
        renewed = bot.connector.received[-1]["authorization"]
        assert renewed != first and renewed.startswith("Bearer outbound-")
    finally:
        bot.identity.token_lifetime = 3600


async def test_added_to_a_team_it_posts_a_welcome_card_in_general(bot: Bot) -> None:
    update = bot.activity(
        type="conversationUpdate",
        membersAdded=[{"id": "28:bot", "name": "Test Bot"}],
        channelData={"eventType": "teamMemberAdded", "team": {"id": GENERAL, "name": "My Team"},
                     "tenant": {"id": "tenant-1"}},
        conversation={"id": GENERAL, "conversationType": "channel", "tenantId": "tenant-1"},
    )  # fmt: skip
    del update["text"]
    assert (await bot.post(update)).status_code == 201
    [welcome] = bot.connector.received
    assert welcome["path"] == f"/v3/conversations/{GENERAL}/activities"
    assert "Welcome to ContextSMS" in str(welcome["body"])
    assert "map (555) 987-6543 Front desk" in str(welcome["body"])

    # A person joining the team is no reason to post anything.
    update["membersAdded"] = [{"id": "29:newcomer", "name": "New Person"}]
    assert (await bot.post(update)).status_code == 201
    assert len(bot.connector.received) == 1


async def test_not_ready_without_contextsms_and_shutdown_closes_clients(
    sandbox: RunningSandbox, identity: Identity
) -> None:
    settings = settings_for(sandbox, identity, password="not-the-password")
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://{host}:{port}/healthz")).status_code == 200
        ready = await http.get(f"http://{host}:{port}/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "not ready", "reason": "ContextSMS: Unauthorized"}
    assert "not-the-password" not in ready.text
    services = app[SERVICES]
    await runner.cleanup()
    assert services.client._http.is_closed and services.http.is_closed


async def test_a_clean_shutdown_still_finishes_the_card_in_progress(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    teams_bot = bot.app[SERVICES].teams_bot
    teams_bot.message_budget = 0.3
    sandbox.faults(script=[{"path_prefix": "/api/v2/mapping/add", "delay_ms": 1500}])
    assert (await bot.post(bot.activity(f"map {fresh_number()}"))).status_code == 201
    assert "Working on it" in str(bot.connector.received[0]["body"])
    await bot.runner.cleanup()  # as on SIGTERM: the work in progress gets its grace
    assert len(bot.connector.received) == 2
    assert "Number mapped" in str(bot.connector.received[1]["body"])
