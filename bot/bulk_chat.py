"""Bulk mapping in a channel: `map` followed by a list, or the form; the preview; applying it
with the card updated in place as it goes.

SKELETON (issue 9, part 5 fills it in): the signatures are the contract, see bot/issue9_api.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions import ActionContext, CardAction
from bot.bulk import BulkMapper
from bot.commands import Command
from bot.turn import Turn
from cards.elements import Card

if TYPE_CHECKING:
    from bot.handlers import MappingBot


class BulkChat:
    def __init__(self, core: MappingBot, mapper: BulkMapper) -> None:
        self.core = core
        self.mapper = mapper

    async def map_lines(self, turn: Turn, command: Command) -> Card:
        """`map` followed by several lines: owners and operators only, then the preview."""
        raise NotImplementedError

    async def on_form(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        raise NotImplementedError

    async def on_preview(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        raise NotImplementedError

    async def on_apply(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        raise NotImplementedError

    async def on_show(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        raise NotImplementedError

    async def aclose(self, grace: float = 5.0) -> None:
        """Let runs under way finish, for a little while."""
