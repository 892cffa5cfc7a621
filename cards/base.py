"""What every screen shares: the signed buttons of one conversation, paging, and how dates and
numbers are written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.actions import ActionContext, CardVerb
from bot.branding import Brand
from cards.elements import COLORS, Card, Element, card, columns, execute, image, is_heading, text
from cards.markdown import plain
from contextsms.phone import national_format

DEFAULT_BRAND = Brand()

Sign = Callable[[CardVerb, ActionContext], dict[str, Any]]

PAGE_SIZE = 10  # rows on a page (numbers, enterprises, links, history): far under 28 KB
TYPED_LIMIT = 40  # characters of what a person typed, when a card shows it back
NAME_SHOWN = 100  # characters of a name from elsewhere (a mapping, an enterprise, a person)
# Characters of a name or channel on a row of a page of PAGE_SIZE rows. A character outside the
# Basic Multilingual Plane (an emoji) is 12 bytes as sent (a \\uXXXX pair): ten rows of them
# must stay under 28 KB with the rows' buttons. Rows that hold several texts (a history entry:
# who, from, to, outcome, reference; an enterprise and its links) show each shorter.
ROW_SHOWN = 60
DETAIL_SHOWN = 32


def when(value: datetime | None) -> str:
    if value is None:
        return "unknown"
    # Adaptive Cards format dates in the reader's own time zone and language.
    iso = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({iso}, SHORT)}}}} {{{{TIME({iso})}}}}"


def number_text(e164: str) -> str:
    """A number as its country writes it, with its E.164 form: `(555) 987-6543 (+15559876543)`."""
    national = national_format(e164)
    return f"{national} ({e164})" if national != e164 else national


def branded(body: list[Element], actions: list[Element] | None, brand: Brand) -> Card:
    """A card in `brand`: every card the bot sends is made here (or by `ScreenBase.card`).

    A heading in the neutral colour takes the brand's (one in good, warning or attention
    colour keeps it: it tells how things went). The logo, where the brand has one, sits in a
    small column left of the heading, or alone above a card that opens without one."""
    top, rest = body[:1], body[1:]
    if top and is_heading(top[0]) and top[0].get("color") == COLORS["default"]:
        top = [{**top[0], "color": COLORS[brand.color]}]
    if brand.logo_url:
        logo = image(brand.logo_url, brand.product)
        if top and is_heading(top[0]):
            top = [columns(("auto", [logo]), ("stretch", top))]
        else:
            top = [logo, *top]
    return card([*top, *rest], actions)


class ScreenBase:
    """Bound to one conversation: its buttons are signed for that tenant, channel and
    enterprise."""

    def __init__(
        self, sign: Sign, ctx: ActionContext, brand: Brand = DEFAULT_BRAND, region: str = "US"
    ) -> None:
        self._sign = sign
        self._ctx = ctx
        self.brand = brand
        self.region = region

    @property
    def product(self) -> str:
        """The brand's product name, as literal text (a CSP names it, not us)."""
        return plain(self.brand.product)

    def card(self, body: list[Element], actions: list[Element] | None = None) -> Card:
        """A card of this conversation, in its brand."""
        return branded(body, actions, self.brand)

    def act(
        self, title: str, verb: CardVerb, *, style: str | None = None, inputs: bool = False,
        mapping_id: str | None = None, page: int | None = None, target: str | None = None,
    ) -> Element:  # fmt: skip
        data = self._sign(verb, self._ctx.at(mapping_id=mapping_id, page=page, target=target))
        return execute(title, verb.value, data, style=style, inputs=inputs)

    def _pager(
        self, verb: CardVerb, page: int, pages: int, body: list[Element],
        mapping_id: str | None = None,
    ) -> list[Element]:  # fmt: skip
        """The page's number at the end of `body`, and the Previous and Next buttons (signed
        with `mapping_id` where the pages are of something: a query)."""
        actions: list[Element] = []
        if pages > 1:
            body.append(text(f"Page {page + 1} of {pages}", subtle=True))
            if page > 0:
                actions.append(self.act("Previous", verb, mapping_id=mapping_id, page=page - 1))
            if page + 1 < pages:
                actions.append(self.act("Next", verb, mapping_id=mapping_id, page=page + 1))
        return actions
