"""The bot's HTTP app with real inbound JWT validation, outbound credentials and connector
retries, against local stand-ins of Microsoft's endpoints and the sandbox, over real HTTP."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web
from pydantic import SecretStr

from app import SERVICES, create_app
from bot.credentials import CachedCredentialsFactory
from bot.graph import MsalTenantTokens
from bot.settings import Settings, load_settings
from bot.storage.base import Storage
from contextsms import ContextSMSClient
from contextsms.models import Enterprise
from sandbox.threaded import RunningSandbox
from standins.botframework import Connector, Identity, new_key
from standins.graph import GraphStandIn, Member
from standins.tls import make_ca
from tests.conftest import fresh_number

APP_ID = "11111111-2222-3333-4444-555555555555"
GENERAL = "19:general@thread.tacv2"
TENANT = "7e7e7e7e-0000-4000-8000-000000000001"
OWNER = Member("a1e0a1e0-0000-4000-8000-0000000000a1", "Alex", ("owner",))
MEMBER = Member("b0b0b0b0-0000-4000-8000-0000000000b1", "Bo")


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


@dataclass
class Graph:
    """Microsoft Graph's and the customer tenants' Entra stand-in, over HTTPS."""

    stand_in: GraphStandIn
    ca_file: Path


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    ca = make_ca(tmp_path_factory.mktemp("graph-ca"))
    stand_in = GraphStandIn(ssl_context=ca.server_context)
    yield Graph(stand_in, ca.ca_file)
    stand_in.stop()


def settings_for(
    sandbox: RunningSandbox, identity: Identity, *, enterprise_id: str | None = None,
    password: str | None = None, **bot: Any,
) -> Settings:  # fmt: skip
    return load_settings(
        contextsms={
            "base_url": sandbox.api_url, "username": sandbox.settings.username,
            "password": password or sandbox.settings.password, "csp_id": sandbox.seeded.csp_id,
            "enterprise_id": enterprise_id, "tenant_id": TENANT if enterprise_id else None,
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

    @property
    def storage(self) -> Storage:
        return self.app[SERVICES].storage

    def activity(self, text: str = "status", **changes: Any) -> dict[str, Any]:
        activity: dict[str, Any] = {
            "type": "message", "id": f"m-{time.monotonic_ns()}", "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "from": {"id": "29:alex", "name": "Alex", "aadObjectId": OWNER.user_id},
            "recipient": {"id": "28:bot", "name": "Test Bot"},
            "conversation": {"id": f"{GENERAL};messageid=1", "conversationType": "channel",
                             "tenantId": TENANT},
            "text": f"<at>Test Bot</at> {text}",
            "channelData": {"teamsChannelId": GENERAL, "teamsTeamId": GENERAL,
                            "channel": {"id": GENERAL, "name": None}, "team": {"id": GENERAL},
                            "tenant": {"id": TENANT}},
        }  # fmt: skip
        activity.update(changes)
        return activity

    def token(self, **changes: Any) -> str:
        return self.identity.sign(self.identity.claims(APP_ID, self.connector.url, **changes))

    async def post(self, activity: dict[str, Any], token: str | None = None,
                   header: str | None = None) -> httpx.Response:  # fmt: skip
        headers = {"Authorization": header or f"Bearer {token or self.token()}"}
        return await self.http.post(f"{self.url}/api/messages", json=activity, headers=headers)


@asynccontextmanager
async def serve(
    sandbox: RunningSandbox, enterprise: Enterprise, identity: Identity, connector: Connector,
    graph: Graph, storage_path: Path, *, entra: Identity | None = None,
    settings: Settings | None = None, **create: Any,
) -> AsyncIterator[Bot]:  # fmt: skip
    """The bot over real HTTP on loopback: its own tokens from `entra` (`identity` unless
    given), its storage a SQLite file at `storage_path`, the tenant linked to `enterprise` at
    start, and the team (whose group id the connector tells) owned by OWNER in Graph."""
    graph.stand_in.set_team(connector.group_of(GENERAL), TENANT, [OWNER, MEMBER])
    settings = settings or settings_for(
        sandbox, identity, enterprise_id=enterprise.enterprise_id,
        bot_storage_path=str(storage_path), bot_graph_url=graph.stand_in.base_url,
    )  # fmt: skip
    credentials = CachedCredentialsFactory(
        APP_ID, settings.bot.MicrosoftAppPassword,
        token_source=(entra or identity).token_source(),
    )  # fmt: skip
    tokens = MsalTenantTokens(
        APP_ID, SecretStr("bot-password"), graph.stand_in.base_url, verify=str(graph.ca_file)
    )
    http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=graph.ca_file))
    app = await create_app(
        settings, credentials_factory=credentials, graph_tokens=tokens, http=http, **create
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        async with httpx.AsyncClient(timeout=20) as client:
            yield Bot(f"http://{host}:{port}", client, identity, connector, credentials, app,
                      runner)  # fmt: skip
    finally:
        await runner.cleanup()


@pytest.fixture
async def bot(
    sandbox: RunningSandbox, enterprise: Enterprise, identity: Identity, connector: Connector,
    graph: Graph, tmp_path: Path,
) -> AsyncIterator[Bot]:  # fmt: skip
    async with serve(sandbox, enterprise, identity, connector, graph, tmp_path / "bot.db") as b:
        yield b


async def test_a_valid_request_is_served_and_answered_through_the_connector(bot: Bot) -> None:
    response = await bot.post(bot.activity("help"))
    assert response.status_code == 201
    [reply] = bot.connector.received
    assert reply["path"].startswith(f"/v3/conversations/{GENERAL};messageid=1/activities/")
    assert reply["authorization"] == f"Bearer outbound-{bot.identity.token_requests}"
    [card] = bot.connector.cards()
    assert card["type"] == "AdaptiveCard" and "map ‹number› [name]" in str(card)


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


def team_update(bot: Bot, **changes: Any) -> dict[str, Any]:
    """A conversationUpdate of the team, as Teams sends it to General."""
    update = bot.activity(
        type="conversationUpdate",
        channelData={"eventType": "teamMemberAdded", "team": {"id": GENERAL, "name": "My Team"},
                     "tenant": {"id": TENANT}},
        conversation={"id": GENERAL, "conversationType": "channel", "tenantId": TENANT},
    )  # fmt: skip
    del update["text"]
    update.update(changes)
    return update


BOT_ACCOUNT = {"id": "28:bot", "name": "Test Bot"}


async def test_added_to_a_team_it_posts_a_welcome_card_in_general(bot: Bot) -> None:
    update = team_update(bot, membersAdded=[BOT_ACCOUNT])
    assert (await bot.post(update)).status_code == 201
    [welcome] = bot.connector.received
    assert welcome["path"] == f"/v3/conversations/{GENERAL}/activities"
    assert "Welcome to ContextSMS" in str(welcome["body"])
    assert "map (555) 987-6543 Front desk" in str(welcome["body"])

    # A person joining the team is no reason to post anything.
    update["membersAdded"] = [{"id": "29:newcomer", "name": "New Person"}]
    assert (await bot.post(update)).status_code == 201
    assert len(bot.connector.received) == 1


async def test_installed_in_a_team_its_reference_is_kept_until_the_bot_is_removed(
    bot: Bot,
) -> None:
    assert await bot.storage.reference(GENERAL) is None
    assert (await bot.post(team_update(bot, membersAdded=[BOT_ACCOUNT]))).status_code == 201
    kept = await bot.storage.reference(GENERAL)
    assert kept is not None
    assert (kept.tenant_id, kept.team_id) == (TENANT, GENERAL)
    # What a proactive message needs: where to post, the conversation, its tenant, the bot.
    assert kept.reference["serviceUrl"] == bot.connector.url
    assert kept.reference["conversation"] == {
        "id": GENERAL, "conversationType": "channel", "tenantId": TENANT,
    }  # fmt: skip
    assert kept.reference["bot"]["id"] == "28:bot"

    # Another tenant's removal event for this conversation drops nothing.
    foreign = "9f9f9f9f-0000-4000-8000-00000000009f"
    stranger = team_update(
        bot, membersRemoved=[BOT_ACCOUNT],
        channelData={"eventType": "teamMemberRemoved", "tenant": {"id": foreign}},
        conversation={"id": GENERAL, "conversationType": "channel", "tenantId": foreign},
    )  # fmt: skip
    assert (await bot.post(stranger)).status_code == 201
    assert await bot.storage.reference(GENERAL) is not None

    # A person leaving keeps it; the bot removed from the team drops it.
    person_left = team_update(bot, membersRemoved=[{"id": "29:alex", "name": "Alex"}])
    assert (await bot.post(person_left)).status_code == 201
    assert await bot.storage.reference(GENERAL) is not None
    removed = team_update(
        bot, membersRemoved=[BOT_ACCOUNT],
        channelData={"eventType": "teamMemberRemoved", "team": {"id": GENERAL},
                     "tenant": {"id": TENANT}},
    )  # fmt: skip
    assert (await bot.post(removed)).status_code == 201
    assert await bot.storage.reference(GENERAL) is None
    assert len(bot.connector.received) == 1  # the welcome, nothing else


async def test_installation_updates_keep_and_drop_a_personal_chats_reference(bot: Bot) -> None:
    chat = "a:1personal-chat-of-alex"
    install = bot.activity(
        type="installationUpdate", action="add",
        conversation={"id": chat, "conversationType": "personal", "tenantId": TENANT},
        channelData={"tenant": {"id": TENANT}},
    )  # fmt: skip
    del install["text"]
    assert (await bot.post(install)).status_code == 201
    kept = await bot.storage.reference(chat)
    assert kept is not None and kept.tenant_id == TENANT and kept.team_id is None
    assert (await bot.post({**install, "action": "remove"})).status_code == 201
    assert await bot.storage.reference(chat) is None


async def test_the_tenant_is_read_from_conversation_tenant_id_alone(
    bot: Bot, sandbox: RunningSandbox, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    # botbuilder has no field for the raw conversation.tenantId: it must still be read.
    number = fresh_number()
    activity = bot.activity(f"map {number} Desk")
    del activity["channelData"]["tenant"]
    assert (await bot.post(activity)).status_code == 201
    assert "Number mapped" in str(bot.connector.cards()[-1])
    mapped = await client.list_mappings(enterprise.enterprise_id)
    assert [m.messaging_app_id for m in mapped if m.phone_number == number] == [GENERAL]

    # So is an install that names its tenant only there.
    update = team_update(bot, membersAdded=[BOT_ACCOUNT], channelData={"team": {"id": GENERAL}})
    assert (await bot.post(update)).status_code == 201
    kept = await bot.storage.reference(GENERAL)
    assert kept is not None and kept.tenant_id == TENANT


async def test_an_activity_without_a_tenant_changes_nothing(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    activity = bot.activity(f"map {fresh_number()} Desk")
    del activity["channelData"]["tenant"]
    del activity["conversation"]["tenantId"]
    assert (await bot.post(activity)).status_code == 201
    [card] = bot.connector.cards()
    assert "does not say which organization it belongs to" in str(card)
    assert sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0) == 0

    install = team_update(
        bot, membersAdded=[BOT_ACCOUNT], channelData={"team": {"id": GENERAL}},
        conversation={"id": GENERAL, "conversationType": "channel"},
    )  # fmt: skip
    assert (await bot.post(install)).status_code == 201
    assert await bot.storage.reference(GENERAL) is None


async def test_ownership_is_asked_of_graph_by_the_group_id_teams_gives(
    bot: Bot, graph: Graph, sandbox: RunningSandbox
) -> None:
    group = bot.connector.group_of(GENERAL)
    asked = graph.stand_in.graph_requests
    assert (await bot.post(bot.activity(f"map {fresh_number()} Desk"))).status_code == 201
    assert "Number mapped" in str(bot.connector.cards()[-1])
    assert bot.connector.team_details_requests == 1
    assert graph.stand_in.graph_requests == asked + 1

    # An ordinary member of the team (per Graph, for that group) is refused, and told who can.
    member = bot.activity(f"map {fresh_number()} Desk")
    member["from"] = {"id": "29:bo", "name": "Bo", "aadObjectId": MEMBER.user_id}
    adds = sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0)
    assert (await bot.post(member)).status_code == 201
    refusal = str(bot.connector.cards()[-1])
    assert "Not allowed for you" in refusal and "an owner of this team" in refusal
    assert sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0) == adds
    # The team's group id was asked of Teams once, and is kept for the team.
    assert bot.connector.team_details_requests == 1
    # Graph knows this team only by the group id Teams gave: asked by any other, it would
    # not have listed Alex as its owner.
    assert list(graph.stand_in.teams) == [group]


async def test_when_teams_cannot_tell_the_team_a_change_is_refused(
    sandbox: RunningSandbox, enterprise: Enterprise, identity: Identity, connector: Connector,
    graph: Graph, tmp_path: Path,
) -> None:  # fmt: skip
    connector.team_details_status = 503
    async with serve(sandbox, enterprise, identity, connector, graph, tmp_path / "b.db") as bot:
        assert (await bot.post(bot.activity(f"map {fresh_number()} Desk"))).status_code == 201
        card = str(bot.connector.cards()[-1])
        assert "I cannot check your permissions right now" in card
        assert "Nothing was changed" in card
        assert sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0) == 0
        # Looking needs no owner: status still works.
        assert (await bot.post(bot.activity("status"))).status_code == 201
        assert "Numbers in" in str(bot.connector.cards()[-1])


async def test_not_ready_without_contextsms_and_shutdown_closes_clients(
    sandbox: RunningSandbox, identity: Identity, tmp_path: Path
) -> None:
    settings = settings_for(
        sandbox, identity, password="not-the-password", bot_storage_path=str(tmp_path / "b.db")
    )
    app = await create_app(settings)
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
    assert (tmp_path / "b.db").exists()  # the storage the settings name


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


async def test_ids_that_are_not_text_are_taken_as_absent(bot: Bot, sandbox: RunningSandbox) -> None:
    # A signed activity whose channel id is a number: no mapping is tried into a channel "7".
    activity = bot.activity(f"map {fresh_number()} Desk")
    activity["channelData"]["teamsChannelId"] = 7
    activity["channelData"]["channel"] = {"id": ["19:x"]}
    assert (await bot.post(activity)).status_code == 201
    [card] = bot.connector.cards()
    assert "something went wrong" not in str(card).lower()
    assert "This works in a channel" in str(card)
    assert sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0) == 0


async def test_a_pasted_list_is_read_from_the_html_and_applied_on_the_clicked_card(
    bot: Bot, sandbox: RunningSandbox, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    # Teams flattens a pasted list's lines in the text; its HTML form keeps them.
    numbers = [fresh_number() for _ in range(3)]
    message = bot.activity(
        "map " + " ".join(numbers),
        attachments=[{"contentType": "text/html",
                      "content": "<p><at>Test Bot</at> map</p>"
                                 + "".join(f"<p>{n}</p>" for n in numbers)}],
    )  # fmt: skip
    assert (await bot.post(message)).status_code == 201
    [preview] = bot.connector.cards()
    assert "Map 3 numbers" in str(preview) and all(n in str(preview) for n in numbers)
    apply = next(a for a in preview["actions"] if a["title"] == "Map 3 here")

    # The click is answered at once; the clicked card (the preview) is then updated in place.
    invoke = bot.activity(
        type="invoke", name="adaptiveCard/action", replyToId="activity-1",
        value={"action": {"type": "Action.Execute", "verb": apply["verb"], "data": apply["data"]}},
    )  # fmt: skip
    del invoke["text"]
    answer = await bot.post(invoke)
    assert answer.status_code == 200

    def updated() -> list[dict[str, Any]]:
        return [r for r in bot.connector.received  # the preview was activity-1
                if r["method"] == "PUT" and r["path"].endswith("/activity-1")]  # fmt: skip

    await wait_for(lambda: any("Done" in str(u["body"]) for u in updated()), timeout=15)
    assert all(n in str(updated()[-1]["body"]) for n in numbers)
    mapped = await client.list_mappings(enterprise.enterprise_id)
    assert sorted(m.phone_number for m in mapped if m.messaging_app_id == GENERAL) == sorted(
        numbers
    )
