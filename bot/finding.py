"""`find`: the enterprise's numbers that match what was typed, and what may be done with each.

SKELETON (issue 9, part 2 fills it in): the signatures are the contract, see bot/issue9_api.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions import ActionContext, CardAction
from bot.commands import Command
from bot.turn import Turn
from cards.elements import Card

if TYPE_CHECKING:
    from bot.handlers import MappingBot


class FindHandlers:
    def __init__(self, core: MappingBot) -> None:
        self.core = core

    async def find_command(self, turn: Turn, command: Command) -> Card:
        raise NotImplementedError

    async def on_find(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        raise NotImplementedError

    async def on_unmap_ask(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        raise NotImplementedError

    async def on_unmap_confirm(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        raise NotImplementedError
