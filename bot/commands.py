"""What people type: `<at>Bot</at> map +1 555 987 6543 Front desk` into a Command."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import StrEnum

from contextsms.phone import InvalidPhoneNumber, normalize


class Verb(StrEnum):
    HELP = "help"
    STATUS = "status"
    LIST = "list"
    MAP = "map"
    REMAP = "remap"
    UNMAP = "unmap"


ALIASES: dict[str, Verb] = {
    "help": Verb.HELP, "?": Verb.HELP, "hi": Verb.HELP, "hello": Verb.HELP,
    "status": Verb.STATUS, "show": Verb.STATUS, "numbers": Verb.STATUS,
    "list": Verb.LIST, "all": Verb.LIST,
    "map": Verb.MAP, "add": Verb.MAP,
    "remap": Verb.REMAP, "move": Verb.REMAP,
    "unmap": Verb.UNMAP, "remove": Verb.UNMAP, "delete": Verb.UNMAP,
}  # fmt: skip

NEEDS_NUMBER = frozenset({Verb.MAP, Verb.REMAP, Verb.UNMAP})
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_NUMBERISH = re.compile(r"^(tel:)?[+()\d.\-/]+$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    verb: Verb | None  # None: not a command we know
    word: str = ""  # what was typed in its place
    number: str | None = None  # E.164
    number_text: str = ""  # the number as typed
    name: str | None = None
    problem: str | None = None  # why the number could not be read


def clean_text(text: str) -> str:
    """Text of a Teams message without the bot's mention, markup or entities."""
    without_mention = _MENTION.sub(" ", text or "")
    plain = html.unescape(_TAG.sub(" ", without_mention))
    return " ".join(plain.replace("\u00a0", " ").split())


def parse(text: str, default_region: str = "US") -> Command:
    words = clean_text(text).split(" ")
    head = words[0].lower() if words and words[0] else ""
    verb = ALIASES.get(head)
    if verb is None:
        return Command(None, word=head)
    rest = words[1:]
    if verb not in NEEDS_NUMBER:
        return Command(verb, word=head)
    if not rest:
        return Command(verb, word=head, problem="no number was given")
    return _with_number(verb, head, rest, default_region)


def _with_number(verb: Verb, head: str, rest: list[str], region: str) -> Command:
    # The number may contain spaces ("+1 555 987 6543 Front desk"): take the longest run of
    # number-like words that reads as a number; what follows is the name.
    run = 0
    while run < len(rest) and _NUMBERISH.match(rest[run]):
        run += 1
    if run == 0:
        return Command(verb, word=head, number_text=rest[0], problem="it is not a number")
    problem = ""
    for end in range(run, 0, -1):
        typed = " ".join(rest[:end])
        try:
            number = normalize(typed, region)
        except InvalidPhoneNumber as exc:
            problem = problem or exc.reason
            continue
        name = " ".join(rest[end:]).strip() or None
        return Command(verb, word=head, number=number, number_text=typed, name=name)
    return Command(verb, word=head, number_text=" ".join(rest[:run]), problem=problem)
