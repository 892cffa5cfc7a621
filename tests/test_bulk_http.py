"""A 200-number list applied over real HTTP: the whole app with production auth against the
sandbox and the Bot Framework stand-ins. The click is answered at once, the card changes as the
run goes, the channel that lost numbers gets one notice, a person in that channel is answered in
time meanwhile, and every send the connector receives keeps within Teams' limits: per
conversation 7 a second and 60 in 30 seconds, per tenant 30 a second."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from contextsms import ContextSMSClient
from contextsms.models import Enterprise, MappingCreate
from sandbox.threaded import RunningSandbox
from standins.botframework import most_in_window
from tests.conftest import fresh_number
from tests.test_bot_http import GENERAL, Bot, wait_for

# Fixtures, by name.
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph
from tests.test_bot_http import identity as identity
from tests.test_notices import SALES, click, in_sales, wait_until_kept

LISTED = 200


def sent_to(bot: Bot, conversation: str) -> list[dict[str, Any]]:
    return [r for r in bot.connector.received if r["conversation"] == conversation]


async def test_a_200_number_list_keeps_within_teams_limits(
    bot: Bot, sandbox: RunningSandbox, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    eid = enterprise.enterprise_id
    elsewhere = [fresh_number() for _ in range(LISTED // 2)]
    for number in elsewhere:
        await client.add_mapping(eid, MappingCreate(phone_number=number, messaging_app_id=SALES))
    # Sales is where the bot can post: a message arrived there.
    assert (await bot.post(in_sales(bot, "status"))).status_code == 201
    await wait_until_kept(bot, SALES)
    listed = elsewhere + [fresh_number() for _ in range(LISTED // 2)]
    message = bot.activity("map\n" + "\n".join(listed))
    assert (await bot.post(message)).status_code == 201
    preview = bot.connector.cards()[-1]
    assert f"Map {LISTED} numbers to" in str(preview)
    apply = next(a for a in preview["actions"] if a["title"].startswith("Map 100 and move 100"))

    sandbox.faults(latency_ms=20)  # ContextSMS answering as a real service does
    started = time.monotonic()
    answer = await bot.post(click(bot, message, apply))
    assert answer.status_code == 200 and time.monotonic() - started < 5.0
    assert "Applying" in str(answer.json()["value"])

    # Meanwhile, someone in Sales asks for its numbers: answered within Teams' 15 s.
    await asyncio.sleep(0.5)
    asked = time.monotonic()
    assert (await bot.post(in_sales(bot, "status"))).status_code == 201
    assert time.monotonic() - asked < 15.0

    def updates() -> list[dict[str, Any]]:
        return [r for r in bot.connector.received
                if r["method"] == "PUT" and r["path"].endswith("/activity-1")]  # fmt: skip

    await wait_for(lambda: any("Done" in str(u["body"]) for u in updates()), timeout=120)
    sandbox.reset()
    mapped = {m.phone_number: m.messaging_app_id for m in await client.list_mappings(eid)}
    assert all(mapped.get(number) == GENERAL for number in listed)

    # One notice to Sales for all the numbers it lost (besides its two status answers).
    await wait_for(lambda: len(sent_to(bot, SALES)) >= 3, timeout=10)
    notices = [r for r in sent_to(bot, SALES) if "Numbers in" not in str(r["body"])]
    assert len(notices) == 1

    everything = bot.connector.times()
    for conversation in (GENERAL, SALES):
        times = bot.connector.times(conversation)
        assert most_in_window(times, 1.0) <= 7, conversation
        assert most_in_window(times, 30.0) <= 60, conversation
    assert most_in_window(everything, 1.0) <= 30
