"""The notice a channel gets when it lost numbers: which numbers, where they went, who did it.

Posted where nobody asked (bot/proactive.py), so it carries no buttons: a button is signed
for the conversation of a turn, and there is none. A bulk run sends one notice per channel
that lost numbers, so a notice may list many: the first NUMBERS_SHOWN, then how many more.
"""

from __future__ import annotations

from bot.branding import Brand
from bot.notices import NumberLeft
from cards.base import NAME_SHOWN, branded, number_text
from cards.elements import Card, Element, heading, text
from cards.markdown import plain

NUMBERS_SHOWN = 20  # numbers listed on one notice; with the rest counted it stays far under 28 KB


def number_left(notice: NumberLeft, brand: Brand, *, same_organization: bool) -> Card:
    """`same_organization`: the channel is in the tenant of whoever made the change; only
    then are the person and the channel the numbers went to named (another organization's
    people and channels are not ours to show)."""
    count = len(notice.numbers)
    one = number_text(notice.numbers[0]) if count == 1 else None
    if notice.to_channel is None:
        if one:
            title = "Number unmapped"
            what = f"{one} was unmapped: its SMS no longer arrive in this channel."
        else:
            title = f"{count} numbers unmapped"
            what = (
                f"These {count} numbers were unmapped: their SMS no longer arrive in this channel."
            )
    else:
        if not same_organization:
            where = "a channel of another organization"
        elif notice.to_label:
            where = f"**{plain(notice.to_label, NAME_SHOWN)}**"
        else:
            where = "another channel"
        if one:
            title = "Number moved to another channel"
            what = f"SMS to {one} now arrive in {where} instead of this channel."
        else:
            title = f"{count} numbers moved to another channel"
            what = f"SMS to these {count} numbers now arrive in {where} instead of this channel."
    body: list[Element] = [heading(title), text(what)]
    if one is None:
        body.extend(text(number_text(number)) for number in notice.numbers[:NUMBERS_SHOWN])
        if count > NUMBERS_SHOWN:
            body.append(text(f"…and {count - NUMBERS_SHOWN} more.", subtle=True))
    if notice.by is not None:
        if not same_organization:
            who = "someone in another organization"
        elif notice.by.name:
            who = plain(notice.by.name, NAME_SHOWN)
        else:
            who = "someone in your organization"
        body.append(text(f"Changed by {who}.", subtle=True))
    body.append(text("Type `status` here to see this channel's numbers now.", subtle=True))
    return branded(body, None, brand)
