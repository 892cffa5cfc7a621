"""Notices to the channel that lost a number: moved to another channel, or unmapped from a
card in another channel. Sent in the background through the stored conversation reference;
a failed notice is logged and never undoes the change.

`bot.proactive.ProactiveNotices` posts them; the card is `cards.notices.number_left`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot import activity_log
from bot.branding import Brand
from bot.conversation import Person
from bot.logs import event

log = logging.getLogger("bot.notices")


@dataclass(frozen=True)
class NumberLeft:
    tenant_id: str  # the tenant of whoever changed it
    enterprise_id: str
    numbers: tuple[str, ...]  # E.164; all those one change (or one bulk run) took away
    from_channel: str  # the channel that lost it (its Teams channel id)
    to_channel: str | None  # where it went; None: unmapped
    to_label: str | None  # that channel's name as the person's card showed it
    by: Person | None


class Notices(Protocol):
    def number_left(self, notice: NumberLeft, brand: Brand) -> None:
        """Send the notice in the background; never raises, never waits for Teams."""

    async def aclose(self) -> None:
        """Let notices under way finish, for a little while."""


class NoNotices:
    """Where nothing can be posted (the admin command line): notices are only logged."""

    def number_left(self, notice: NumberLeft, brand: Brand) -> None:
        logged(notice, "skipped", reason="no Teams here")

    async def aclose(self) -> None:
        return None


def logged(notice: NumberLeft, outcome: str, *, reason: str | None = None,
           error: str | None = None) -> None:  # fmt: skip
    """What became of a notice, as one line: the channel as a hash, never the number, a
    name or the card's text."""
    event(log, "notice", {
        "outcome": outcome, "reason": reason, "error": error,
        "conversation": activity_log.short_hash(notice.from_channel),
        "enterprise": notice.enterprise_id, "moved": notice.to_channel is not None,
        "numbers": len(notice.numbers),
    }, logging.WARNING if outcome == "failed" else logging.INFO)  # fmt: skip
