"""Adaptive Cards (version 1.5) the bot sends, as plain dicts.

`cards.screens.Screens` builds every card of one conversation (its buttons signed for that
channel and enterprise), from the small element builders of `cards.elements`; people's text
goes through `cards.markdown.plain`. No Bot Framework types here; tests build every card and
validate it with Microsoft's renderer and the official schema, and check it fits under
`CARD_SIZE_LIMIT` whatever the data.
"""

from cards.elements import CARD_SIZE_LIMIT, Card, card_size

__all__ = ["CARD_SIZE_LIMIT", "Card", "card_size"]
