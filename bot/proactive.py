"""Posting where no activity asked: the notices of `bot.notices`, through the conversation
references kept in storage and the adapter (its limiter and retries).

SKELETON (issue 9, part 3 fills it in): the signatures are the contract, see bot/issue9_api.md.
"""

from __future__ import annotations

from typing import Any

from bot.branding import Brand
from bot.notices import NumberLeft
from bot.storage.base import Storage


class ProactiveNotices:
    def __init__(self, adapter: Any, storage: Storage, app_id: str | None) -> None:
        self.adapter = adapter
        self.storage = storage
        self.app_id = app_id

    def number_left(self, notice: NumberLeft, brand: Brand) -> None:
        return None

    async def aclose(self) -> None:
        return None
