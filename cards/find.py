"""The find screens (issue 9). SKELETON: part 2 fills it in; see bot/issue9_api.md."""

from __future__ import annotations

from cards.base import ScreenBase


class FindScreens(ScreenBase):
    pass
