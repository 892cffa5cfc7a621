"""Adaptive Cards (version 1.5) the bot sends, as data: each function returns a card dict.

No Bot Framework types here; tests build every card and validate it with Microsoft's renderer
and the official schema.
"""

from cards.elements import CARD_SIZE_LIMIT, Card, card_size

__all__ = ["CARD_SIZE_LIMIT", "Card", "card_size"]
