"""People's text on cards: shown as written, never as markup, never longer than a card allows.

TextBlocks and FactSets render markdown, so a name like `[Reset your password](https://...)`
would become a live link. Every value a person or the API gave (names, channel names, typed
text) goes through `plain` before it joins our own markup.
"""

from __future__ import annotations

import re

# The characters that start markup in the Markdown subset Teams renders (emphasis, links,
# code, headings, strike-through, tables, HTML) and `{`, which starts the card's own
# `{{DATE(...)}}` functions. CommonMark lets any ASCII punctuation be escaped by a backslash.
_MARKUP = re.compile(r"([\\`*_\[\]<>#~|{}!])")
# At the start of a line, list markers: "- x", "+ x", "1. x", "1) x".
_LIST_START = re.compile(r"^(\s*)([-+]|\d+[.)])(?=\s|$)")
# Control characters, and the bidirectional overrides and isolates that would reorder the text
# around a name ("Front\u202eksed" shown as "Frontdesk").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")

ELLIPSIS = "…"


def shorten(value: str, limit: int) -> str:
    """`value` cut to at most `limit` characters, an ellipsis showing where."""
    if len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)] + ELLIPSIS


def plain(value: str, limit: int | None = None) -> str:
    """`value` as literal text for a TextBlock or a FactSet: one line, markup escaped, and at
    most `limit` characters of it when given (typed text can be of any length)."""
    one_line = _CONTROL.sub(" ", value)
    if limit is not None:
        one_line = shorten(one_line, limit)
    escaped = _MARKUP.sub(r"\\\1", one_line)
    return _LIST_START.sub(_escape_marker, escaped)


def _escape_marker(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    # Only punctuation can be escaped: "1." becomes "1\.", "-" becomes "\-".
    return f"{indent}{marker[:-1]}\\{marker[-1]}"
