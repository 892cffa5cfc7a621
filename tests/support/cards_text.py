"""Walking a card as its reader does: every object in it, depth first, in the order shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def elements(node: Any) -> Iterator[dict[str, Any]]:
    """Every object of a card (elements, actions, choices, facts), each before its children."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from elements(value)
    elif isinstance(node, list):
        for value in node:
            yield from elements(value)
