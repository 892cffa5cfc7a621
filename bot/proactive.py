"""Posting where no activity asked: the notices of `bot.notices`, through the conversation
references kept in storage and the adapter (its limiter and retries).

A notice goes only to a conversation that acts on the notice's enterprise, as the bot decides
it for a message there (`Tenancy.link_of`: the team's link, else the tenant's): ContextSMS
takes any id as a mapping's channel, so another enterprise's mapping may name a channel of ours,
and its change must not be told there. The channel the numbers went to is named only in the
actor's own tenant.

Each notice is a task of its own, so the change that caused it never waits for Teams; what
becomes of it is one log line (`notice`), without the number, the names or the card's text.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from bot.adapter import NotInConversation
from bot.audit import tenant_key
from bot.branding import Brand
from bot.conversation import Conversation
from bot.notices import NumberLeft, logged
from bot.storage.base import Storage
from bot.storage.models import ConversationRef
from bot.tenancy import Tenancy
from cards import notices as cards
from cards.elements import Card

GRACE = 5.0  # seconds notices under way get on shutdown before they are cancelled


class CardPoster(Protocol):
    """The adapter's part that posts a card where no activity asked (`RetryingCloudAdapter`)."""

    async def post_card(self, reference: dict[str, Any], card: Card, app_id: str | None) -> None:
        """Raises NotInConversation when the bot was removed from the conversation."""


class ProactiveNotices:
    def __init__(
        self, adapter: Any, storage: Storage, tenancy: Tenancy, app_id: str | None
    ) -> None:
        self.adapter: CardPoster = adapter
        self.storage = storage
        self.tenancy = tenancy
        self.app_id = app_id
        self._sending: set[asyncio.Task[None]] = set()

    def number_left(self, notice: NumberLeft, brand: Brand) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing can be posted from here
            logged(notice, "failed", error="NoEventLoop")
            return
        task = loop.create_task(self._send(notice, brand))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def aclose(self, grace: float = GRACE) -> None:
        if self._sending:
            await asyncio.wait(self._sending, timeout=grace)
        for task in list(self._sending):
            task.cancel()

    async def _send(self, notice: NumberLeft, brand: Brand) -> None:
        try:
            kept = await self.storage.reference(notice.from_channel)
            if kept is None:
                logged(notice, "skipped", reason="no reference")
                return
            if not notice.numbers:
                logged(notice, "skipped", reason="no numbers")
                return
            if not await self._acts_on(kept, notice.enterprise_id):
                logged(notice, "skipped", reason="other_enterprise")
                return
            assert kept.tenant_id is not None  # _acts_on: a conversation without one acts on none
            same = tenant_key(kept.tenant_id) == tenant_key(notice.tenant_id)
            card = cards.number_left(notice, brand, same_organization=same)
            await self.adapter.post_card(kept.reference, card, self.app_id)
        except NotInConversation:
            await self._forget(notice)
        except Exception as exc:  # the change stands; the channel is not told
            logged(notice, "failed", error=type(exc).__name__)
        else:
            logged(notice, "sent")

    async def _acts_on(self, kept: ConversationRef, enterprise_id: str) -> bool:
        """Whether a message in the kept conversation would act on `enterprise_id`."""
        if not kept.tenant_id:
            return False
        link = await self.tenancy.link_of(
            Conversation(tenant_id=kept.tenant_id, channel_id=kept.channel_id, team_id=kept.team_id)
        )
        return link is not None and link.enterprise_id == enterprise_id

    async def _forget(self, notice: NumberLeft) -> None:
        """The bot was removed from the channel: its reference is of no more use."""
        try:
            await self.storage.remove_reference(notice.from_channel)
        except Exception as exc:
            logged(notice, "skipped", reason="bot removed", error=type(exc).__name__)
            return
        logged(notice, "skipped", reason="bot removed")
