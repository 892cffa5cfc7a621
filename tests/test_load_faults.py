"""Faults under load, as the people behind the requests see them: forged requests refused while
real ones are served, two organizations at once each seeing only its own numbers, and
ContextSMS slow, unreachable, failing or throttling while people map and unmap: everyone is
answered within Teams' limits, and what the cards finally say is what ContextSMS holds.

The whole app over real HTTP with production auth (tests/test_bot_http.py), many requests at
a time, each in a channel of its own: the bot keeps to Teams' 60 posts in 30 s per
conversation (bot/throttle.py), which one channel would measure instead of the bot."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import pytest

from app import SERVICES
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate, MappingCreate
from sandbox.threaded import RunningSandbox
from standins.botframework import Connector, Identity, new_key
from standins.graph import Member
from tests.conftest import fresh_number
from tests.test_bot_http import APP_ID, GENERAL, OWNER, TENANT, Bot, Graph, serve, settings_for

# The fixtures: the bot served over HTTP against the stand-ins and the sandbox.
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph
from tests.test_bot_http import identity as identity

CONCURRENCY = 16
T = TypeVar("T")
# Teams gives up on a card action's answer after 5 s and on a message's after 15 s.
ACTION_LIMIT = 5.0
MESSAGE_LIMIT = 15.0
ADD = "POST /api/v2/mapping/add/{enterpriseId}"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"

_channels = itertools.count(1)


def new_channel(prefix: str = "load") -> str:
    return f"19:{prefix}-{next(_channels)}@thread.tacv2"


@dataclass(frozen=True)
class Org:
    """A tenant as its people's activities name it: its team (General's id), an owner."""

    tenant: str
    team: str
    owner: Member


ORG_A = Org(TENANT, GENERAL, OWNER)
ORG_B = Org(
    "bbbbbbbb-0000-4000-8000-00000000000b",
    "19:b-general@thread.tacv2",
    Member("0b0b0b0b-0000-4000-8000-0000000000b1", "Bea", ("owner",)),
)


def said(bot: Bot, text: str, channel: str, org: Org = ORG_A) -> dict[str, Any]:
    """A message typed in `channel` of `org`'s team, mentioning the bot."""
    activity = bot.activity(text)
    activity["from"] = {"id": f"29:{org.owner.display_name}", "name": org.owner.display_name,
                        "aadObjectId": org.owner.user_id}  # fmt: skip
    activity["conversation"] = {"id": f"{channel};messageid=1", "conversationType": "channel",
                                "tenantId": org.tenant}  # fmt: skip
    activity["channelData"] = {"teamsChannelId": channel, "teamsTeamId": org.team,
                               "channel": {"id": channel, "name": "Load"},
                               "team": {"id": org.team}, "tenant": {"id": org.tenant}}  # fmt: skip
    return activity


def clicked(bot: Bot, button: dict[str, Any], channel: str, card_id: str) -> dict[str, Any]:
    """A click of `button` on the card `card_id` in `channel`."""
    invoke = said(bot, "", channel)
    del invoke["text"]
    invoke.update(type="invoke", name="adaptiveCard/action", replyToId=card_id,
                  value={"action": {"type": "Action.Execute", "verb": button["verb"],
                                    "data": button["data"]}})  # fmt: skip
    return invoke


@dataclass
class Timed:
    response: httpx.Response
    seconds: float


async def timed(request: Awaitable[httpx.Response]) -> Timed:
    started = time.monotonic()
    response = await request
    return Timed(response, time.monotonic() - started)


Job = Callable[[], Awaitable[Timed]]


def posting(bot: Bot, activity: dict[str, Any],
            forged: Callable[[], str | None] | None = None) -> Job:  # fmt: skip
    """A job that posts `activity` with a valid token made when it is sent (or with the
    Authorization `forged` makes, none when that is None), and times its answer."""
    if forged is None:
        return lambda: timed(bot.post(activity))

    def send() -> Awaitable[Timed]:
        header = forged()
        headers = {"Authorization": header} if header else {}
        return timed(bot.http.post(f"{bot.url}/api/messages", json=activity, headers=headers))

    return send


async def at_once(jobs: list[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run `jobs`, CONCURRENCY at a time, and return their results in order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


def in_conversation(connector: Connector, channel: str) -> list[dict[str, Any]]:
    return [item for item in connector.received if item["conversation"] == channel]


def card_of(item: dict[str, Any]) -> str:
    """What a post or put shows: its card (or its text), as one string."""
    body = item["body"]
    cards = [a["content"] for a in body.get("attachments") or [] if a["contentType"] == CARD_TYPE]
    return json.dumps(cards or body.get("text"), ensure_ascii=False)


async def adds(bot: Bot, sandbox: RunningSandbox) -> int:
    stats = (await bot.http.get(f"{sandbox.base_url}/_sandbox/stats")).json()
    count: int = stats["requests"].get(ADD, 0)
    return count


# -- 1. forged requests among real ones ------------------------------------------------------


async def test_forged_requests_are_refused_while_real_ones_are_served(
    bot: Bot, sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    claims = bot.identity.claims(APP_ID, bot.connector.url)
    _, stranger_key = new_key()
    now = int(time.time())
    forged: list[Callable[[], str | None]] = [
        lambda: None,  # no Authorization at all
        lambda: "Bearer not.a.jwt",
        lambda: f"Basic {bot.token()}",
        lambda: "Bearer " + jwt.encode(claims, key=None, algorithm="none"),  # type: ignore[arg-type]
        lambda: f"Bearer {bot.identity.sign(claims, key=stranger_key)}",  # a key not published
        lambda: f"Bearer {bot.token(aud='another-bot')}",
        lambda: f"Bearer {bot.token(iss='https://evil.example.com')}",
        lambda: f"Bearer {bot.token(exp=now - 600, nbf=now - 4000)}",
        lambda: f"Bearer {bot.token(serviceurl='https://attacker.example.com/')}",
    ]
    real = [new_channel() for _ in range(48)]
    fake = [(new_channel(), fresh_number(), forged[i % len(forged)]) for i in range(48)]

    jobs = [("real", posting(bot, said(bot, "status" if i % 2 else "help", channel)))
            for i, channel in enumerate(real)]  # fmt: skip
    jobs += [("fake", posting(bot, said(bot, f"map {number} Desk", channel), header))
             for channel, number, header in fake]  # fmt: skip
    random.Random(10).shuffle(jobs)
    adds_before = await adds(bot, sandbox)
    answers = await at_once([job for _, job in jobs])

    kinds = [kind for kind, _ in jobs]
    served = [a.response.status_code for k, a in zip(kinds, answers, strict=True) if k == "real"]
    refused = [a.response for k, a in zip(kinds, answers, strict=True) if k == "fake"]
    assert served == [201] * len(real)
    assert [r.status_code for r in refused] == [401] * len(fake)
    assert all(r.json() == {"error": "unauthorized"} for r in refused)
    # Each real message got its one card in its channel; nothing was posted for a forged one.
    for channel in real:
        [reply] = in_conversation(bot.connector, channel)
        assert "AdaptiveCard" in card_of(reply)
    assert {item["conversation"] for item in bot.connector.received} == set(real)
    assert await adds(bot, sandbox) == adds_before
    mapped = {m.phone_number for m in await client.list_mappings(enterprise.enterprise_id)}
    assert not mapped & {number for _, number, _ in fake}


# -- 2. two organizations at once -------------------------------------------------------------


async def test_two_organizations_at_once_each_see_only_their_own_numbers(
    bot: Bot, sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise,
    graph: Graph,
) -> None:  # fmt: skip
    created = EnterpriseCreate(
        name="Other Clinic", contact="C", number=fresh_number(), email="c@example.com"
    )
    other = await client.create_enterprise(created)
    graph.stand_in.set_team(bot.connector.group_of(ORG_B.team), ORG_B.tenant, [ORG_B.owner])
    await bot.app[SERVICES].tenancy.link_from_settings(ORG_B.tenant, other.enterprise_id)
    enterprises = {ORG_A: enterprise.enterprise_id, ORG_B: other.enterprise_id}
    held: dict[Org, set[str]] = {ORG_A: set(), ORG_B: set()}
    for org, enterprise_id in enterprises.items():
        for _ in range(3):
            kept = fresh_number()
            mapping = MappingCreate(phone_number=kept, messaging_app_id=new_channel("held"))
            await client.add_mapping(enterprise_id, mapping)
            held[org].add(kept)

    # Each organization lists its numbers and maps new ones, all at the same time.
    asked: list[tuple[Org, str, str | None]] = []  # (org, channel, number mapped)
    for i in range(40):
        asked.append(((ORG_A, ORG_B)[i % 2], new_channel(), fresh_number() if i % 5 < 2 else None))
    answers = await at_once([
        posting(bot, said(bot, f"map {number}" if number else "list", channel, org))
        for org, channel, number in asked
    ])  # fmt: skip
    assert [a.response.status_code for a in answers] == [201] * len(asked)

    mapped_now = {org: {n for o, _, n in asked if o is org and n} for org in (ORG_A, ORG_B)}
    for org, channel, number in asked:
        [reply] = in_conversation(bot.connector, channel)
        assert reply["tenant"] == org.tenant
        shown = card_of(reply)
        other_org = ORG_B if org is ORG_A else ORG_A
        theirs = held[other_org] | mapped_now[other_org]
        assert not [n for n in theirs if n in shown], (org.tenant, shown[:300])
        if number is None:  # a list: all of its own numbers held before
            assert all(n in shown for n in held[org]), shown[:300]
        else:
            assert "Number mapped" in shown and number in shown
    for org, enterprise_id in enterprises.items():
        numbers = {m.phone_number for m in await client.list_mappings(enterprise_id)}
        assert numbers == held[org] | mapped_now[org]


# -- 3. ContextSMS slow, down, failing, throttling --------------------------------------------

# A card's last word on a change, and what it means ContextSMS holds.
UNKNOWN = ("may or may not", "cannot tell whether", "can't tell whether")


def refused_port() -> int:
    """A loopback port nobody listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Unmapping:
    number: str
    channel: str
    card_id: str  # the "Unmap this number?" card
    button: dict[str, Any]


async def asked_to_unmap(bot: Bot, client: ContextSMSClient, enterprise: Enterprise,
                         count: int) -> list[Unmapping]:  # fmt: skip
    """`count` numbers mapped, each in a channel of its own, each with its "Unmap this
    number?" card posted there (while ContextSMS is well)."""
    numbers = [(fresh_number(), new_channel("held")) for _ in range(count)]
    for number, channel in numbers:
        mapping = MappingCreate(phone_number=number, messaging_app_id=channel)
        await client.add_mapping(enterprise.enterprise_id, mapping)
    await at_once([posting(bot, said(bot, f"unmap {n}", c)) for n, c in numbers])
    asks = []
    for number, channel in numbers:
        [ask] = in_conversation(bot.connector, channel)
        card = ask["body"]["attachments"][0]["content"]
        assert "Unmap this number?" in json.dumps(card)
        button = next(a for a in card["actions"] if a["title"] == "Unmap")
        asks.append(Unmapping(number, channel, f"activity-{bot.connector.received.index(ask) + 1}",
                              button))  # fmt: skip
    return asks


def fault_settings(sandbox: RunningSandbox, identity: Identity, enterprise: Enterprise,
                   graph: Graph, storage: Path, base_url: str | None = None) -> Any:  # fmt: skip
    """The bot with short budgets (half a second for a click, under one for a message) and a
    client that gives up soon, so that each fault shows within seconds."""
    settings = settings_for(
        sandbox, identity, enterprise_id=enterprise.enterprise_id,
        bot_storage_path=str(storage), bot_graph_url=graph.stand_in.base_url,
        bot_action_budget_seconds=0.5, bot_message_budget_seconds=0.8,
    )  # fmt: skip
    account = settings.contextsms.model_copy(update={
        "max_retries": 2, "backoff_base_seconds": 0.05, "backoff_max_seconds": 0.3,
        "timeout_seconds": 4.0, "connect_timeout_seconds": 1.0,
        **({"base_url": base_url} if base_url else {}),
    })  # fmt: skip
    return replace(settings, contextsms=account)


FAULTS: dict[str, dict[str, Any]] = {
    # Every answer 1.2 s late: beyond both budgets, within the client's timeout.
    "slow": {"latency_ms": 1200},
    "500 and 503 for all": {"error_rate": 1.0, "error_statuses": [500, 503], "path_prefix": "/api"},
    "429 with Retry-After": {"script": [{"path_prefix": "/api/v2/", "status": 429,
                                         "retry_after": "1"}] * 16},
}  # fmt: skip


async def under_fault(bot: Bot, maps: list[tuple[str, str]],
                      unmaps: list[Unmapping]) -> tuple[list[str], list[Timed]]:  # fmt: skip
    """Each of `maps` typed (`map ‹number›` in its channel) and each of `unmaps` clicked, all
    at once: the HTTP answers, each within Teams' limits, and the card each person finally
    sees, once every "Working on it" has been replaced by how it ended."""
    connector, since = bot.connector, len(bot.connector.received)
    jobs = [posting(bot, said(bot, f"map {number}", channel)) for number, channel in maps]
    jobs += [posting(bot, clicked(bot, u.button, u.channel, u.card_id)) for u in unmaps]
    answers = await at_once(jobs)
    messages, clicks = answers[: len(maps)], answers[len(maps) :]
    for answer in messages:
        assert answer.response.status_code == 201 and answer.seconds < MESSAGE_LIMIT
    for answer in clicks:
        assert answer.response.status_code == 200 and answer.seconds < ACTION_LIMIT
        assert answer.response.json()["type"] == CARD_TYPE

    def last_word(channel: str, answer: httpx.Response | None = None) -> str:
        """What the person in `channel` sees last: the latest post or update there since the
        fault began, else the click's answer."""
        seen = [i for i in connector.received[since:] if i["conversation"] == channel]
        if seen:
            return card_of(seen[-1])
        assert answer is not None, f"nothing was posted in {channel}"
        return json.dumps(answer.json()["value"], ensure_ascii=False)

    def finals() -> list[str]:
        return [last_word(c) for _, c in maps] + [
            last_word(u.channel, a.response) for u, a in zip(unmaps, clicks, strict=True)
        ]

    deadline = time.monotonic() + 25
    while any("Working on it" in shown for shown in finals()):
        assert time.monotonic() < deadline, [s[:200] for s in finals()]
        await asyncio.sleep(0.2)
    return finals(), clicks


@pytest.mark.parametrize("fault", [*FAULTS, "connection refused"])
async def test_with_contextsms_in_trouble_everyone_is_answered_in_time_and_told_the_truth(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise,
    identity: Identity, connector: Connector, graph: Graph, tmp_path: Path, fault: str,
) -> None:  # fmt: skip
    storage = tmp_path / "bot.db"
    maps = [(fresh_number(), new_channel("map")) for _ in range(8)]
    settings = fault_settings(sandbox, identity, enterprise, graph, storage)
    async with serve(sandbox, enterprise, identity, connector, graph, storage,
                     settings=settings) as bot:  # fmt: skip
        unmaps = await asked_to_unmap(bot, client, enterprise, 8)
        if fault in FAULTS:  # the bot logged in and warm, as in the middle of a day
            sandbox.faults(**FAULTS[fault])
            shown, clicks = await under_fault(bot, maps, unmaps)
    if fault == "connection refused":  # the same deployment restarted while it is down
        down = f"http://127.0.0.1:{refused_port()}/api/v2"
        settings = fault_settings(sandbox, identity, enterprise, graph, storage, down)
        async with serve(sandbox, enterprise, identity, connector, graph, storage,
                         settings=settings) as bot:  # fmt: skip
            shown, clicks = await under_fault(bot, maps, unmaps)
    if fault == "slow":  # each click needs ContextSMS, slower than the click's budget
        answered = [json.dumps(c.response.json()["value"]) for c in clicks]
        assert all("Working on it" in card for card in answered)

    sandbox.reset()
    held = {m.phone_number: m.messaging_app_id
            for m in await client.list_mappings(enterprise.enterprise_id)}  # fmt: skip
    for (number, channel), card in zip(maps, shown[: len(maps)], strict=True):
        assert "Traceback" not in card
        if any(phrase in card for phrase in UNKNOWN):
            continue  # either is true
        if "Number mapped" in card:
            assert held.get(number) == channel, card[:300]
        else:
            assert "othing was changed" in card, card[:300]
            assert number not in held, card[:300]
    for unmap, card in zip(unmaps, shown[len(maps) :], strict=True):
        assert "Traceback" not in card
        if any(phrase in card for phrase in UNKNOWN):
            continue
        if "Number unmapped" in card:
            assert unmap.number not in held, card[:300]
        else:
            assert "othing was changed" in card, card[:300]
            assert held.get(unmap.number) == unmap.channel, card[:300]
