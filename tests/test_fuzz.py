"""Bad input, generated: whatever a person types and whatever arrives at /api/messages, the bot
answers without a crash, a 500 or a trace, and changes nothing in ContextSMS that its card does
not say it changed. The whole app over real HTTP with production auth (tests/test_bot_http.py),
against the sandbox, whose requests are counted per route."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from botbuilder.schema import ActivityTypes
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from contextsms import ContextSMSClient
from contextsms.models import Enterprise
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number
from tests.test_bot_http import Bot

# The fixtures: the bot served over HTTP against the stand-ins and the sandbox.
from tests.test_bot_http import bot as bot
from tests.test_bot_http import connector as connector
from tests.test_bot_http import graph as graph
from tests.test_bot_http import identity as identity

# Each property posts every example over HTTP: bounded so that the file stays under ~30 s.
FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(FUZZ, max_examples=50)

# What changes something in ContextSMS (the sandbox's routes, as its stats name them).
WRITES = frozenset({
    "POST /api/v2/mapping/add/{enterpriseId}", "PUT /api/v2/mapping/{mapId}",
    "DELETE /api/v2/mapping/{mapId}", "POST /api/v2/csp", "POST /api/v2/enterprise/{cspId}",
    "DELETE /api/v2/enterprise/{enterpriseId}",
})  # fmt: skip
CARD_LIMIT = 28 * 1024  # Teams refuses a card over 28 KB
# What a person must never be shown: a trace, or the apology of a turn that raised.
CRASH = re.compile(r"Traceback|File \"|\.py\b|went wrong|Exception|Error\(", re.IGNORECASE)


async def writes(bot: Bot, sandbox: RunningSandbox) -> int:
    """The sandbox's write requests so far (its stats, read with the test's pooled client:
    `sandbox.stats()` opens a new client each time, a tenth of a second)."""
    stats = await bot.http.get(f"{sandbox.base_url}/_sandbox/stats")
    requests: dict[str, int] = stats.json()["requests"]
    return sum(n for route, n in requests.items() if route in WRITES)


def no_crash_shown(shown: str) -> None:
    found = CRASH.search(shown)
    assert found is None, f"{found[0]!r} shown to a person: {shown[:500]}"


def new_replies(bot: Bot, since: int) -> list[dict[str, Any]]:
    return bot.connector.received[since:]


def only_card(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """The one reply of a message: a card, under Teams' size limit, showing no crash."""
    assert len(replies) == 1, [r["body"] for r in replies]
    body = replies[0]["body"]
    no_crash_shown(json.dumps(body, ensure_ascii=False))
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert len(json.dumps(card).encode()) < CARD_LIMIT
    return card


# -- what people type ---------------------------------------------------------------------------

MENTION = "<at>Test Bot</at>"
# Any character JSON carries (lone surrogates cannot be sent as UTF-8).
ANY_CHAR = st.characters(exclude_categories=["Cs"])
CONTROL = st.characters(categories=["Cc", "Cf", "Zl", "Zp"])
HTML_BITS = st.sampled_from([
    "<b>", "</b>", "<p>", "</p>", "<br>", "<br/>", "<script>alert(1)</script>", "&amp;", "&lt;",
    "&#0;", "&#x202e;", "&nbsp;", "<a href='javascript:x'>x</a>", "<at>", "</at>", "<at>x",
    "<span itemtype='http://schema.skype.com/Mention'>Bot</span>", "<table><tr><td>1",
    "<!--", "-->", "<", ">", "&", "<ul><li>", "<pre>", "]]>", "{{", "}}", "${x}", "\\u0000",
    MENTION, MENTION * 3, "<at>Someone Else</at>", "<AT >Test Bot</AT>",
])  # fmt: skip
WORDS = st.sampled_from([
    "map", "MAP", "Map", "add", "remap", "move", "unmap", "remove", "delete", "status", "list",
    "help", "setup", "find", "history", "settings", "new", "enterprise", "links", "unlink",
    "invite", "enterprises", "all", "+", "-", "(", ")", "ext.", "x9", "#", "tel:", ";ext=1",
])  # fmt: skip
PIECE = st.one_of(
    st.text(ANY_CHAR, max_size=30),
    st.text(CONTROL, min_size=1, max_size=5),
    HTML_BITS,
    WORDS,
    st.integers(-(10**20), 10**20).map(str),
    st.just(" "),
    st.just("\n"),
)
TYPED = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    st.lists(PIECE, max_size=25).map("".join),
    # Very long: what a paste of a whole document sends (a card must still fit in 28 KB).
    st.tuples(st.lists(PIECE, min_size=1, max_size=5).map("".join), st.integers(500, 30_000)).map(
        lambda t: ((t[0] or "x") * t[1])[: t[1]]
    ),
)


# Digits as some keyboards and pastes give them: ASCII, full-width, Arabic-Indic.
DIGITS = {
    "ascii": "0123456789",
    "full-width": "".join(chr(0xFF10 + d) for d in range(10)),
    "arabic-indic": "".join(chr(0x0660 + d) for d in range(10)),
}


@dataclass(frozen=True)
class Typed:
    """How a person writes a command and its number: the words around `{number}`, and the
    number's separators, digits and country code (applied to a fresh number per example)."""

    template: str
    separators: tuple[str, ...]
    digits: str
    plus: bool
    country: bool

    def text(self, number: str) -> str:
        """`number` (+1 and 10 digits) written this way: every digit kept, in its order, so
        that it is the same number however it is written."""
        local = number.removeprefix("+1")
        seps = self.separators or ("",)
        written = "".join(d + seps[i % len(seps)] for i, d in enumerate(local))
        head = ("+1" if self.plus else "1") if self.country else ""
        digits = DIGITS[self.digits]
        return self.template.replace(
            "{number}", (head + written).translate(str.maketrans("0123456789", digits))
        )


ODD_SEPARATOR = st.sampled_from(["", " ", "-", ".", "/", "(", ")", " - ", "\u00a0", "..", "--"])


@st.composite
def commands(draw: st.DrawFn) -> Typed:
    """A command with a number written oddly, mentions and markup in odd places, a name of
    anything."""
    verb = draw(st.sampled_from(["map", "add", "MAP", "remap", "unmap", "map map", "status"]))
    before = draw(st.sampled_from(["", MENTION + " ", " " + MENTION, MENTION + MENTION, "<p>"]))
    between = draw(st.sampled_from([" ", "  ", f" {MENTION} ", "\n", "\t", " <b>", " &nbsp;"]))
    name = draw(st.one_of(st.just(""), st.lists(PIECE, max_size=6).map(lambda p: " " + "".join(p))))
    return Typed(
        template=before + verb + between + "{number}" + name,
        separators=tuple(draw(st.lists(ODD_SEPARATOR, max_size=4))),
        digits=draw(st.sampled_from(sorted(DIGITS))),
        plus=draw(st.booleans()),
        country=draw(st.booleans()),
    )


def mapped_numbers(mappings: list[Any]) -> dict[str, str]:
    return {m.phone_number: m.messaging_app_id for m in mappings}


_channels = itertools.count(1)


def in_new_channel(activity: dict[str, Any]) -> str:
    """Move `activity` to a channel of the team that no other example used: Teams lets a bot
    post 60 times in 30 s per conversation, and the bot keeps to that (bot/throttle.py)."""
    channel = f"19:fuzz-{next(_channels)}@thread.tacv2"
    activity["conversation"]["id"] = f"{channel};messageid=1"
    activity["channelData"]["teamsChannelId"] = channel
    activity["channelData"]["channel"] = {"id": channel, "name": "Fuzz"}
    return channel


async def say(bot: Bot, text: str, html: str | None = None) -> tuple[str, dict[str, Any]]:
    """Post `text` as typed (no mention added) in a channel of its own, and return the channel
    and the one card it got."""
    since = len(bot.connector.received)
    activity = bot.activity()
    channel = in_new_channel(activity)
    activity["text"] = text
    if html is not None:
        activity["attachments"] = [{"contentType": "text/html", "content": html}]
    response = await bot.post(activity)
    assert response.status_code == 201, response.text
    return channel, only_card(new_replies(bot, since))


@FUZZ
@given(text=TYPED, html=st.one_of(st.none(), TYPED))
@example(text="", html=None)
@example(text=MENTION, html=f"<p>{MENTION}</p>")
@example(text="\x00\u202e" * 5000, html=None)
async def test_anything_typed_gets_a_card_and_changes_nothing(
    bot: Bot, client: ContextSMSClient, enterprise: Enterprise, text: str, html: str | None
) -> None:
    before = mapped_numbers(await client.list_mappings(enterprise.enterprise_id))
    channel, card = await say(bot, text, html)
    shown = json.dumps(card, ensure_ascii=False)
    after = mapped_numbers(await client.list_mappings(enterprise.enterprise_id))
    if after != before:
        # Only a command can change anything, and then its card says what it did.
        assert '"Number mapped"' in shown, (text, shown[:400])
        [(number, where)] = set(after.items()) - set(before.items())
        assert where == channel and number in shown


@FUZZ
@given(typed=commands())
# A number written in more pieces than the bot reads (NUMBER_WORDS): "15 - 5.5 - 2.0 - 0.0 -
# 1.8 - 7." must not be read as its first ten digits, another number (+1 155-520-0018).
@example(typed=Typed("map {number}", (" - ", "."), "ascii", plus=False, country=True))
async def test_a_command_written_oddly_is_mapped_exactly_when_its_card_says_so(
    bot: Bot, client: ContextSMSClient, enterprise: Enterprise, typed: Typed
) -> None:
    number = fresh_number()
    text = typed.text(number)
    note(f"typed: {text!r}")
    before = mapped_numbers(await client.list_mappings(enterprise.enterprise_id))
    channel, card = await say(bot, text)
    shown = json.dumps(card, ensure_ascii=False)
    after = mapped_numbers(await client.list_mappings(enterprise.enterprise_id))
    event(("mapped" if '"Number mapped"' in shown else "not mapped") + f", {typed.digits} digits")
    if '"Number mapped"' in shown:
        # The number typed, to this channel, and nothing else.
        assert after == {**before, number: channel}, (text, shown[:400])
    else:
        assert after == before, (text, shown[:400])


# -- what arrives at /api/messages ------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(ANY_CHAR),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(ANY_CHAR, max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from([
    "type", "id", "channelId", "from", "recipient", "conversation", "text", "channelData",
    "attachments", "entities", "value", "name", "replyToId", "timestamp", "locale", "membersAdded",
    "membersRemoved", "action", "textFormat", "channelData.tenant", "channelData.team",
    "channelData.channel", "conversation.id", "conversation.tenantId", "from.aadObjectId",
    "conversation.conversationType",
])  # fmt: skip


def with_field(activity: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    if "." in path:
        outer, inner = path.split(".", 1)
        nested = activity.get(outer)
        activity[outer] = {**(nested if isinstance(nested, dict) else {}), inner: value}
    else:
        activity[path] = value
    return activity


async def assert_harmless(bot: Bot, sandbox: RunningSandbox, before: int, since: int,
                          status: int, body: str) -> None:  # fmt: skip
    """A request the bot could not act on: refused (4xx) or answered, never a 500 or a trace,
    and nothing written to ContextSMS."""
    event(f"HTTP {status}")
    assert status < 500, body
    no_crash_shown(body)
    for reply in new_replies(bot, since):
        no_crash_shown(json.dumps(reply["body"], ensure_ascii=False))
        for attachment in reply["body"].get("attachments") or []:
            assert len(json.dumps(attachment.get("content")).encode()) < CARD_LIMIT
    assert await writes(bot, sandbox) == before


@FUZZ
@given(changes=st.lists(st.tuples(FIELDS, JSON_VALUES), min_size=1, max_size=4),
       text=st.sampled_from(["status", "help", "list", "history", "settings"]),
       kind=st.sampled_from(["message", "conversationUpdate", "installationUpdate",
                             "messageReaction", "messageUpdate", "event"]))  # fmt: skip
# A conversationUpdate whose channelData is not an object: botbuilder's Teams handler reads it.
@example(changes=[("channelData", [])], text="status", kind="conversationUpdate")
@example(changes=[("channelData.tenant", [])], text="status", kind="conversationUpdate")
@example(changes=[("channelData.tenant", [])], text="status", kind="messageUpdate")
@example(changes=[("channelData", "x")], text="status", kind="messageReaction")
async def test_activities_with_fields_of_any_shape_are_refused_or_answered(
    bot: Bot, sandbox: RunningSandbox, changes: list[tuple[str, Any]], text: str, kind: str
) -> None:
    activity = bot.activity(text, type=kind)
    in_new_channel(activity)
    for path, value in changes:
        with_field(activity, path, value)
    note(f"activity: {json.dumps(activity, ensure_ascii=False)[:2000]}")
    before, since = await writes(bot, sandbox), len(bot.connector.received)
    response = await bot.post(activity)
    await assert_harmless(bot, sandbox, before, since, response.status_code, response.text)


# The activity types Teams sends (botbuilder's ActivityTypes): each has a handler of its own.
KNOWN = frozenset(t.value.lower() for t in ActivityTypes)


@FEW
@given(kind=st.text(ANY_CHAR, min_size=1, max_size=40).filter(lambda k: k.lower() not in KNOWN),
       name=st.one_of(st.none(), st.text()))  # fmt: skip
async def test_activity_types_the_bot_does_not_know_change_nothing(
    bot: Bot, sandbox: RunningSandbox, kind: str, name: str | None
) -> None:
    activity = bot.activity(f"map {fresh_number()} Desk", type=kind, name=name)
    in_new_channel(activity)
    before, since = await writes(bot, sandbox), len(bot.connector.received)
    response = await bot.post(activity)
    await assert_harmless(bot, sandbox, before, since, response.status_code, response.text)
    assert new_replies(bot, since) == []


# An Action.Execute's data as the bot's cards carry it, with anything in its place.
ACTION_DATA = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"ctx": JSON_VALUES, "sig": st.text(max_size=60)},
        optional={"number": JSON_VALUES, "target": JSON_VALUES, "id": JSON_VALUES},
    ),
)
INVOKE_VALUE = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({"action": JSON_VALUES}),
    st.fixed_dictionaries({"action": st.fixed_dictionaries(
        {"type": st.sampled_from(["Action.Execute", "Action.Submit", "x"]) | JSON_VALUES},
        optional={"verb": st.sampled_from(["status", "map", "unmap", "unmap_confirm", "remap",
                                           "move", "apply", "bulk_apply"]) | JSON_VALUES,
                  "data": ACTION_DATA},
    )}),
)  # fmt: skip


@FUZZ
@given(value=INVOKE_VALUE)
async def test_card_actions_of_the_wrong_shape_get_a_refusal_card_and_change_nothing(
    bot: Bot, sandbox: RunningSandbox, value: Any
) -> None:
    invoke = bot.activity(type="invoke", name="adaptiveCard/action", replyToId="activity-1",
                          value=value)  # fmt: skip
    del invoke["text"]
    in_new_channel(invoke)
    before, since = await writes(bot, sandbox), len(bot.connector.received)
    response = await bot.post(invoke)
    await assert_harmless(bot, sandbox, before, since, response.status_code, response.text)
    if response.status_code == 200:
        answer = response.json()
        assert answer["type"] == "application/vnd.microsoft.card.adaptive"
        assert len(json.dumps(answer["value"]).encode()) < CARD_LIMIT
        shown = json.dumps(answer["value"], ensure_ascii=False)
        assert "Number mapped" not in shown and "Number unmapped" not in shown


# Invokes Teams sends to bots that declare more than ours does (message extensions, task
# modules, tabs, sign-in, file consent), and names nobody sends.
INVOKE_NAMES = st.sampled_from([
    "composeExtension/query", "composeExtension/submitAction", "task/fetch", "task/submit",
    "tab/fetch", "signin/verifyState", "signin/tokenExchange", "fileConsent/invoke",
    "actionableMessage/executeAction", "config/fetch", "healthCheck", "application/search",
]) | st.text(ANY_CHAR, max_size=40) | st.none()  # fmt: skip


@FEW
@given(name=INVOKE_NAMES, value=JSON_VALUES)
@example(name="task/fetch", value=[1])  # a Teams invoke whose value is not an object
@example(name="composeExtension/query", value="x")
async def test_invokes_the_bot_does_not_handle_change_nothing(
    bot: Bot, sandbox: RunningSandbox, name: str | None, value: Any
) -> None:
    invoke = bot.activity(type="invoke", name=name, value=value)
    del invoke["text"]
    in_new_channel(invoke)
    before, since = await writes(bot, sandbox), len(bot.connector.received)
    response = await bot.post(invoke)
    event(f"HTTP {response.status_code}")
    if name == "adaptiveCard/action":
        return  # the card actions' own test
    # botbuilder answers an invoke it has no handler for 501 Not Implemented, as the Bot
    # Framework SDKs all do (botbuilder-dotnet#2605): the one 5xx that is not a failure.
    if response.status_code != 501:
        await assert_harmless(bot, sandbox, before, since, response.status_code, response.text)
    posted = [
        r["body"].get("text") or r["body"].get("attachments") for r in new_replies(bot, since)
    ]
    assert posted == [], f"an invoke named {name!r} made the bot post {posted}"
    assert await writes(bot, sandbox) == before


@FEW
@given(content=st.one_of(
    st.binary(max_size=300),
    st.text(ANY_CHAR, max_size=300).map(lambda s: s.encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 5000).map(lambda n: b'{"type": "message", "x": ' + b"[" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    # What Python's json reads but no activity is: NaN, a BOM, a number too long to convert.
    st.sampled_from([
        b"NaN", b'{"type": "message", "serviceUrl": Infinity, "conversation": {"id": "x"}}',
        b"\xef\xbb\xbf{}", b"1" * 5000, b'{"type": "message"' + b', "a": 1' * 20000 + b"}",
        b'{"type": "\\ud800", "conversation": {"id": "x"}, "serviceUrl": "x"}', b"\x00", b"",
    ]),
))  # fmt: skip
async def test_bodies_that_are_not_activities_get_400(
    bot: Bot, sandbox: RunningSandbox, content: bytes
) -> None:
    before, since = await writes(bot, sandbox), len(bot.connector.received)
    response = await bot.http.post(
        f"{bot.url}/api/messages", content=content,
        headers={"Authorization": f"Bearer {bot.token()}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400, (content[:80], response.text)
    await assert_harmless(bot, sandbox, before, since, response.status_code, response.text)
    assert new_replies(bot, since) == []


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 8 * 1024 * 1024])
async def test_an_oversized_activity_is_refused_unread(
    bot: Bot, sandbox: RunningSandbox, size: int
) -> None:
    activity = bot.activity(f"map {fresh_number()} Desk")
    activity["text"] += " " + "x" * size  # a valid activity, too big to be one Teams sends
    before = await writes(bot, sandbox)
    response = await bot.post(activity)
    assert response.status_code == 413
    no_crash_shown(response.text)
    assert bot.connector.received == [] and await writes(bot, sandbox) == before
