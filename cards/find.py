"""The find screens (issue 9): the numbers that match what was typed, with their channels and
what the person may do with each, and unmapping a number that the card showed in another
channel."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actions import CardVerb
from cards.base import DETAIL_SHOWN, NAME_SHOWN, ROW_SHOWN, ScreenBase, number_text
from cards.elements import (
    CARD_SIZE_LIMIT,
    Card,
    Element,
    action_set,
    card_size,
    container,
    heading,
    text,
)
from cards.markdown import plain
from contextsms.models import Mapping

# Characters of a query kept (and signed into the paging buttons): a name or a number is
# found by far fewer, and a card's buttons must stay small whatever was typed.
QUERY_LIMIT = 60
# Characters of a name and of a channel on a row, the first that lets the page fit: a row holds
# both, and its buttons carry the ids of the number and of its channel (a page of emoji names
# needs DETAIL_SHOWN with real ids; the last two are for ids far longer than Teams' and ours).
ROW_LIMITS = (ROW_SHOWN, DETAIL_SHOWN, 16, 4)


@dataclass(frozen=True)
class FoundNumber:
    """A number that matched, with the label of its channel; `here` when it is the channel
    the card is shown in."""

    mapping: Mapping
    channel: str
    here: bool


def _name(mapping: Mapping, limit: int) -> str:
    return plain(mapping.name, limit) if mapping.name else "Unnamed"


def _channel(label: str, limit: int = NAME_SHOWN) -> str:
    return f"**{plain(label, limit)}**"


class FindScreens(ScreenBase):
    def find_usage(self) -> Card:
        """`find` typed without anything to look for."""
        return self.card(
            [
                heading("What should I look for?"),
                text(
                    "Type `find` and part of a number or of a name, e.g. `find 987 65`, "
                    "`find +1555987` or `find front desk`. I list your organization's numbers "
                    "that match, with their channels."
                ),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def find_none(self, query: str) -> Card:
        return self.card(
            [
                heading("No match"),
                text(f"No number of your organization matches **{plain(query, QUERY_LIMIT)}**."),
            ]
        )

    def find_results(
        self, query: str, rows: list[FoundNumber], *, page: int, pages: int, total: int,
        buttons: bool, note: str | None = None,
    ) -> Card:  # fmt: skip
        """One page of the numbers matching `query` (`rows` is the page's, of `total`), with
        Move here and Unmap on each when `buttons`; `note` says why there are none. Names and
        channels are shown shorter where a page of long ones would not fit."""
        query = query[:QUERY_LIMIT]  # as `find` reads it: the buttons carry no more
        for limit in ROW_LIMITS:
            result = self._results(query, rows, page, pages, total, buttons, note, limit)
            if card_size(result) < CARD_SIZE_LIMIT:
                break
        return result

    def _results(
        self, query: str, rows: list[FoundNumber], page: int, pages: int, total: int,
        buttons: bool, note: str | None, limit: int,
    ) -> Card:  # fmt: skip
        found = "1 number matches" if total == 1 else f"{total} numbers match"
        body: list[Element] = [
            heading("Numbers found"),
            text(f"{found} **{plain(query, QUERY_LIMIT)}**."),
        ]
        if note:
            body.append(text(note, subtle=True))
        for row in rows:
            body.append(container(self._found_row(row, buttons, limit), separator=True))
        return self.card(body, self._pager(CardVerb.FIND, page, pages, body, query))

    def _found_row(self, row: FoundNumber, buttons: bool, limit: int) -> list[Element]:
        mapping = row.mapping
        where = (
            f"In this channel ({plain(row.channel, limit)})"
            if row.here
            else f"In {_channel(row.channel, limit)}"
        )
        items: list[Element] = [
            text(f"**{_name(mapping, limit)}**: {number_text(mapping.phone_number)}"),
            text(where, subtle=True),
        ]
        if not buttons:
            return items
        unmap = "Unmap"
        if row.here:
            actions = [
                self.act(unmap, CardVerb.UNMAP_ASK, style="destructive", mapping_id=mapping.id)
            ]
        else:
            actions = [
                self.act("Move here", CardVerb.REMAP, style="positive", mapping_id=mapping.id),
                self.act(unmap, CardVerb.FIND_UNMAP_ASK, style="destructive",
                         mapping_id=mapping.id, target=mapping.messaging_app_id),
            ]  # fmt: skip
        return [*items, action_set(actions)]

    def find_confirm_unmap(self, mapping: Mapping, channel: str) -> Card:
        """Unmap a number of another channel (`channel` its label) that a find card showed."""
        return self.card(
            [
                heading("Unmap this number?", "warning"),
                text(
                    f"SMS to {number_text(mapping.phone_number)} ({_name(mapping, NAME_SHOWN)}) "
                    f"will stop arriving in {_channel(channel)}."
                ),
            ],
            [
                self.act("Unmap", CardVerb.FIND_UNMAP_CONFIRM, style="destructive",
                         mapping_id=mapping.id, target=mapping.messaging_app_id),
                self.act("Cancel", CardVerb.STATUS),
            ],
        )  # fmt: skip

    def find_unmapped(self, number: str, channel: str, already: bool) -> Card:
        """A number of another channel (`channel` its label) unmapped from the find card."""
        return self.card(
            [
                heading("Already unmapped" if already else "Number unmapped", "good"),
                text(f"{number_text(number)} is no longer mapped to {_channel(channel)}."),
            ],
            [self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def find_moved(self, mapping: Mapping, now: str, shown: str, here: bool) -> Card:
        """The number is no longer in the channel the card showed (`shown`) but in `now`
        (`here` when that is this channel): nothing was changed."""
        if here:
            unmap = self.act("Unmap it here", CardVerb.UNMAP_ASK, style="destructive",
                             mapping_id=mapping.id)  # fmt: skip
        else:
            unmap = self.act("Unmap it there", CardVerb.FIND_UNMAP_ASK, style="destructive",
                             mapping_id=mapping.id, target=mapping.messaging_app_id)  # fmt: skip
        return self.card(
            [
                heading("This number has moved", "warning"),
                text(
                    f"{number_text(mapping.phone_number)} is now mapped to {_channel(now)}, "
                    f"not to {_channel(shown)} as the card showed, so nothing was changed."
                ),
            ],
            [unmap, self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def find_gone(self) -> Card:
        """The number the card showed is no longer mapped in the organization."""
        return self.card(
            [
                heading("Already unmapped", "good"),
                text(
                    "That number is no longer mapped in your organization, so nothing was changed."
                ),
            ],
            [self.act("This channel's numbers", CardVerb.STATUS)],
        )
