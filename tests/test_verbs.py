"""The vocabulary of card actions and commands: every verb handled and reachable, cards already
posted in Teams still accepted, malformed payloads refused as tampered."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

import pytest

from bot.actions import ActionSigner, CardVerb, TamperedAction, card_action, parse_invoke
from bot.commands import Verb
from bot.handlers import MappingBot
from contextsms import ContextSMSClient
from contextsms.models import Enterprise
from tests.conftest import fresh_number
from tests.test_bot_behaviour import (
    GENERAL,
    PERSONAL,
    TEAM,
    act,
    bot,
    in_channel,
    texts,
    world,
)
from tests.test_cards import actions_of, every_card

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

KEY = b"k"  # the behaviour tests' signing key


def old_signature(verb: str, ctx: dict[str, str]) -> dict[str, Any]:
    """How cards already posted in Teams were signed (before the verbs were typed)."""
    message = json.dumps([verb, ctx], sort_keys=True, separators=(",", ":")).encode()
    return {"ctx": ctx, "sig": hmac.new(KEY, message, hashlib.sha256).hexdigest()[:32]}


def test_wire_values_are_those_of_posted_cards() -> None:
    assert [v.value for v in CardVerb] == [
        "help", "status", "list", "map", "remap", "remap.pick", "remap.move", "unmap.ask",
        "unmap.confirm",
        # Many organizations (issue 8): added after, never in place of, the ones above.
        "setup", "history", "settings", "settings.members.on", "settings.members.off",
        "enterprises", "enterprise.new", "enterprise.create", "invite", "links", "unlink.ask",
        "unlink.confirm",
        # Finding and bulk mapping (issue 9).
        "find", "find.unmap.ask", "find.unmap.confirm", "bulk.form", "bulk.preview",
        "bulk.apply", "bulk.show",
    ]  # fmt: skip


def test_every_verb_has_a_handler_and_a_card_that_reaches_it(bot: MappingBot) -> None:
    assert bot.card_verbs == set(CardVerb)
    on_cards = {a["verb"] for card in every_card().values() for a in actions_of(card)}
    assert on_cards == {v.value for v in CardVerb}


def test_every_command_has_a_handler(bot: MappingBot) -> None:
    assert bot.command_verbs == set(Verb)


async def test_a_card_signed_the_old_way_is_accepted(
    bot: MappingBot, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await bot.on_message(in_channel(), f"map {number}", TEAM)
    [mapping] = await client.list_mappings(enterprise.enterprise_id)
    ctx = {"ch": GENERAL, "ent": enterprise.enterprise_id, "id": mapping.id}
    ask = await act(bot, in_channel(), "unmap.ask", old_signature("unmap.ask", ctx))
    assert "Unmap this number?" in texts(ask)
    listed = await act(
        bot, PERSONAL, "list",
        old_signature("list", {"ch": "", "ent": enterprise.enterprise_id, "page": "0"}),
    )  # fmt: skip
    assert "All numbers of your organization" in texts(listed)


@pytest.mark.parametrize(
    "value",
    [
        None, "garbage", {}, {"action": None}, {"action": {"verb": "status"}},
        {"action": {"verb": "drop.tables", "data": {"ctx": {}, "sig": "x"}}},
        {"action": {"verb": "status", "data": "garbage"}},
        {"action": {"verb": "status", "data": {"ctx": {"ch": 1}, "sig": "x"}}},
        {"action": {"verb": "status", "data": {"ctx": {}, "sig": None}}},
        {"action": {"verb": "status", "data": {"ctx": [], "sig": "x"}}},
        {"action": {"verb": "status\nINFO forged line", "data": {"ctx": {}, "sig": "x"}}},
    ],
)  # fmt: skip
def test_malformed_payloads_are_refused_as_tampered(value: Any) -> None:
    with pytest.raises(TamperedAction):
        parse_invoke(value)


@pytest.mark.parametrize(
    "ctx",
    [
        {"ch": GENERAL, "ent": "E1", "page": "abc"},  # signed, but not a page
        {"ch": GENERAL, "ent": "E1", "page": "-1"},
        {"ch": GENERAL, "ent": "E1", "extra": "x"},  # a key the bot never signs
        {"ch": GENERAL},  # no enterprise
    ],
)
def test_a_signed_context_that_is_not_ours_is_refused(ctx: dict[str, str]) -> None:
    signer = ActionSigner(KEY)
    with pytest.raises(TamperedAction):
        signer.verify(card_action("status", old_signature("status", ctx)))


def test_a_non_ascii_signature_is_refused_not_raised() -> None:
    signer = ActionSigner(KEY)
    data = {**old_signature("status", {"ch": GENERAL, "ent": "E1"}), "sig": "é" * 32}
    with pytest.raises(TamperedAction):
        signer.verify(card_action("status", data))


async def test_a_forged_verb_writes_no_line_of_its_own_in_the_log(
    bot: MappingBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = "status\n2030-01-01 INFO bot: admin logged in"
    card = await act(bot, in_channel(), forged, {"ctx": {}, "sig": "x"})
    assert "not accepted" in texts(card)
    assert all("\n" not in record.getMessage() for record in caplog.records)


async def test_a_channel_action_outside_a_channel_is_explained(
    bot: MappingBot, enterprise: Enterprise
) -> None:
    data = old_signature("unmap.ask", {"ch": "", "ent": enterprise.enterprise_id, "id": "x"})
    card = await act(bot, PERSONAL, "unmap.ask", data)
    assert "This works in a channel" in texts(card)
