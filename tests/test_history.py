"""The team's history: the latest changes (when, who, what, number, outcome) on a paged card,
for the team's owners and the operators; members are refused; 1,000 entries page under 28 KB."""

from __future__ import annotations

from bot.handlers import MappingBot
from bot.storage.models import AuditAction
from cards import CARD_SIZE_LIMIT, card_size
from tests.conftest import fresh_number
from tests.test_bot_behaviour import (
    GENERAL,
    MEMBER,
    NAMED,
    OPERATOR,
    SALES,
    TEAM,
    World,
    bot,
    click,
    in_channel,
    person,
    texts,
    world,
)
from tests.test_operator_chat import PRIVATE

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests


async def test_owners_see_the_teams_changes_and_members_are_refused(
    bot: MappingBot, world: World
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number} Desk", TEAM)
    await bot.on_message(in_channel(SALES, "Sales"), f"remap {number}", TEAM)
    card = await bot.on_message(in_channel(), "history", NAMED)
    shown = texts(card)
    assert "Latest changes in this team" in shown
    assert shown.index("**Moved**") < shown.index("**Mapped**")  # newest first
    assert "(555)" in shown and number in shown
    assert "by Olga Owner" in shown and "from General to Sales" in shown
    assert "{{DATE(" in shown

    refused = texts(await bot.on_message(in_channel(user=MEMBER), "history", TEAM))
    assert "Only an owner of this team can see this team's history" in refused
    assert number not in refused
    assert "Only an owner" in texts(await click(bot, card, "Settings", in_channel(user=MEMBER)))


async def test_an_operator_sees_a_teams_history_in_it_and_every_organization_in_private(
    bot: MappingBot, world: World
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    operator_in_team = in_channel(user=MEMBER)
    operator_in_team = type(operator_in_team)(
        operator_in_team.tenant_id, GENERAL, "General", GENERAL, OPERATOR
    )
    # An operator of another tenant is no operator here: refused like anyone not an owner.
    assert "Only an owner" in texts(await bot.on_message(operator_in_team, "history", TEAM))
    every = texts(await bot.on_message(PRIVATE, "history", TEAM))
    assert "Latest changes, every organization" in every and number in every
    assert "**Linked**" in every  # the start-up link of the tenant


async def test_a_thousand_changes_page_by_older_and_latest(bot: MappingBot, world: World) -> None:
    for i in range(1000):
        await world.audit.record(
            AuditAction.MAP, "ok" if i % 7 else "unknown", conversation=in_channel(),
            number=f"+1555{3_000_000 + i:07d}", after=GENERAL, request_id=f"req-{i}",
            by=person(MEMBER) if i % 2 else None,
        )  # fmt: skip
    first = await bot.on_message(in_channel(), "history", TEAM)
    seen = [first]
    for _ in range(3):
        seen.append(await click(bot, seen[-1], "Older"))
    for page in seen:
        assert card_size(page) < CARD_SIZE_LIMIT
    assert "+15553000999" in texts(seen[0]) and "+15553000990" in texts(seen[0])
    assert "+15553000989" not in texts(seen[0])
    assert "+15553000989" in texts(seen[1]) and "Page 2" in texts(seen[1])
    assert "+15553000960" in texts(seen[3]) and "+15553000959" not in texts(seen[3])
    assert "(unknown)" in texts(seen[0])  # the outcome, where it was not ok
    latest = await click(bot, seen[3], "Latest")
    assert texts(latest) == texts(first)
