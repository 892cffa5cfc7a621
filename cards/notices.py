"""The notice a channel gets when it lost a number: which number, where it went, who did it.

Posted where nobody asked (bot/proactive.py), so it carries no buttons: a button is signed
for the conversation of a turn, and there is none.
"""

from __future__ import annotations

from bot.branding import Brand
from bot.notices import NumberLeft
from cards.base import NAME_SHOWN, branded, number_text
from cards.elements import Card, Element, heading, text
from cards.markdown import plain


def number_left(notice: NumberLeft, brand: Brand, *, same_organization: bool) -> Card:
    """`same_organization`: the channel is in the tenant of whoever made the change; only
    then is the person named (another organization's people are not ours to show)."""
    number = number_text(notice.numbers[0])
    if notice.to_channel is None:
        title = "Number unmapped"
        what = f"{number} was unmapped: its SMS no longer arrive in this channel."
    else:
        where = (
            f"**{plain(notice.to_label, NAME_SHOWN)}**" if notice.to_label else "another channel"
        )
        title = "Number moved to another channel"
        what = f"SMS to {number} now arrive in {where} instead of this channel."
    body: list[Element] = [heading(title), text(what)]
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
