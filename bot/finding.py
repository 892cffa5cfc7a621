"""`find`: the enterprise's numbers that match what was typed, and what may be done with each.

A query of digits (with any of the punctuation people write numbers with) matches any part of
a number's E.164 digits or of its national form's digits; with a leading `+` it matches the
start of the E.164 form, as a `+` means. Any query also matches any part of a name, whatever
the case. Buttons appear only in a channel and only for people who may change its numbers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

from bot.actions import ActionContext, CardAction
from bot.commands import Command
from bot.mappings import InAnotherChannel, Unmapped
from bot.permissions import Allowed, CannotTell, NotAllowed
from bot.storage.models import AuditAction
from bot.turn import Change, Refusal, Turn, page_of
from cards.elements import Card
from cards.find import QUERY_LIMIT, FoundNumber
from contextsms.models import Mapping
from contextsms.phone import national_format

if TYPE_CHECKING:
    from bot.handlers import MappingBot

log = logging.getLogger("bot")

# What a number is written with besides its digits: `+1 (555) 987-6543`, `555.987.6543`.
_NUMBERISH = re.compile(r"^\+?[\d\s().\-/]*\d[\d\s().\-/]*$")
_NOT_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class Query:
    """What was typed after `find`, read once."""

    text: str  # as typed, one line, at most QUERY_LIMIT characters: signed on the Next button
    words: str  # the text to find in names: case folded, spaces collapsed
    digits: str | None  # the digits to find in numbers, where the text is a number's
    international: bool  # it started with `+`: the digits begin the E.164 form

    @classmethod
    def of(cls, typed: str) -> Query:
        text = " ".join(typed.split())[:QUERY_LIMIT].strip()
        numberish = bool(_NUMBERISH.match(text))
        return cls(
            text=text, words=text.casefold(),
            digits=_NOT_DIGIT.sub("", text) if numberish else None,
            international=numberish and text.startswith("+"),
        )  # fmt: skip

    def matches(self, mapping: Mapping) -> bool:
        if self.digits:
            e164 = mapping.phone_number.lstrip("+")
            if self.international:
                if e164.startswith(self.digits):
                    return True
            elif self.digits in e164 or self.digits in _digits(mapping.phone_number):
                return True
        name = " ".join((mapping.name or "").split()).casefold()
        return bool(self.words) and self.words in name


def _digits(e164: str) -> str:
    """The digits of the number as its country writes it (its trunk prefix included)."""
    return _NOT_DIGIT.sub("", national_format(e164))


def _order(mapping: Mapping) -> tuple[bool, str, str]:
    """Named numbers by name, then the unnamed; the same name by number."""
    name = (mapping.name or "").casefold()
    return (not name, name, mapping.phone_number)


def found(mappings: list[Mapping], query: Query) -> list[Mapping]:
    """The mappings that match `query`, in the order the card shows them."""
    return sorted((m for m in mappings if query.matches(m)), key=_order)


class FindHandlers:
    def __init__(self, core: MappingBot) -> None:
        self.core = core

    async def find_command(self, turn: Turn, command: Command) -> Card:
        return await self._page(turn, Query.of(command.argument), 0)

    async def on_find(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._page(turn, Query.of(ctx.mapping_id or ""), ctx.page or 0)

    async def on_unmap_ask(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        existing, shown = await self._still_there(turn, ctx)
        return turn.screens.find_confirm_unmap(existing, await turn.channel_label(shown))

    async def on_unmap_confirm(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        existing, shown = await self._still_there(turn, ctx)
        turn.change = Change(AuditAction.UNMAP, existing.phone_number, before=shown)
        outcome = await self.core.service.unmap(shown, existing, turn.limit)
        match outcome:
            case InAnotherChannel(mapping):  # never: _still_there checked this same mapping
                await self.core._done(turn, changed=False)
                return await self._moved(turn, mapping, shown)
            case Unmapped(number, already):
                await self.core._done(turn, changed=not already)
                label = await turn.channel_label(shown)
                if not already:
                    self.core.notify_left(turn, existing.phone_number, shown, None, None)
                return turn.screens.find_unmapped(number or existing.phone_number, label, already)
            case _:
                assert_never(outcome)

    async def _page(self, turn: Turn, query: Query, page: int) -> Card:
        if not query.text:
            raise Refusal(turn.screens.find_usage(), "invalid")
        matching = found(await self.core.service.all(turn.enterprise_id, turn.limit), query)
        if not matching:
            return turn.screens.find_none(query.text)
        shown, page, pages = page_of(matching, page)
        buttons, note = await self._buttons(turn)
        here = turn.conversation.channel_id
        channels = dict.fromkeys(m.messaging_app_id for m in shown)
        labels = {cid: await turn.channel_label(cid) for cid in channels}
        rows = [
            FoundNumber(m, labels[m.messaging_app_id], here=m.messaging_app_id == here)
            for m in shown
        ]
        return turn.screens.find_results(
            query.text, rows, page=page, pages=pages, total=len(matching), buttons=buttons,
            note=note,
        )  # fmt: skip

    async def _buttons(self, turn: Turn) -> tuple[bool, str | None]:
        """Whether the rows get their buttons here, and if not, why (briefly)."""
        if not turn.conversation.in_channel:
            return False, "To move or unmap one of these numbers, use `find` in a channel."
        answer = await self.core._may_change(turn, owners_only=False)
        match answer:
            case Allowed():
                return True, None
            case NotAllowed(who_can):
                return False, f"Only {who_can} can move or unmap numbers here."
            case CannotTell(reason):
                log.warning("permissions could not be checked for find: %s", reason)
                return False, (
                    "Teams could not tell me whether you may move or unmap numbers here, so "
                    "this card has no buttons. Try again in a few minutes."
                )
            case _:
                assert_never(answer)

    async def _still_there(self, turn: Turn, ctx: ActionContext) -> tuple[Mapping, str]:
        """The mapping the card acts on and the channel the card showed it in, if it is still
        there; otherwise a Refusal whose card says where it is now."""
        existing = await self.core.service.by_id(
            turn.enterprise_id, ctx.mapping_id or "", turn.limit
        )
        shown = ctx.target or ""
        if existing is None:
            raise Refusal(turn.screens.find_gone())
        if existing.messaging_app_id != shown:
            raise Refusal(await self._moved(turn, existing, shown))
        return existing, shown

    async def _moved(self, turn: Turn, mapping: Mapping, shown: str) -> Card:
        now = mapping.messaging_app_id
        return turn.screens.find_moved(
            mapping, await turn.channel_label(now), await turn.channel_label(shown),
            here=now == turn.conversation.channel_id,
        )  # fmt: skip
