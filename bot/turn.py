"""What every handler shares: the turn (a message or card action with its link, cards and time
budget), the refusal a handler raises to answer with a card, and the routes' access levels.

Handlers live in `bot.handlers` and in the feature modules it composes (`bot.finding`,
`bot.bulk_chat`); they all work on a `Turn`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from bot.actions import ActionContext, CardAction
from bot.commands import Command
from bot.conversation import CardUpdater, Conversation, Person, TeamDirectory
from bot.storage.models import AuditAction, Link
from cards.elements import Card
from cards.screens import PAGE_SIZE, Screens, number_text
from contextsms.retry import Deadline

log = logging.getLogger("bot")

# How long one request may take at the API in all, retries included. Teams waits less (5 s
# for a card action, 15 s for a message): bot/teams.py answers in time with a "working on it"
# card and updates it when the work is done.
API_DEADLINE = 30.0
OWNER = "an owner of this team"  # who may do what only owners may, when Graph says who is not
SET_UP = "set up this organization or team with a code"  # what a refused person may not do


@dataclass(frozen=True)
class BotOptions:
    default_region: str = "US"
    product: str = "ContextSMS"
    deadline: float = API_DEADLINE
    # How long who may change what is looked up (Graph and its token) before the change is
    # refused as not checkable: within Teams' 5 s for a card action's answer, and its 15 s for
    # a message's (whose change then has the "working on it" card's time).
    permission_wait_action: float = 3.0
    permission_wait_message: float = 8.0


class Refusal(Exception):
    """A request we decline with a card (never an error trace). `outcome` names it in the
    activity log: "refused", or "invalid" for input that cannot be used."""

    def __init__(self, card: Card, outcome: str = "refused") -> None:
        super().__init__(outcome)
        self.card = card
        self.outcome = outcome


class Access(Enum):
    ANYONE = "anyone"  # help, setup (which checks its own people): in any tenant, linked or not
    READ = "read"  # any member of a linked team
    CHANGE = "change"  # owners and operators, or every member where the team's option says so
    MANAGE = "manage"  # owners and operators (history, settings)
    OPERATOR = "operator"  # the reseller's operators; anyone else is told nothing of it


ON_THE_LINK = frozenset({Access.READ, Access.CHANGE, Access.MANAGE})


@dataclass(frozen=True)
class Change:
    """A mapping change under way, recorded in the audit trail however it ends."""

    action: AuditAction
    number: str | None = None
    before: str | None = None  # channel ids
    after: str | None = None


@dataclass
class Turn:
    """One message or action: where it comes from, its link, its cards and its time budget."""

    conversation: Conversation
    screens: Screens
    link: Link | None
    limit: Deadline
    directory: TeamDirectory
    operator: bool
    permission_wait: float  # seconds the permission check may take in this turn
    updater: CardUpdater | None = None  # a card action's card, for updates as work goes on
    change: Change | None = None
    about_enterprises: bool = False  # an operator's change: an unknown outcome shows those

    @property
    def channel_id(self) -> str:
        assert self.conversation.channel_id is not None  # routes that need one check first
        return self.conversation.channel_id

    @property
    def enterprise_id(self) -> str:
        assert self.link is not None  # routes on the link are admitted only with one
        return self.link.enterprise_id

    @property
    def person(self) -> Person:
        assert self.conversation.user is not None  # operators are known people
        return self.conversation.user

    async def channel_names(self) -> dict[str, str]:
        """The team's channel names as Teams tells them; none when Teams cannot say."""
        try:
            return await self.directory.channel_names()
        except Exception:  # a name is a nicety: callers fall back to the id
            log.warning("could not read channel names", exc_info=True)
            return {}

    async def channel_label(self, channel_id: str) -> str:
        known = self.conversation.known_channel_name(channel_id)
        if known:
            return known
        names = await self.channel_names()
        if channel_id in names:
            return names[channel_id]
        if channel_id == self.conversation.channel_id:
            return "this channel"
        return f"another channel ({channel_id})"


CommandHandler = Callable[[Turn, Command], Awaitable[Card]]
ActionHandler = Callable[[Turn, ActionContext, CardAction], Awaitable[Card]]


H = TypeVar("H", CommandHandler, ActionHandler)
R = TypeVar("R")


def page_of(rows: Sequence[R], page: int) -> tuple[list[R], int, int]:
    """The rows of page `page` (kept within the pages there are), that page, and how many
    pages there are (at least one, even without rows)."""
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    return list(rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]), page, pages


@dataclass(frozen=True)
class Route(Generic[H]):
    handler: H
    access: Access
    in_channel: bool = False  # it maps numbers to the channel it comes from, so it needs one
    what: str = "map, move or unmap numbers here"  # what a refused person may not do
    changes: bool = False  # it writes: a card made where no enterprise was linked may not


def no_longer_mapped(number: str | None) -> str:
    """The notice for a number someone unmapped since the card was sent."""
    which = number_text(number) if number else "That number"
    return f"{which} is no longer mapped in your organization, so nothing was changed."
