"""End to end through Microsoft's Teams emulator: Playground -> bot -> sandbox, over HTTP and
the Playground's WebSocket, as its web page talks to it."""

from __future__ import annotations

import copy
import time
import uuid

import httpx

from devstack import Stack
from tests.conftest import fresh_number
from tests.support.playground import ANNOUNCEMENTS, GENERAL, USER_1, Playground, card_text


def national(number: str) -> str:
    return f"({number[2:5]}) {number[5:8]}-{number[8:]}"


async def test_map_then_unmap_with_two_clicks(playground: Playground) -> None:
    number = fresh_number()
    started = time.monotonic()
    reply = await playground.say(GENERAL, f"map {national(number)} Front desk")
    assert time.monotonic() - started < 15
    [card] = reply.cards
    assert "Number mapped" in card_text(card) and number in card_text(card)

    started = time.monotonic()
    ask = await playground.click(reply, "Unmap")
    assert time.monotonic() - started < 5
    assert "Unmap this number?" in card_text(ask)
    done = await playground.click(reply, "Unmap")
    assert "Number unmapped" in card_text(done)
    status = await playground.say(GENERAL, "status")
    assert number not in card_text(status.cards[0])


async def test_taken_number_is_named_and_moved_here(playground: Playground, stack: Stack) -> None:
    number = fresh_number()
    await playground.say(ANNOUNCEMENTS, f"map {number} Announcements line")
    reply = await playground.say(GENERAL, f"map {number}")
    text = card_text(reply.cards[0])
    assert "Already mapped to another channel" in text
    assert "**Announcements**" in text  # the channel's name, from Teams
    stale = copy.deepcopy(reply)  # the same card as another member still sees it
    moved = await playground.click(reply, "Move it here")
    assert "Number moved here" in card_text(moved)
    assert "instead of **Announcements**" in card_text(moved)
    again = await playground.click(stale, "Move it here")
    assert "Already here" in card_text(again)
    # Announcements is told, as a new post of its own: which number, where it went, who.
    told = card_text((await playground.notice(ANNOUNCEMENTS, number)).cards[0])
    assert "Number moved to another channel" in told
    assert "now arrive in **General** instead of this channel" in told and "Changed by Me" in told

    mappings = httpx.get(
        f"{stack.sandbox_url}/api/v2/numbertomessageappmapping/enterprise/{stack.enterprise_id}",
        headers={"Authorization": "Bearer " + httpx.post(
            f"{stack.sandbox_url}/api/v2/auth/login",
            json={"username": "you@company.com", "password": "YourStrongPassword!"},
        ).json()["accessToken"]},
    ).json()  # fmt: skip
    [mapping] = [m for m in mappings if m["phoneNumber"] == number]
    assert mapping["messagingAppId"] == GENERAL


async def test_remap_command_and_status(playground: Playground) -> None:
    number = fresh_number()
    await playground.say(GENERAL, f"map {number} Reception")
    moved = await playground.say(ANNOUNCEMENTS, f"remap {number}")
    assert "Number moved here" in card_text(moved.cards[0])
    told = card_text((await playground.notice(GENERAL, number)).cards[0])
    assert "now arrive in **Announcements** instead of this channel" in told
    status = await playground.say(ANNOUNCEMENTS, "status")
    text = card_text(status.cards[0])
    assert "Numbers in Announcements" in text and "Reception" in text and number in text


async def test_status_card_form_maps_a_number(playground: Playground) -> None:
    status = await playground.say(GENERAL, "status")
    number = fresh_number()
    mapped = await playground.click(status, "Map to this channel", number=number, name="Form")
    assert "Number mapped" in card_text(mapped)


async def test_bad_input_gets_a_clear_message(playground: Playground) -> None:
    bad = await playground.say(GENERAL, "map 555-12")
    assert "not a phone number I can use" in card_text(bad.cards[0])
    unknown = await playground.say(GENERAL, "frobnicate")
    assert "I don't know the command **frobnicate**" in card_text(unknown.cards[0])


async def test_chats_say_mapping_needs_a_channel(playground: Playground) -> None:
    personal, group = await playground.chat_ids()
    reply = await playground.say(personal, "map +15559876543", mention=False)
    assert "This works in a channel" in card_text(reply.cards[0])
    listed = await playground.say(personal, "list", mention=False)
    assert "All numbers of your organization" in card_text(listed.cards[0])
    in_group = await playground.say(group, "status")
    assert "This works in a channel" in card_text(in_group.cards[0])
    helped = await playground.say(group, "help")
    assert "Mapping works in a channel of a team" in card_text(helped.cards[0])


async def test_remap_from_status_to_another_channel_of_the_team(playground: Playground) -> None:
    number = fresh_number()
    await playground.say(GENERAL, f"map {number} Night line")
    status = await playground.say(GENERAL, "status")
    index = next(i for i, c in enumerate(status.cards) if number in card_text(c))  # the status card
    card = status.cards[index]
    # Several numbers may be listed: click the Remap of ours.
    entry = next(item for item in card["body"] if number in card_text(item))
    status.cards[index] = {"type": "AdaptiveCard", "version": "1.5", "body": [entry]}
    pick = await playground.click(status, "Remap", card_index=index)
    assert "Move this number" in card_text(pick)
    choices = {c["title"]: c["value"] for c in pick["body"][2]["choices"]}
    assert choices == {"Announcements": ANNOUNCEMENTS}
    moved = await playground.click(status, "Move", card_index=index, target=ANNOUNCEMENTS)
    assert "Number moved" in card_text(moved) and "**Announcements**" in card_text(moved)
    there = await playground.say(ANNOUNCEMENTS, "status")
    assert number in card_text(there.cards[0])


async def test_a_slow_api_gets_a_working_card_that_updates_in_place(
    playground: Playground, stack: Stack
) -> None:
    number = fresh_number()
    httpx.put(
        f"{stack.sandbox_url}/_sandbox/faults",
        json={"script": [{"path_prefix": "/api/v2/mapping/add", "delay_ms": 5000}]},
    ).raise_for_status()
    started = time.monotonic()
    first = await playground.say(GENERAL, f"map {number} Slow line")
    assert time.monotonic() - started < 4.0
    assert "Working on it" in card_text(first.cards[0])
    update = await playground.next_reply(timeout=10)
    assert update.updated and update.message_id == first.message_id
    assert "Number mapped" in card_text(update.cards[0]) and number in card_text(update.cards[0])


def sandbox_mappings(stack: Stack) -> dict[str, str]:
    """Number -> channel of the seeded enterprise, as ContextSMS (the sandbox) has them."""
    login = httpx.post(
        f"{stack.sandbox_url}/api/v2/auth/login",
        json={"username": "you@company.com", "password": "YourStrongPassword!"},
    ).json()
    listed = httpx.get(
        f"{stack.sandbox_url}/api/v2/numbertomessageappmapping/enterprise/{stack.enterprise_id}",
        headers={"Authorization": f"Bearer {login['accessToken']}"},
    ).json()
    return {m["phoneNumber"]: m["messagingAppId"] for m in listed}


async def test_an_ordinary_member_is_refused_changes_and_the_owner_makes_them(
    playground: Playground, stack: Stack
) -> None:
    number = fresh_number()
    # User 1 is a member of My Team, not an owner (Graph, for the team's group id).
    refused = await playground.say(GENERAL, f"map {number} Front desk", user=USER_1)
    text = card_text(refused.cards[0])
    assert "Not allowed for you" in text and "an owner of this team" in text
    assert "Nothing was changed" in text
    assert number not in sandbox_mappings(stack)

    # Me, signed in, owns it: the same command maps the number.
    mapped = await playground.say(GENERAL, f"map {number} Front desk")
    assert "Number mapped" in card_text(mapped.cards[0])
    assert sandbox_mappings(stack)[number] == GENERAL

    # User 1 may look, not unmap.
    status = await playground.say(GENERAL, "status", user=USER_1)
    assert number in card_text(status.cards[0])
    unmap = await playground.say(GENERAL, f"unmap {number}", user=USER_1)
    assert "Not allowed for you" in card_text(unmap.cards[0])
    assert sandbox_mappings(stack)[number] == GENERAL


def invite(stack: Stack, enterprise_id: str) -> str:
    """A setup code from the operators' command line, on the bot's own settings and storage."""
    code: str = stack.admin("invite", enterprise_id)["code"]
    return code


async def test_an_organization_nobody_set_up_is_linked_by_a_setup_code(
    playground: Playground, stack: Stack
) -> None:
    # Another organization's tenant, in the Playground's personal chat (a custom activity).
    tenant = str(uuid.uuid4())
    personal, _ = await playground.chat_ids()
    asked = await playground.say(personal, "list", mention=False, tenant=tenant)
    assert "Not set up yet" in card_text(asked.cards[0])
    assert "setup ‹code›" in card_text(asked.cards[0])
    wrong = await playground.say(personal, "setup AAAAA-AAAAA", mention=False, tenant=tenant)
    assert "Nothing was linked" in card_text(wrong.cards[0])

    code = invite(stack, stack.enterprise_id)
    linked = await playground.say(personal, f"setup {code}", mention=False, tenant=tenant)
    text = card_text(linked.cards[0])
    assert "Your organization now uses" in text and stack.enterprise_id in text
    listed = await playground.say(personal, "list", mention=False, tenant=tenant)
    assert "All numbers of your organization" in card_text(listed.cards[0])
    # Now linked, a personal chat cannot re-link it (an owner does that in a team)...
    again = await playground.say(personal, f"setup {code}", mention=False, tenant=tenant)
    assert "already set up" in card_text(again.cards[0])
    # ... and the code worked once: another organization cannot use it.
    other = await playground.say(personal, f"setup {code}", mention=False, tenant=str(uuid.uuid4()))
    assert "Nothing was linked" in card_text(other.cards[0])
