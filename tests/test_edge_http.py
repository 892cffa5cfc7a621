"""The bot's HTTP edge under the faults a deployment meets: the signing keys down at start,
anonymous and malformed requests, and Entra unable to give the bot its own token. Real HTTP:
the app from `create_app` on loopback, against the stand-ins and the sandbox."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.inbound_auth import BotFrameworkAuth
from contextsms.models import Enterprise
from contextsms.retry import RetryPolicy
from sandbox.threaded import RunningSandbox
from standins.botframework import Connector, Identity
from tests.conftest import fresh_number
from tests.test_bot_http import APP_ID, Bot, Graph, serve

# The fixtures: the bot served over HTTP against the stand-ins (`identity` is this module's own).
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph


@pytest.fixture
def identity() -> Iterator[Identity]:
    stand_in = Identity()  # each test its own: they break it
    yield stand_in
    stand_in.server.stop()


def card_click(bot: Bot, verb: str = "status") -> dict[str, Any]:
    invoke = bot.activity(
        type="invoke", name="adaptiveCard/action", replyToId="activity-1",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": {}}},
    )  # fmt: skip
    del invoke["text"]
    return invoke


# -- 1. the signing keys ---------------------------------------------------------------------


async def test_keys_down_at_start_are_fetched_again_within_seconds_of_recovery(
    sandbox: RunningSandbox, enterprise: Enterprise, identity: Identity, connector: Connector,
    graph: Graph, tmp_path: Path,
) -> None:  # fmt: skip
    identity.metadata_status = 503
    # The backoff after a failed fetch is a parameter of the validator; production's starts
    # at a second and grows to half a minute. This one stays short to keep the test short.
    inbound = BotFrameworkAuth(
        app_id=APP_ID, metadata_url=identity.metadata_url, issuer="https://api.botframework.com",
        http=httpx.AsyncClient(timeout=5), fetch_retry=RetryPolicy(base_delay=0.5, max_delay=2.0),
    )  # fmt: skip
    async with serve(
        sandbox, enterprise, identity, connector, graph, tmp_path / "bot.db", inbound_auth=inbound
    ) as bot:
        started = time.monotonic()
        refused = await bot.post(bot.activity("help"))
        # Not the caller's fault: "try again", not "who are you".
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        while time.monotonic() - started < 10:
            assert (await bot.post(bot.activity("help"))).status_code == 503
            await asyncio.sleep(0.5)
        # Retried during the outage, not once per five minutes; and not once per request.
        assert 3 <= identity.metadata_fetches <= 15
        identity.metadata_status = None
        recovered = time.monotonic()
        while (await bot.post(bot.activity("help"))).status_code != 201:
            assert time.monotonic() - recovered < 5, "still refused 5 s after the keys came back"
            await asyncio.sleep(0.2)
        assert len(bot.connector.received) == 1  # the first served message was answered
    await inbound._http.aclose()


async def test_keys_last_known_good_are_kept_when_a_refetch_fails(
    sandbox: RunningSandbox, enterprise: Enterprise, identity: Identity, connector: Connector,
    graph: Graph, tmp_path: Path,
) -> None:  # fmt: skip
    inbound = BotFrameworkAuth(
        app_id=APP_ID, metadata_url=identity.metadata_url, issuer="https://api.botframework.com",
        http=httpx.AsyncClient(timeout=5), refresh_interval=0.5,
        fetch_retry=RetryPolicy(base_delay=0.5, max_delay=1.0),
    )  # fmt: skip
    async with serve(
        sandbox, enterprise, identity, connector, graph, tmp_path / "bot.db", inbound_auth=inbound
    ) as bot:
        assert (await bot.post(bot.activity("help"))).status_code == 201
        identity.metadata_status = 503
        await asyncio.sleep(0.6)
        rotated = Identity()  # a key the bot has never seen forces a fetch, which fails
        try:
            stranger = rotated.sign(rotated.claims(APP_ID, connector.url))
        finally:
            rotated.server.stop()
        assert (await bot.post(bot.activity("help"), stranger)).status_code == 401
        fetches = identity.metadata_fetches
        for _ in range(4):  # the keys it had still serve, while the fetch is retried
            assert (await bot.post(bot.activity("help"))).status_code == 201
            await asyncio.sleep(0.5)
        assert identity.metadata_fetches > fetches
        identity.metadata_status = None
        new_kid = identity.rotate()
        deadline = time.monotonic() + 5
        while (await bot.post(bot.activity("help"))).status_code != 201:
            assert time.monotonic() < deadline, f"key {new_kid} never loaded"
            await asyncio.sleep(0.2)
    await inbound._http.aclose()


# -- 2, 3. the order of checks, and requests that are not what they claim ----------------------


async def test_anonymous_requests_get_401_before_their_body_is_read(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    url = f"{bot.url}/api/messages"
    # Not JSON, not an activity, or over the size limit: without a token none of it matters.
    for content, kind in [(b"hello", "text/plain"), (b"{not json", "application/json"),
                          (b"[" * 100_000, "application/json"),
                          (b"x" * (3 * 1024 * 1024), "application/json")]:  # fmt: skip
        response = await bot.http.post(url, content=content, headers={"Content-Type": kind})
        assert response.status_code == 401, (kind, content[:10], response.text)
        assert response.json() == {"error": "unauthorized"}
    # With a valid token, the body's problems are named.
    auth = {"Authorization": f"Bearer {bot.token()}"}
    text = await bot.http.post(
        url, content=b"hello", headers={**auth, "Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    broken = await bot.http.post(url, content=b"{not json",
                                 headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert broken.status_code == 400
    deep = await bot.http.post(url, content=b"[" * 100_000,
                               headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert deep.status_code == 400
    # ... and only then is the token held against the activity.
    elsewhere = bot.activity("help", serviceUrl="https://attacker.example.com/")
    assert (await bot.post(elsewhere)).status_code == 401
    assert bot.connector.received == []


@pytest.mark.parametrize(
    "case", ["no conversation", "conversation without id", "no type", "a list", "no serviceUrl"]
)
async def test_activities_missing_what_a_reply_needs_get_400_never_500(bot: Bot, case: str) -> None:
    activity = bot.activity("help")
    match case:
        case "no conversation":
            del activity["conversation"]
        case "conversation without id":
            activity["conversation"] = {"conversationType": "channel"}
        case "no type":
            del activity["type"]
        case "a list":
            activity = [activity]  # type: ignore[assignment]
        case "no serviceUrl":
            del activity["serviceUrl"]
    response = await bot.post(activity)
    assert response.status_code == 400
    assert response.json() == {"error": "not an activity"}
    assert bot.connector.received == []


async def test_a_token_for_several_audiences_is_refused(bot: Bot) -> None:
    for audience in ([APP_ID, "another-bot"], [APP_ID]):
        response = await bot.post(bot.activity("help"), bot.token(aud=audience))
        assert response.status_code == 401 and response.json() == {"error": "unauthorized"}
    assert bot.connector.received == []
    assert (await bot.post(bot.activity("help"))).status_code == 201


# -- 4. the bot's own token ------------------------------------------------------------------


async def test_no_connector_token_a_card_for_clicks_503_for_messages_logged_once(
    bot: Bot, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    bot.identity.token_status = 503  # Entra is down
    number = fresh_number()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            message = await bot.post(bot.activity(f"map {number}"))
            assert message.status_code == 503 and message.headers["Retry-After"]
            click = await bot.post(card_click(bot))
            assert click.status_code == 200
            body = click.json()
            assert body["type"] == "application/vnd.microsoft.card.adaptive"
            shown = str(body["value"])
            assert "can't answer right now" in shown and "Try again in a few minutes" in shown
            assert "othing was changed" not in shown and "nothing was done" not in shown
    outage = [r for r in caplog.records if "cannot get the bot's token" in r.getMessage()]
    assert len(outage) == 1 and outage[0].levelno == logging.ERROR
    assert "temporarily_unavailable" in outage[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]  # no trace per request
    assert "bot-password" not in caplog.text
    assert bot.connector.received == []
    assert sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0) == 0

    bot.identity.token_status = None  # Entra is back
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert (await bot.post(bot.activity("help"))).status_code == 201
    assert "available again" in caplog.text
    assert len(bot.connector.received) == 1


async def test_entra_unreachable_is_the_same_outage(
    sandbox: RunningSandbox, enterprise: Enterprise, identity: Identity, connector: Connector,
    graph: Graph, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    gone = Identity()
    gone.server.stop()  # nothing listens at its address any more
    async with serve(
        sandbox, enterprise, identity, connector, graph, tmp_path / "bot.db", entra=gone
    ) as bot:
        with caplog.at_level(logging.INFO):
            assert (await bot.post(bot.activity("help"))).status_code == 503
            assert (await bot.post(card_click(bot))).status_code == 200
    outage = [r for r in caplog.records if "cannot get the bot's token" in r.getMessage()]
    assert len(outage) == 1 and "ConnectError" in outage[0].getMessage()


async def test_a_failed_turn_does_not_claim_nothing_was_changed(
    bot: Bot, sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    number = fresh_number()
    bot.connector.throttle = [500]  # the card is made, and posting it fails for good
    with caplog.at_level(logging.INFO):
        assert (await bot.post(bot.activity(f"map {number}"))).status_code == 201
    [apology] = bot.connector.received
    said = apology["body"]["text"]
    assert "can't tell whether your request was carried out" in said and "status" in said
    assert "othing was changed" not in said
    # The number was mapped indeed: saying otherwise would have been a lie.
    status = await bot.post(bot.activity("status"))
    assert status.status_code == 201 and number in str(bot.connector.received[-1]["body"])
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("activity ")][:1]
    assert "outcome=failed" in line
