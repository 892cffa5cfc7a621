"""Notices to the channel that lost a number, over real HTTP: the whole app (create_app) with
production auth, the sandbox and the Bot Framework stand-ins (tests/test_bot_http.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from app import SERVICES
from bot.audit import tenant_key
from bot.branding import Brand
from bot.conversation import Person
from bot.notices import Notices, NumberLeft
from bot.storage.models import Link
from cards import notices
from cards.elements import CARD_SIZE_LIMIT, card_size
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate, MappingCreate
from contextsms.phone import national_format
from standins.graph import Member
from tests.conftest import fresh_number
from tests.test_bot_http import GENERAL, TENANT, Bot, Graph, wait_for

# Fixtures, by name.
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph
from tests.test_bot_http import identity as identity

SALES = "19:sales@thread.tacv2"  # the team's other channel, as the connector stand-in lists it


def in_sales(bot: Bot, text: str, **changes: Any) -> dict[str, Any]:
    """A message in the team's Sales channel, in a thread of its own."""
    activity = bot.activity(text, **changes)
    activity["conversation"] = {**activity["conversation"], "id": f"{SALES};messageid=2"}
    activity["channelData"] = {**activity["channelData"], "teamsChannelId": SALES,
                               "channel": {"id": SALES, "name": "Sales"}}  # fmt: skip
    return activity


def click(bot: Bot, activity: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    invoke = {**activity, "type": "invoke", "name": "adaptiveCard/action",
              "replyToId": "activity-1", "id": f"{activity['id']}-click",
              "value": {"action": {"type": "Action.Execute", "verb": action["verb"],
                                   "data": action["data"]}}}  # fmt: skip
    del invoke["text"]
    return invoke


async def mapped_in_general(bot: Bot, number: str) -> None:
    """`number` mapped by a message in General, whose reference the bot then keeps."""
    assert (await bot.post(bot.activity(f"map {number} Desk"))).status_code == 201
    assert "Number mapped" in str(bot.connector.cards()[-1])
    await wait_until_kept(bot, GENERAL)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def wait_until_kept(bot: Bot, conversation: str) -> None:
    async def kept() -> bool:
        return await bot.storage.reference(conversation) is not None

    await until(kept)


async def move_to_sales(bot: Bot, number: str) -> str:
    """In Sales, map `number` (mapped in General), then click "Move it here"; the card shown."""
    message = in_sales(bot, f"map {number}")
    assert (await bot.post(message)).status_code == 201
    taken = bot.connector.cards()[-1]
    assert "Already mapped to another channel" in str(taken)
    move = next(a for a in taken["actions"] if a["title"] == "Move it here")
    answer = (await bot.post(click(bot, message, move))).json()
    return str(answer["value"])


def notices_in(bot: Bot, conversation: str) -> list[dict[str, Any]]:
    """New messages (not replies, not updates) the bot posted in `conversation`."""
    path = f"/v3/conversations/{conversation}/activities"
    return [item for item in bot.connector.received
            if item["method"] == "POST" and item["path"] == path]  # fmt: skip


async def test_the_channel_that_lost_a_number_is_told_where_it_went(
    bot: Bot, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    number = fresh_number()
    await mapped_in_general(bot, number)
    assert notices_in(bot, GENERAL) == []

    moved = await move_to_sales(bot, number)
    assert "Number moved here" in moved

    await wait_for(lambda: notices_in(bot, GENERAL) != [])
    [notice] = notices_in(bot, GENERAL)
    card = str(notice["body"]["attachments"][0]["content"])
    assert number in card and national_format(number) in card
    assert "Sales" in card and "Changed by Alex" in card
    # A new message in General, as the bot: not a reply to the message it was kept from.
    assert notice["body"].get("replyToId") is None
    assert notice["body"]["conversation"]["id"] == GENERAL and notice["tenant"] == TENANT
    assert notice["authorization"].startswith("Bearer outbound-")
    mapped = await client.list_mappings(enterprise.enterprise_id)
    assert [m.messaging_app_id for m in mapped if m.phone_number == number] == [SALES]


async def test_a_removed_bot_is_not_told_and_its_reference_is_dropped(
    bot: Bot, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    number = fresh_number()
    await mapped_in_general(bot, number)
    bot.connector.removed_from.add(GENERAL)  # the bot was removed from the team

    assert "Number moved here" in await move_to_sales(bot, number)

    await wait_for(lambda: any(c == GENERAL and s == 403 for c, _, s in bot.connector.answered))

    async def dropped() -> bool:
        return await bot.storage.reference(GENERAL) is None

    await until(dropped)
    # One refused post, and no "something went wrong" tried after it.
    assert [s for c, _, s in bot.connector.answered if c == GENERAL and s == 403] == [403]
    assert notices_in(bot, GENERAL) == []
    # The move stands.
    mapped = await client.list_mappings(enterprise.enterprise_id)
    assert [m.messaging_app_id for m in mapped if m.phone_number == number] == [SALES]
    # Sales was not removed: its reference stays.
    assert await bot.storage.reference(SALES) is not None


async def test_without_a_reference_the_move_works_and_the_log_says_skipped(
    bot: Bot, enterprise: Enterprise, client: ContextSMSClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.notices")
    number = fresh_number()
    await mapped_in_general(bot, number)
    await bot.storage.remove_reference(GENERAL)  # as for a channel mapped before references

    assert "Number moved here" in await move_to_sales(bot, number)

    await wait_for(lambda: any(r.getMessage().startswith("notice ") for r in caplog.records))
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("notice ")]
    assert "outcome=skipped" in line and "no reference" in line
    digits = number.lstrip("+")
    assert digits[-7:] not in line and "Alex" not in line and "Sales" not in line
    assert notices_in(bot, GENERAL) == []
    mapped = await client.list_mappings(enterprise.enterprise_id)
    assert [m.messaging_app_id for m in mapped if m.phone_number == number] == [SALES]


async def test_a_channel_keeps_its_reference_from_a_message_once(bot: Bot) -> None:
    assert await bot.storage.reference(SALES) is None
    assert (await bot.post(in_sales(bot, "help"))).status_code == 201
    await wait_until_kept(bot, SALES)
    kept = await bot.storage.reference(SALES)
    assert kept is not None and (kept.tenant_id, kept.channel_id) == (TENANT, SALES)
    assert kept.reference["conversation"]["id"] == SALES  # the channel, not the thread

    # Once per process: dropped now, a second message does not write it again.
    await bot.storage.remove_reference(SALES)
    assert (await bot.post(in_sales(bot, "help"))).status_code == 201
    assert await bot.storage.reference(SALES) is None


async def test_an_activity_without_a_tenant_keeps_no_reference(bot: Bot) -> None:
    activity = in_sales(bot, "help")
    del activity["channelData"]["tenant"]
    del activity["conversation"]["tenantId"]
    assert (await bot.post(activity)).status_code == 201
    assert "does not say which organization" in str(bot.connector.cards()[-1])
    assert await bot.storage.reference(SALES) is None


PERSON = Person("c0c0c0c0-0000-4000-8000-0000000000c1", "Casey Jones")


def left(to_channel: str | None, to_label: str | None) -> NumberLeft:
    return NumberLeft(
        tenant_id=TENANT, enterprise_id="E1", numbers=("+15559876543",), from_channel=GENERAL,
        to_channel=to_channel, to_label=to_label, by=PERSON,
    )  # fmt: skip


def test_the_notice_names_the_person_only_in_their_own_organization() -> None:
    ours = str(notices.number_left(left(SALES, "Sales"), Brand(), same_organization=True))
    assert "Casey Jones" in ours and "(555) 987-6543 (+15559876543)" in ours
    theirs = str(notices.number_left(left(SALES, "Sales"), Brand(), same_organization=False))
    assert "Casey Jones" not in theirs and "someone in another organization" in theirs


def test_an_unmapped_number_s_notice_says_so_in_the_brand() -> None:
    card = notices.number_left(left(None, None), Brand(product="Acme SMS"), same_organization=True)
    shown = str(card)
    assert "unmapped" in shown and "no longer arrive in this channel" in shown
    assert "instead of this channel" not in shown


def test_a_channel_name_is_shown_as_text_not_markup() -> None:
    card = notices.number_left(
        left(SALES, "[Reset](https://evil.example.com)"), Brand(), same_organization=True
    )
    assert "[Reset](https://evil.example.com)" not in str(card)


async def test_a_clean_shutdown_still_sends_the_notice_under_way(bot: Bot) -> None:
    number = fresh_number()
    await mapped_in_general(bot, number)
    message = in_sales(bot, f"map {number}")
    assert (await bot.post(message)).status_code == 201
    move = next(a for a in bot.connector.cards()[-1]["actions"] if a["title"] == "Move it here")
    bot.connector.throttle_next(1, retry_after=1)  # the notice waits a second to be sent
    answer = (await bot.post(click(bot, message, move))).json()
    assert "Number moved here" in str(answer["value"])
    await bot.runner.cleanup()  # as on SIGTERM: the notice gets its grace
    [notice] = notices_in(bot, GENERAL)
    assert number in str(notice["body"])


# Another organization: its own tenant and team, Mallory its owner.
OTHER_TENANT = "bbbbbbbb-0000-4000-8000-00000000000b"
OTHER_TEAM = "19:other-team@thread.tacv2"
MALLORY = Member("0d0d0d0d-0000-4000-8000-0000000000d1", "Mallory", ("owner",))


def in_other_organization(bot: Bot, graph: Graph, text: str) -> dict[str, Any]:
    """A message from Mallory in the General channel of the other organization's team."""
    graph.stand_in.set_team(bot.connector.group_of(OTHER_TEAM), OTHER_TENANT, [MALLORY])
    activity = bot.activity(text)
    activity["from"] = {"id": "29:mallory", "name": "Mallory", "aadObjectId": MALLORY.user_id}
    activity["conversation"] = {"id": f"{OTHER_TEAM};messageid=3", "conversationType": "channel",
                                "tenantId": OTHER_TENANT}  # fmt: skip
    activity["channelData"] = {"teamsChannelId": OTHER_TEAM, "teamsTeamId": OTHER_TEAM,
                               "channel": {"id": OTHER_TEAM, "name": None},
                               "team": {"id": OTHER_TEAM},
                               "tenant": {"id": OTHER_TENANT}}  # fmt: skip
    return activity


def notice_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("notice ")]


async def another_enterprise(client: ContextSMSClient) -> str:
    created = await client.create_enterprise(
        EnterpriseCreate(
            name="Other Org",
            contact="M",
            number=fresh_number(),
            email="c@example.com",  # a paying one
        )
    )
    return created.enterprise_id


async def test_another_enterprise_s_change_is_not_told_in_our_channel(
    bot: Bot, graph: Graph, enterprise: Enterprise, client: ContextSMSClient,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, logger="bot.notices")
    assert (await bot.post(bot.activity("help"))).status_code == 201
    await wait_until_kept(bot, GENERAL)
    # The other organization's enterprise has a mapping that names our General as its channel
    # (ContextSMS takes any id); Mallory moves it to her own channel.
    other = await another_enterprise(client)
    await bot.app[SERVICES].tenancy.link_from_settings(OTHER_TENANT, other)
    number = fresh_number()
    await client.add_mapping(other, MappingCreate(phone_number=number, messaging_app_id=GENERAL))

    assert (await bot.post(in_other_organization(bot, graph, f"remap {number}"))).status_code == 201
    assert "Number moved here" in str(bot.connector.cards()[-1])

    await wait_for(lambda: notice_lines(caplog) != [])
    [line] = notice_lines(caplog)
    assert "outcome=skipped" in line and "other_enterprise" in line
    assert notices_in(bot, GENERAL) == []  # our General is not told of another's numbers
    mapped = await client.list_mappings(other)
    assert [m.messaging_app_id for m in mapped if m.phone_number == number] == [OTHER_TEAM]


async def test_a_team_s_own_link_decides_which_enterprise_s_notices_it_gets(
    bot: Bot, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    # A second team of our tenant, linked to an enterprise of its own: its link wins over the
    # tenant's, as it does for what a message there acts on.
    team = "19:second-team@thread.tacv2"
    other = await another_enterprise(client)
    await bot.storage.put_link(
        Link(tenant_key(TENANT), team, other, datetime.now(UTC), "a0a0a0a0-test")
    )
    message = bot.activity("help")
    message["conversation"] = {**message["conversation"], "id": f"{team};messageid=4"}
    message["channelData"] = {**message["channelData"], "teamsChannelId": team,
                              "teamsTeamId": team, "channel": {"id": team, "name": None},
                              "team": {"id": team}}  # fmt: skip
    assert (await bot.post(message)).status_code == 201
    await wait_until_kept(bot, team)
    sender: Notices = bot.app[SERVICES].teams_bot.bot.notices

    def left_from(enterprise_id: str, number: str) -> NumberLeft:
        return NumberLeft(
            tenant_id=TENANT, enterprise_id=enterprise_id, numbers=(number,), from_channel=team,
            to_channel=SALES, to_label="Sales", by=PERSON,
        )  # fmt: skip

    tenants, teams = fresh_number(), fresh_number()
    sender.number_left(left_from(enterprise.enterprise_id, tenants), Brand())  # the tenant's
    sender.number_left(left_from(other, teams), Brand())  # the team's
    await wait_for(lambda: notices_in(bot, team) != [])
    await asyncio.sleep(0.5)  # time for a second post, were one sent
    [told] = notices_in(bot, team)
    assert teams in str(told["body"]) and tenants not in str(told["body"])


async def test_another_organization_is_told_neither_our_channel_nor_who(
    bot: Bot, graph: Graph, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    # Both organizations act on the same enterprise; the number was in the other's channel.
    await bot.app[SERVICES].tenancy.link_from_settings(OTHER_TENANT, enterprise.enterprise_id)
    assert (await bot.post(in_other_organization(bot, graph, "help"))).status_code == 201
    await wait_until_kept(bot, OTHER_TEAM)
    number = fresh_number()
    await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id=OTHER_TEAM)
    )
    await bot.post(bot.activity("help"))  # our General, so that the move has a channel to name
    assert "Number moved here" in await move_to_sales(bot, number)

    await wait_for(lambda: notices_in(bot, OTHER_TEAM) != [])
    [notice] = notices_in(bot, OTHER_TEAM)
    told = str(notice["body"]["attachments"][0]["content"])
    assert number in told and "a channel of another organization" in told
    assert "someone in another organization" in told
    assert "Sales" not in told and "Alex" not in told


def test_a_notice_lists_several_numbers_and_counts_the_rest_under_28_kb() -> None:
    numbers = tuple(f"+1555{i:07d}" for i in range(500))
    many = NumberLeft(
        tenant_id=TENANT, enterprise_id="E1", numbers=numbers, from_channel=GENERAL,
        to_channel=SALES, to_label="🦄" * 100, by=Person(PERSON.object_id, "🦄" * 100),
    )  # fmt: skip
    card = notices.number_left(many, Brand(logo_url="https://example.com/" + "l" * 1500),
                               same_organization=True)  # fmt: skip
    shown = str(card)
    assert card_size(card) < CARD_SIZE_LIMIT
    assert "500 numbers moved" in shown
    listed = notices.NUMBERS_SHOWN
    assert "(555) 000-0000 (+15550000000)" in shown
    assert number_shown(numbers[listed - 1], shown) and not number_shown(numbers[listed], shown)
    assert f"and {500 - listed} more" in shown

    unmapped = notices.number_left(
        NumberLeft(tenant_id=TENANT, enterprise_id="E1", numbers=numbers[:3],
                   from_channel=GENERAL, to_channel=None, to_label=None, by=None),
        Brand(), same_organization=True,
    )  # fmt: skip
    three = str(unmapped)
    assert "3 numbers unmapped" in three and "more" not in three
    assert all(number_shown(n, three) for n in numbers[:3])


def number_shown(number: str, shown: str) -> bool:
    return f"({number})" in shown
