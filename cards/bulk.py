"""The bulk screens (issue 9). SKELETON: part 5 fills it in; see bot/issue9_api.md."""

from __future__ import annotations

from cards.base import ScreenBase


class BulkScreens(ScreenBase):
    pass
