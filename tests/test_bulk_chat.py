"""Bulk mapping in a channel, as people see it: `map` followed by a pasted list (plain text or
Teams' HTML form) or the form, a preview of what will happen to each number, and applying it
with the card updated in place, once however often it is clicked. Against the sandbox.

The card updater is the Teams edge (bot/teams.py gives the bot one that replaces the clicked
card): here it collects the cards it is given."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.actions import ActionContext, ActionSigner, card_action
from bot.branding import Brand
from bot.bulk import (
    STALE_AFTER,
    BulkEntry,
    BulkRow,
    BulkRun,
    RowKind,
    RowOutcome,
    RowResult,
    RunState,
)
from bot.conversation import Conversation, TeamDirectory
from bot.handlers import MappingBot
from bot.storage.models import AuditAction
from cards import CARD_SIZE_LIMIT, card_size
from cards.elements import Card
from cards.screens import Screens
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate, MappingCreate
from sandbox.threaded import RunningSandbox
from standins.graph import Member
from tests.conftest import fresh_number
from tests.support.cards_text import elements
from tests.test_bot_behaviour import (
    GENERAL,
    GROUP,
    MEMBER,
    NAMED,
    OWNER,
    SALES,
    TEAM,
    TENANT,
    World,
    bot,
    button,
    click,
    in_channel,
    texts,
    world,
)
from tests.test_never_lie import FAILED_LOOKUPS, served_then_failed
from tests.test_tenants import api_calls

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

MENTION = "<at>Test Bot</at>"
SECOND_OWNER = Member("0e0e0e0e-0000-4000-8000-0000000000e2", "Oscar Owner", ("owner",))
ADD = "POST /api/v2/mapping/add/{enterpriseId}"


@dataclass
class CardsSeen:
    """The Teams edge's card updater: every card the bot put in place of the clicked one."""

    cards: list[Card] = field(default_factory=list)

    async def update(self, card: dict[str, Any]) -> None:
        self.cards.append(card)


async def press(
    bot: MappingBot, card: Card, title: str, updater: CardsSeen | None = None,
    conversation: Conversation | None = None, directory: TeamDirectory = NAMED, **inputs: str,
) -> Card:  # fmt: skip
    """A click on the card's button, with the clicked card's updater as the edge gives it."""
    action = button(card, title)
    parsed = card_action(action["verb"], {**action["data"], **inputs})
    return await bot.on_action(conversation or in_channel(), parsed, directory, updater=updater)


async def finished(bot: MappingBot) -> None:
    """Wait for the runs under way (the bot's shutdown waits for them the same way)."""
    await bot.bulk.aclose(grace=120)


def counts(card: Card) -> dict[str, str]:
    """The card's counts, as its FactSets show them."""
    return {
        fact["title"]: fact["value"]
        for node in elements(card)
        if node.get("type") == "FactSet"
        for fact in node["facts"]
    }


def buttons(card: Card) -> list[str]:
    return [n["title"] for n in elements(card) if n.get("type") == "Action.Execute"]


def writes(sandbox: RunningSandbox) -> dict[str, int]:
    """The mapping changes ContextSMS received since the last reset."""
    return {
        route: n for route, n in api_calls(sandbox).items()
        if "mapping" in route and not route.startswith("GET")
    }  # fmt: skip


async def channel_of(client: ContextSMSClient, enterprise: Enterprise) -> dict[str, str]:
    """Each number of the enterprise and its channel, as ContextSMS has them."""
    mappings = await client.list_mappings(enterprise.enterprise_id)
    return {m.phone_number: m.messaging_app_id for m in mappings}


def national(number: str) -> str:
    return f"({number[2:5]}) {number[5:8]}-{number[8:]}"


@dataclass
class Scene:
    """Numbers in every state a list can meet: one here, one in Sales, one of another
    organization, two new ones."""

    here: str
    sales: str
    foreign: str
    new: tuple[str, str]

    def pasted(self) -> str:
        """A list as people paste it, with a line that is no number and a number twice."""
        first, second = self.new
        return "\n".join([
            self.here, f"{self.sales} Sales desk", self.foreign, f"{first} Front desk", "hello",
            first, national(second),
        ])  # fmt: skip


@pytest.fixture
async def scene(bot: MappingBot, client: ContextSMSClient, sandbox: RunningSandbox) -> Scene:
    here, sales, foreign = fresh_number(), fresh_number(), fresh_number()
    await bot.on_message(in_channel(), f"map {here}", TEAM)
    await bot.on_message(in_channel(SALES, "Sales"), f"map {sales}", TEAM)
    other = await client.create_enterprise(
        EnterpriseCreate(name="Other", contact="O", number=fresh_number(), email="o@example.com")
    )
    await client.add_mapping(
        other.enterprise_id, MappingCreate(phone_number=foreign, messaging_app_id="19:x")
    )
    sandbox.reset()
    return Scene(here, sales, foreign, (fresh_number(), fresh_number()))


PREVIEWED = {
    "New": "2", "Already here": "1", "In another channel": "1", "Another organization's": "1",
    "Cannot be used": "1", "Listed twice": "1",
}  # fmt: skip


async def test_a_pasted_list_shows_what_happens_to_each_number_and_changes_nothing(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, sandbox: RunningSandbox,
    scene: Scene,
) -> None:  # fmt: skip
    before = await channel_of(client, enterprise)
    card = await bot.on_message(in_channel(), f"{MENTION} map\n{scene.pasted()}", NAMED)
    shown = texts(card)
    assert "Map 7 numbers to General?" in shown
    assert counts(card) == PREVIEWED
    assert "Nothing has been changed yet" in shown
    assert f"Line 2: {national(scene.sales)} ({scene.sales}), Sales desk: now in **Sales**" in shown
    assert "Line 5: **hello**: it is not a number" in shown
    assert "the same number as line 4" in shown
    assert "mapped by another organization" in shown
    assert buttons(card)[:2] == ["Map 2 here", "Map 2 and move 1 here"]
    # Before, the first number was mapped and the other lines became its name.
    assert writes(sandbox) == {}
    assert await channel_of(client, enterprise) == before


async def test_the_html_form_of_a_message_gives_its_lines(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, scene: Scene
) -> None:
    lines = scene.pasted().split("\n")
    # Teams' plain text of a pasted list may come without its line breaks.
    text = f"{MENTION} map " + " ".join(lines)
    html = (
        '<div><div><at id="0">Test Bot</at>&nbsp;map</div>'
        + "".join(f"<div>{line.replace('&', '&amp;')}</div>" for line in lines[:4])
        + f"<p>{lines[4]}<br>{lines[5]}<br/>{lines[6].replace(' ', '&nbsp;')}</p></div>"
    )
    card = await bot.on_message(in_channel(), text, NAMED, html=html)
    assert counts(card) == PREVIEWED


async def test_a_list_typed_as_bullets_or_pasted_as_cells_is_a_list(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, sandbox: RunningSandbox
) -> None:
    """Teams sends a bulleted list as <ul><li>, cells pasted from Excel as a <table>; its text
    may be one line. Before, the first number was mapped with the rest of the list as its
    name."""
    a, b, c = fresh_number(), fresh_number(), fresh_number()
    html = (
        f'<div><p><at id="0">Test Bot</at> map</p><ul><li>{a} <b>Front <i>desk</i></b></li>'
        f"<li><span>{b}</span></li></ul><table><tr><td>{c}</td><td>X</td></tr></table></div>"
    )
    card = await bot.on_message(in_channel(), f"{MENTION} map {a} Front desk {b} {c} X", NAMED,
                                html=html)  # fmt: skip
    shown = texts(card)
    assert "Map 3 numbers to General?" in shown
    assert counts(card) == {"New": "3"}
    assert f"Line 1: {national(a)} ({a}), Front desk: will be mapped here" in shown
    assert f"Line 2: {national(b)} ({b}): will be mapped here" in shown
    assert f"Line 3: {national(c)} ({c}), X: will be mapped here" in shown
    assert writes(sandbox) == {}
    assert not {a, b, c} & set(await channel_of(client, enterprise))


async def test_applying_maps_the_new_numbers_and_updates_the_card_as_it_goes(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, sandbox: RunningSandbox,
    world: World, scene: Scene,
) -> None:  # fmt: skip
    preview = await bot.on_message(in_channel(), f"map\n{scene.pasted()}", NAMED)
    seen = CardsSeen()
    first = await press(bot, preview, "Map 2 here", seen)
    assert "Applying… 0 of 2" in texts(first)
    await finished(bot)
    final = seen.cards[-1]
    assert "Done" in texts(final)
    assert counts(final) == {"Skipped": "4", "Mapped here": "2", "Already here": "1"}
    mapped = await channel_of(client, enterprise)
    assert mapped[scene.new[0]] == GENERAL and mapped[scene.new[1]] == GENERAL
    assert mapped[scene.sales] == SALES  # not moved: that was not asked
    assert scene.foreign not in mapped
    assert writes(sandbox) == {ADD: 2}
    names = {m.phone_number: m.name for m in await client.list_mappings(enterprise.enterprise_id)}
    assert names[scene.new[0]] == "Front desk"
    entries = await world.entries(tenant_id=None)
    audited = {e.number for e in entries if e.action is AuditAction.MAP and e.outcome == "ok"}
    assert set(scene.new) <= audited

    # Clicked again, either button: the run as it is, and nothing applied twice.
    for title in ("Map 2 here", "Map 2 and move 1 here"):
        again = await press(bot, preview, title, seen)
        assert "Done" in texts(again) and counts(again) == counts(final)
    await finished(bot)
    assert writes(sandbox) == {ADD: 2}


async def test_map_and_move_moves_the_numbers_of_other_channels_here(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, scene: Scene
) -> None:
    preview = await bot.on_message(in_channel(), f"map\n{scene.pasted()}", NAMED)
    seen = CardsSeen()
    await press(bot, preview, "Map 2 and move 1 here", seen)
    await finished(bot)
    final = seen.cards[-1]
    assert counts(final) == {
        "Skipped": "3", "Mapped here": "2", "Moved here": "1", "Already here": "1"
    }  # fmt: skip
    assert "Sales desk: from **Sales**" in texts(final)
    assert (await channel_of(client, enterprise))[scene.sales] == GENERAL


async def test_two_clicks_at_once_apply_the_list_once(
    bot: MappingBot, sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    numbers = [fresh_number() for _ in range(5)]
    preview = await bot.on_message(in_channel(), "map\n" + "\n".join(numbers), NAMED)
    sandbox.reset()
    cards = await asyncio.gather(*(press(bot, preview, "Map 5 here", CardsSeen()) for _ in "ab"))
    await finished(bot)
    assert all("Applying" in texts(c) or "Done" in texts(c) for c in cards)
    assert writes(sandbox) == {ADD: 5}
    mapped = await channel_of(client, enterprise)
    assert all(mapped[n] == GENERAL for n in numbers)


async def test_without_an_updater_refresh_shows_the_result(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    preview = await bot.on_message(in_channel(), f"map\n{number}\n{number}", NAMED)
    progress = await press(bot, preview, "Map 1 here")
    assert "Applying… 0 of 1" in texts(progress)
    await finished(bot)
    done = await press(bot, progress, "Refresh")
    assert counts(done) == {"Skipped": "1", "Mapped here": "1"}
    assert (await channel_of(client, enterprise))[number] == GENERAL


async def test_the_form_previews_what_is_typed_in_it(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise, sandbox: RunningSandbox
) -> None:
    form = await press(bot, await bot.on_message(in_channel(), "map\n555-12\nhello", NAMED),
                       "Map other numbers")  # fmt: skip
    [box] = [n for n in elements(form) if n.get("type") == "Input.Text"]
    assert box["id"] == "numbers" and box["isMultiline"] is True
    assert button(form, "Preview")["associatedInputs"] == "auto"
    empty = await press(bot, form, "Preview", numbers="  \n ")
    assert "Paste at least one number" in texts(empty)
    numbers = [fresh_number(), fresh_number()]
    typed = f"{numbers[0]} [Desk](https://evil.example)\r\n\n{numbers[1]}"
    preview = await press(bot, form, "Preview", numbers=typed)
    assert counts(preview) == {"New": "2"}
    assert r"\[Desk\](https://evil.example)" in texts(preview)  # shown as written, no link
    seen = CardsSeen()
    await press(bot, preview, "Map 2 here", seen)
    await finished(bot)
    assert counts(seen.cards[-1]) == {"Mapped here": "2"}
    assert writes(sandbox) == {ADD: 2}


async def test_a_list_with_nothing_to_do_has_no_apply_button(
    bot: MappingBot, sandbox: RunningSandbox
) -> None:
    card = await bot.on_message(in_channel(), "map\nhello\n555-12", NAMED)
    assert counts(card) == {"Cannot be used": "2"}
    assert "There is nothing to map or move in this list" in texts(card)
    assert not [t for t in buttons(card) if t.startswith(("Map 0", "Move", "Map 2"))]
    assert writes(sandbox) == {}


async def test_too_long_a_list_is_refused_and_changes_nothing(
    bot: MappingBot, sandbox: RunningSandbox
) -> None:
    limit = bot.bulk.mapper.max_rows
    lines = "\n".join(f"+1555{i:07d}" for i in range(limit + 1))
    card = await bot.on_message(in_channel(), f"map\n{lines}", NAMED)
    assert "Too many numbers at once" in texts(card)
    assert f"The list has {limit + 1} lines; at most {limit}" in texts(card)
    assert "Nothing was changed" in texts(card)
    assert not [route for route in api_calls(sandbox) if "mapping" in route]  # not even read


async def test_a_member_may_not_map_a_list_even_where_members_may_change(
    bot: MappingBot, sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    settings = await bot.on_message(in_channel(), "settings", TEAM)
    await click(bot, settings, "Let every member change")
    member = in_channel(user=MEMBER)
    number, other = fresh_number(), fresh_number()
    assert "Number mapped" in texts(await bot.on_message(member, f"map {number}", TEAM))
    preview = await bot.on_message(in_channel(), f"map\n{other}\n{fresh_number()}", NAMED)
    sandbox.reset()
    refused = [
        await bot.on_message(member, f"map\n{other}\n{fresh_number()}", NAMED),
        await press(bot, preview, "Map 2 here", CardsSeen(), member),
        await press(bot, preview, "Map other numbers", None, member),
    ]
    for card in refused:
        assert "Only an owner of this team can map many numbers at once" in texts(card)
        assert "Nothing was changed" in texts(card)
    await finished(bot)
    assert writes(sandbox) == {}
    # The member's click claimed nothing: the owner can still apply it.
    seen = CardsSeen()
    await press(bot, preview, "Map 2 here", seen)
    await finished(bot)
    assert counts(seen.cards[-1]) == {"Mapped here": "2"}


async def test_an_unpaid_organizations_numbers_are_not_changed(
    bot: MappingBot, sandbox: RunningSandbox, world: World, client: ContextSMSClient
) -> None:
    unpaid = sandbox.seeded.unpaid_enterprise_id
    await world.tenancy.link_from_settings(TENANT, unpaid)
    numbers = [fresh_number(), fresh_number()]
    preview = await bot.on_message(in_channel(), "map\n" + "\n".join(numbers), NAMED)
    seen = CardsSeen()
    await press(bot, preview, "Map 2 here", seen)
    await finished(bot)
    final = seen.cards[-1]
    assert counts(final) == {"Not changed: the subscription is not active": "2"}
    assert "Done, with problems" in texts(final)
    assert "Mapped here" not in texts(final)
    mapped = {m.phone_number for m in await client.list_mappings(unpaid)}
    assert not mapped & set(numbers)


async def test_a_lost_answer_is_said_as_unknown(bot: MappingBot, sandbox: RunningSandbox) -> None:
    number, here = fresh_number(), fresh_number()
    await bot.on_message(in_channel(), f"map {here}", TEAM)
    preview = await bot.on_message(in_channel(), f"map\n{number}\n{here}", NAMED)
    sandbox.faults(script=served_then_failed("POST", "/api/v2/mapping/add") + FAILED_LOOKUPS)
    seen = CardsSeen()
    await press(bot, preview, "Map 1 here", seen)
    await finished(bot)
    final = texts(seen.cards[-1])
    assert counts(seen.cards[-1]) == {
        "Unknown: may or may not be mapped": "1", "Already here": "1"
    }  # fmt: skip
    assert "cannot tell whether it changed" in final
    assert "nothing was changed" not in final.lower()
    # Failures first: the unknown number before the one already here.
    assert final.index(number) < final.index(here)


async def test_two_hundred_numbers_answer_at_once_and_report_as_they_go(
    bot: MappingBot, sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    numbers = [fresh_number() for _ in range(200)]
    preview = await bot.on_message(
        in_channel(), "map\n" + "\n".join(f"{n} Desk {i}" for i, n in enumerate(numbers)), NAMED
    )
    assert counts(preview) == {"New": "200"}
    assert card_size(preview) < CARD_SIZE_LIMIT
    # An API as slow as a real one: the run takes a few seconds, the card reports as it goes.
    sandbox.faults(latency_ms=50, path_prefix="/api/v2/mapping/add")
    seen = CardsSeen()
    started = time.monotonic()
    first = await press(bot, preview, "Map 200 here", seen)
    answered = time.monotonic() - started
    assert "Applying… 0 of 200" in texts(first)
    assert answered < 2.5, f"the first answer took {answered:.2f} s (Teams waits 5 s)"
    await finished(bot)
    headings = [texts(c).split("\n")[0] for c in seen.cards]
    assert headings[-1] == "Done"
    # As it went: how far it was, further each time.
    done = [int(h.split()[1]) for h in headings[:-1]]
    assert done and done == sorted(done) and 0 < done[0] and done[-1] < 200, headings
    assert all(h == f"Applying… {n} of 200" for h, n in zip(headings, done, strict=False))
    assert counts(seen.cards[-1]) == {"Mapped here": "200"}
    assert all(card_size(c) < CARD_SIZE_LIMIT for c in seen.cards)
    mapped = await channel_of(client, enterprise)
    assert all(mapped[n] == GENERAL for n in numbers)
    assert writes(sandbox)[ADD] == 200


async def test_shutdown_waits_a_little_then_stops_a_run(
    bot: MappingBot, sandbox: RunningSandbox
) -> None:
    numbers = [fresh_number() for _ in range(8)]
    preview = await bot.on_message(in_channel(), "map\n" + "\n".join(numbers), NAMED)
    sandbox.faults(latency_ms=5000, path_prefix="/api/v2/mapping/add")
    await press(bot, preview, "Map 8 here", CardsSeen())
    started = time.monotonic()
    await bot.bulk.aclose(grace=0.3)
    # Not held up by a run that would take seconds (the stopped card's 2 s at most included).
    assert time.monotonic() - started < 4.0
    sandbox.reset()
    again = await press(bot, preview, "Map 8 here")
    assert texts(again).startswith("Stopped before the end")
    assert writes(sandbox) == {}  # its numbers in flight are not applied again


async def test_a_run_stopped_by_shutdown_says_so_and_how_to_go_on(
    bot: MappingBot, sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    """Before, a run stopped mid-way said "Applying…" for ever, on its card and on Refresh."""
    numbers = [fresh_number() for _ in range(12)]
    listed = "map\n" + "\n".join(numbers)
    preview = await bot.on_message(in_channel(), listed, NAMED)
    sandbox.faults(latency_ms=400, path_prefix="/api/v2/mapping/add")
    seen = CardsSeen()
    first = await press(bot, preview, "Map 12 here", seen)
    await asyncio.sleep(0.6)
    await bot.bulk.aclose(grace=0.2)  # the bot shuts down with the run under way
    sandbox.reset()

    # The clicked card says it stopped, and so do Refresh and a second click (a new process).
    stopped = seen.cards[-1]
    assert texts(stopped).startswith("Stopped before the end")
    refreshed = await press(bot, first, "Refresh")
    clicked = await press(bot, preview, "Map 12 here", CardsSeen())
    for card in (stopped, refreshed, clicked):
        shown = texts(card)
        assert "Applying…" not in shown
        assert "stopped before the end" in shown
        assert "check this channel's numbers" in shown
        assert "send the list again or use Map more numbers" in shown
        assert buttons(card) == ["Show this channel's numbers now", "Map more numbers"]
    outcome = counts(refreshed)
    assert counts(clicked) == outcome
    mapped_count = int(outcome.get("Mapped here", "0"))
    unknown = int(outcome.get("Unknown: may or may not be mapped", "0"))
    left = 12 - mapped_count - unknown
    assert 0 < left, outcome  # 400 ms a number: far from done
    assert f"{counts_text(left)} no outcome and may or may not have changed" in texts(refreshed)
    assert writes(sandbox) == {}  # nothing applied again by the clicks
    mapped = await channel_of(client, enterprise)
    assert mapped_count <= sum(1 for n in numbers if n in mapped) <= mapped_count + unknown + left

    # As the card says: the list again shows the numbers mapped as already here; the rest go.
    again = await bot.on_message(in_channel(), listed, NAMED)
    done_already = sum(1 for n in numbers if n in mapped)
    assert int(counts(again).get("Already here", "0")) == done_already
    seen = CardsSeen()
    await press(bot, again, f"Map {12 - done_already} here", seen)
    await finished(bot)
    assert counts(seen.cards[-1])["Mapped here"] == str(12 - done_already)
    mapped = await channel_of(client, enterprise)
    assert all(mapped[n] == GENERAL for n in numbers)


def counts_text(count: int) -> str:
    return f"{count} number has" if count == 1 else f"{count} numbers have"


async def test_a_run_whose_process_was_killed_is_shown_stopped(
    bot: MappingBot, world: World, sandbox: RunningSandbox
) -> None:
    """A killed process cannot say it stopped: a run not advanced for STALE_AFTER seconds is
    shown as stopped; one advanced lately as applying."""
    numbers = [fresh_number() for _ in range(2)]
    killed = await bot.on_message(in_channel(), "map\n" + "\n".join(numbers), NAMED)
    running = await bot.on_message(in_channel(), "map\n" + "\n".join(numbers), NAMED)
    now = datetime.now(UTC)
    # What the process did before it was killed, and one that is alive: each claimed its run.
    for card, at in ((killed, now - timedelta(seconds=STALE_AFTER + 60)), (running, now)):
        run_id = button(card, "Map 2 here")["data"]["ctx"]["id"]
        assert await world.storage.claim_bulk_run(run_id, TENANT, False, at) is not None
    sandbox.reset()
    shown = texts(await press(bot, killed, "Map 2 here"))
    assert shown.startswith("Stopped before the end")
    assert "2 numbers have no outcome and may or may not have changed" in shown
    assert texts(await press(bot, running, "Map 2 here")).startswith("Applying… 0 of 2")
    assert writes(sandbox) == {}


async def test_the_card_is_updated_only_after_the_click_was_answered(
    bot: MappingBot, sandbox: RunningSandbox
) -> None:
    """Teams puts a click's answer on the card when it gets it: an update that comes first is
    overwritten, and the card says "Applying…" for ever. Seen: the "Done" of a tiny run sent
    5-8 ms after the answer."""
    seen = TimedCards()
    preview = await bot.on_message(in_channel(), f"map\n{fresh_number()}\n{fresh_number()}", NAMED)
    first = await press(bot, preview, "Map 2 here", seen)
    answered = time.monotonic()
    assert texts(first).startswith("Applying… 0 of 2")
    await finished(bot)
    assert texts(seen.cards[-1]).startswith("Done")
    late = [round(at - answered, 3) for at in seen.times]
    assert all(0.5 < t < 30 for t in late), late


@dataclass
class TimedCards(CardsSeen):
    """The updater, with when each card was given."""

    times: list[float] = field(default_factory=list)

    async def update(self, card: dict[str, Any]) -> None:
        self.times.append(time.monotonic())
        await super().update(card)


async def test_the_person_who_applies_is_credited(
    bot: MappingBot, world: World, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    """Previewed by one owner, applied by another: the audit trail names who applied it."""
    world.graph.set_team(GROUP, TENANT, [OWNER, SECOND_OWNER, MEMBER])
    numbers = [fresh_number(), fresh_number()]
    preview = await bot.on_message(in_channel(), "map\n" + "\n".join(numbers), NAMED)
    seen = CardsSeen()
    await press(bot, preview, "Map 2 here", seen, in_channel(user=SECOND_OWNER))
    await finished(bot)
    assert counts(seen.cards[-1]) == {"Mapped here": "2"}
    entries = [e for e in await world.entries(tenant_id=None) if e.number in numbers]
    assert {(e.number, e.action, e.outcome, e.actor_name) for e in entries} == {
        (n, AuditAction.MAP, "ok", SECOND_OWNER.display_name) for n in numbers
    }


# -- the cards themselves -----------------------------------------------------------------

EMOJI_NAME = "\U0001f600" * 100  # 100 characters, 12 bytes each as sent
# tests/test_cards.py and tests/test_card_limits.py hold these cards (`bulk_cards`) to the
# renderer, the schema and the size limit with every other card.
SCREENS = Screens(
    ActionSigner(b"test key"), ActionContext(GENERAL, "E0000001", tenant=TENANT), Brand()
)
KINDS = list(RowKind)
OUTCOMES = list(RowOutcome)


def big_run(rows: int = 500, *, results: int = 0, state: RunState = RunState.PREVIEWED) -> BulkRun:
    """A run of `rows` numbers of every kind, names of 100 emoji, channels named likewise."""
    listed = []
    for i in range(rows):
        kind = KINDS[i % len(KINDS)]
        number = None if kind is RowKind.INVALID else f"+1555{i:07d}"
        entry = BulkEntry(i + 1, f"{'*' * 150} {EMOJI_NAME}", number, EMOJI_NAME,
                          problem="it is not a number" if number is None else None)  # fmt: skip
        current = f"19:{i:04d}@thread.tacv2" if kind in (RowKind.MOVE, RowKind.HERE) else None
        listed.append(BulkRow(entry, GENERAL, kind, current, None, EMOJI_NAME * 2))
    done = tuple(
        RowResult(row, OUTCOMES[i % len(OUTCOMES)], EMOJI_NAME * 2, "req-" + "x" * 40)
        for i, row in enumerate(listed[:results])
    )  # fmt: skip
    return BulkRun("r" * 24, TENANT, GENERAL, GENERAL, "E0000001", None,
                   datetime(2026, 3, 2, tzinfo=UTC), state, tuple(listed), True, done)  # fmt: skip


LABELS = {f"19:{i:04d}@thread.tacv2": EMOJI_NAME for i in range(500)}


def bulk_cards(s: Screens = SCREENS) -> dict[str, Card]:
    """Each bulk card, with small lists and with 500 numbers named in 100 emoji: the keys
    start with the screen's name, as tests/test_cards.py's `every_card` names them."""
    small = big_run(12, results=12, state=RunState.DONE)
    applying = big_run(results=250, state=RunState.APPLYING)
    stopped = big_run(results=100, state=RunState.APPLYING)
    return {
        "bulk form": s.bulk_form(500),
        "bulk form, with a notice": s.bulk_form(500, "Paste at least one number.", "x" * 30_000),
        "bulk preview, small": s.bulk_preview(big_run(12), "General", LABELS),
        "bulk preview, 500": s.bulk_preview(big_run(), EMOJI_NAME, LABELS),
        "bulk progress, 500": s.bulk_progress(applying, LABELS),
        "bulk result, small": s.bulk_result(small, LABELS),
        "bulk result, 500": s.bulk_result(big_run(results=500, state=RunState.DONE), LABELS),
        "bulk result, interrupted": s.bulk_result(stopped, LABELS, interrupted=True),
        "bulk too many": s.bulk_too_many(501, 500),
        "bulk unknown run": s.bulk_unknown_run(),
    }


def test_a_long_list_shows_its_counts_and_says_what_is_not_shown() -> None:
    card = bulk_cards()["bulk preview, 500"]
    shown = counts(card)
    assert sum(int(v) for v in shown.values()) == 500 and len(shown) == len(KINDS)
    notes = [n["text"] for n in elements(card) if str(n.get("text", "")).startswith("…and ")]
    assert len(notes) == len(KINDS)  # each kind shows its first rows and says how many are not
    rows = [n for n in elements(card) if str(n.get("text", "")).startswith("Line ")]
    assert 2 * len(KINDS) <= len(rows) < 500
    result = bulk_cards()["bulk result, 500"]
    assert sum(int(v) for v in counts(result).values()) == 500
    shown_text = texts(result)
    # Failures first.
    assert shown_text.index("Failed, not changed (") < shown_text.index("Mapped here (")
