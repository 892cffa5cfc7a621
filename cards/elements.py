"""Small builders for Adaptive Card elements, so the screens read as layouts."""

from __future__ import annotations

import json
from typing import Any

Card = dict[str, Any]
Element = dict[str, Any]

CARD_VERSION = "1.5"
CARD_SIZE_LIMIT = 28 * 1024  # Teams refuses messages over about 28 KB


def card(body: list[Element], actions: list[Element] | None = None) -> Card:
    result: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        result["actions"] = actions
    return result


# The colour names of Adaptive Cards, which the host themes (light, dark, high contrast).
COLORS = {"default": "Default", "good": "Good", "attention": "Attention", "warning": "Warning",
          "accent": "Accent"}  # fmt: skip


def heading(text: str, style: str = "default") -> Element:
    return {
        "type": "TextBlock",
        "text": text,
        "size": "Large",
        "weight": "Bolder",
        "wrap": True,
        "style": "heading",
        "color": COLORS[style],
    }


def is_heading(element: Element) -> bool:
    return element.get("type") == "TextBlock" and element.get("style") == "heading"


def image(url: str, alt: str, size: str = "Small") -> Element:
    return {"type": "Image", "url": url, "altText": alt, "size": size}


def columns(*cells: tuple[str, list[Element]]) -> Element:
    """A row of columns, each (width, items), their content centred vertically."""
    return {
        "type": "ColumnSet",
        "columns": [
            {"type": "Column", "width": width, "verticalContentAlignment": "Center",
             "items": items}
            for width, items in cells
        ],
    }  # fmt: skip


def text(value: str, *, subtle: bool = False, weight: str | None = None) -> Element:
    block: Element = {"type": "TextBlock", "text": value, "wrap": True}
    if subtle:
        block["isSubtle"] = True
    if weight:
        block["weight"] = weight
    return block


def facts(pairs: list[tuple[str, str]]) -> Element:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def container(
    items: list[Element], *, style: str | None = None, separator: bool = False
) -> Element:
    block: Element = {"type": "Container", "items": items}
    if style:
        block["style"] = style
    if separator:
        block["separator"] = True
    return block


def execute(
    title: str, verb: str, data: dict[str, Any], *, style: str | None = None, inputs: bool = False
) -> Element:
    """An Action.Execute. Only a form's own button sends (and validates) the card's inputs:
    any other button of a card with a required input would otherwise be blocked by it."""
    action: Element = {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": data,
        "associatedInputs": "auto" if inputs else "none",
    }
    if style:
        action["style"] = style
    return action


def action_set(actions: list[Element]) -> Element:
    return {"type": "ActionSet", "actions": actions}


def card_size(value: Card) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())
