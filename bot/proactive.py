"""Posting where no activity asked: the notices of `bot.notices`, through the conversation
references kept in storage and the adapter (its limiter and retries).

Each notice is a task of its own, so the change that caused it never waits for Teams; what
becomes of it is one log line (`notice`), without the number, the names or the card's text.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from bot.adapter import NotInConversation
from bot.branding import Brand
from bot.notices import NumberLeft, logged
from bot.storage.base import Storage
from cards import notices as cards
from cards.elements import Card

GRACE = 5.0  # seconds notices under way get on shutdown before they are cancelled


class CardPoster(Protocol):
    """The adapter's part that posts a card where no activity asked (`RetryingCloudAdapter`)."""

    async def post_card(self, reference: dict[str, Any], card: Card, app_id: str | None) -> None:
        """Raises NotInConversation when the bot was removed from the conversation."""


class ProactiveNotices:
    def __init__(self, adapter: Any, storage: Storage, app_id: str | None) -> None:
        self.adapter: CardPoster = adapter
        self.storage = storage
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
            same = (kept.tenant_id or "").lower() == notice.tenant_id.lower()
            card = cards.number_left(notice, brand, same_organization=same)
            await self.adapter.post_card(kept.reference, card, self.app_id)
        except NotInConversation:
            await self._forget(notice)
        except Exception as exc:  # the change stands; the channel is not told
            logged(notice, "failed", error=type(exc).__name__)
        else:
            logged(notice, "sent")

    async def _forget(self, notice: NumberLeft) -> None:
        """The bot was removed from the channel: its reference is of no more use."""
        try:
            await self.storage.remove_reference(notice.from_channel)
        except Exception as exc:
            logged(notice, "skipped", reason="bot removed", error=type(exc).__name__)
            return
        logged(notice, "skipped", reason="bot removed")
