"""The fast path to and from Teams, over real HTTP against the stand-ins: replies, updates and
notices reach the Bot Connector as Teams' activity JSON (written with `json`, posted on the
adapter's own session), its refusals are retried as before, and a kept inbound token is never
accepted once it has expired or when its signature is not the Bot Framework's."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from app import SERVICES
from bot.adapter import NotInConversation, RetryingCloudAdapter
from cards.elements import card, text
from contextsms.retry import RetryPolicy
from sandbox.threaded import RunningSandbox
from standins.botframework import new_key
from tests.conftest import fresh_number
from tests.test_bot_http import APP_ID, GENERAL, TENANT, Bot

# Fixtures, by name.
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph
from tests.test_bot_http import identity as identity

CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def adapter_of(bot: Bot) -> RetryingCloudAdapter:
    adapter: RetryingCloudAdapter = bot.app[SERVICES].adapter
    return adapter


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


# -- what reaches the connector --------------------------------------------------------------


async def test_a_reply_is_a_teams_activity_in_the_thread_it_answers(bot: Bot) -> None:
    message = bot.activity("help")
    assert (await bot.post(message)).status_code == 201
    [reply] = bot.connector.received
    body = reply["body"]
    assert reply["method"] == "POST"
    assert (
        reply["path"]
        == f"/v3/conversations/{message['conversation']['id']}/activities/" + (message["id"])
    )
    assert reply["authorization"] == f"Bearer outbound-{bot.identity.token_requests}"
    assert body["type"] == "message"
    assert body["replyToId"] == message["id"]
    assert body["conversation"]["id"] == message["conversation"]["id"]
    assert body["conversation"]["tenantId"] == TENANT
    assert body["from"] == message["recipient"]  # the bot speaks
    assert body["recipient"]["id"] == message["from"]["id"]
    assert body["channelId"] == "msteams" and body["serviceUrl"] == bot.connector.url
    [attachment] = body["attachments"]
    assert attachment["contentType"] == CARD_TYPE
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert "map ‹number› [name]" in str(attachment["content"])
    assert "id" not in body  # Teams gives the new message its id


async def test_a_card_finished_late_replaces_the_working_card_in_place(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    teams_bot = bot.app[SERVICES].teams_bot
    teams_bot.message_budget = 0.3
    number = fresh_number()
    sandbox.faults(script=[{"path_prefix": "/api/v2/mapping/add", "delay_ms": 1500}])
    message = bot.activity(f"map {number} Desk")
    assert (await bot.post(message)).status_code == 201
    [working] = bot.connector.received
    assert "Working on it" in str(working["body"])
    await wait_for(lambda: len(bot.connector.received) == 2)
    update = bot.connector.received[1]
    assert update["method"] == "PUT"
    assert update["path"].endswith("/activities/activity-1")
    body = update["body"]
    assert body["id"] == "activity-1" and body["type"] == "message"
    assert body["conversation"]["id"] == message["conversation"]["id"]
    assert body["attachments"][0]["contentType"] == CARD_TYPE
    assert "Number mapped" in str(body["attachments"][0]["content"])
    assert number in str(body["attachments"][0]["content"])


async def test_a_notice_is_a_new_message_with_its_tenant(bot: Bot) -> None:
    assert (await bot.post(bot.activity("help"))).status_code == 201
    deadline = time.monotonic() + 5
    while (kept := await bot.storage.reference(GENERAL)) is None:
        assert time.monotonic() < deadline, "no reference kept"
        await asyncio.sleep(0.05)
    await adapter_of(bot).post_card(kept.reference, card([text("A note")]), APP_ID)
    notice = bot.connector.received[-1]
    assert notice["path"] == f"/v3/conversations/{GENERAL}/activities"
    body = notice["body"]
    assert "replyToId" not in body
    assert body["conversation"]["id"] == GENERAL
    assert body["channelData"] == {"tenant": {"id": TENANT}}
    assert notice["tenant"] == TENANT
    assert "A note" in str(body["attachments"][0]["content"])


async def test_a_notice_to_a_conversation_the_bot_left_says_so(bot: Bot) -> None:
    assert (await bot.post(bot.activity("help"))).status_code == 201
    deadline = time.monotonic() + 5
    while (kept := await bot.storage.reference(GENERAL)) is None:
        assert time.monotonic() < deadline, "no reference kept"
        await asyncio.sleep(0.05)
    bot.connector.removed_from.add(GENERAL)
    with pytest.raises(NotInConversation):
        await adapter_of(bot).post_card(kept.reference, card([text("A note")]), APP_ID)
    assert bot.connector.answered[-1][2] == 403
    assert len(bot.connector.received) == 1  # the help card only


# -- the connector's refusals ----------------------------------------------------------------


@pytest.mark.parametrize("status", [412, 429, 502, 504])
async def test_a_refused_reply_is_sent_again_and_arrives_once(bot: Bot, status: int) -> None:
    adapter_of(bot).retry = RetryPolicy(max_retries=4, base_delay=0.05, max_delay=0.2)
    bot.connector.throttle = [status, status]
    assert (await bot.post(bot.activity("help"))).status_code == 201
    assert [answer[2] for answer in bot.connector.answered] == [status, status, 200]
    assert len(bot.connector.received) == 1


async def test_retry_after_is_waited_for(bot: Bot) -> None:
    bot.connector.throttle_next(1, retry_after=1)
    assert (await bot.post(bot.activity("help"))).status_code == 201
    (_, refused_at, refused), (_, served_at, served) = bot.connector.answered
    assert (refused, served) == (429, 200)
    assert served_at - refused_at >= 0.9
    assert len(bot.connector.received) == 1


async def test_a_refusal_that_is_not_passing_is_not_retried(bot: Bot) -> None:
    bot.connector.throttle = [400]
    assert (await bot.post(bot.activity("help"))).status_code == 201
    # The help card once, refused; then the apology, which went through.
    assert [answer[2] for answer in bot.connector.answered] == [400, 200]
    [apology] = bot.connector.received
    assert "something went wrong" in apology["body"]["text"]


# -- inbound tokens kept -------------------------------------------------------------------


async def test_a_kept_token_is_refused_once_it_expires(bot: Bot) -> None:
    # Accepted for five minutes past its expiry (the clock skew allowed): two more seconds.
    token = bot.token(exp=int(time.time()) - 300 + 2, nbf=int(time.time()) - 60)
    assert (await bot.post(bot.activity("help"), token)).status_code == 201
    assert (await bot.post(bot.activity("help"), token)).status_code == 201
    await asyncio.sleep(3.2)
    refused = await bot.post(bot.activity("help"), token)
    assert refused.status_code == 401
    assert len(bot.connector.received) == 2


async def test_a_kept_tokens_claims_under_another_signature_are_refused(bot: Bot) -> None:
    claims = bot.identity.claims(APP_ID, bot.connector.url)
    token = bot.identity.sign(claims)
    assert (await bot.post(bot.activity("help"), token)).status_code == 201
    head, payload, signature = token.split(".")
    # The same header and claims, signed by someone else's key under the published key's id.
    forged = bot.identity.sign(claims, key=new_key()[1])
    assert forged.split(".")[:2] == [head, payload]
    # And the genuine signature with one byte changed.
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    for bad in (forged, f"{head}.{payload}.{flipped}"):
        assert (await bot.post(bot.activity("help"), bad)).status_code == 401
    assert len(bot.connector.received) == 1
    # The genuine token is still good.
    assert (await bot.post(bot.activity("help"), token)).status_code == 201
