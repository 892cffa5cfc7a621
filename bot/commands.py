"""What people type: `<at>Bot</at> map +1 555 987 6543 Front desk` into a Command."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from contextsms.phone import EXTENSION_PROBLEM, InvalidPhoneNumber, normalize


class Verb(StrEnum):
    HELP = "help"
    STATUS = "status"
    LIST = "list"
    MAP = "map"
    REMAP = "remap"
    UNMAP = "unmap"
    SETUP = "setup"
    HISTORY = "history"
    SETTINGS = "settings"
    FIND = "find"
    # Operators only (anyone else is answered as for a word the bot does not know).
    ENTERPRISES = "enterprises"
    NEW_ENTERPRISE = "new enterprise"
    INVITE = "invite"
    LINKS = "links"
    UNLINK = "unlink"


OPERATOR_VERBS = frozenset(
    {Verb.ENTERPRISES, Verb.NEW_ENTERPRISE, Verb.INVITE, Verb.LINKS, Verb.UNLINK}
)

ALIASES: dict[str, Verb] = {
    "help": Verb.HELP, "?": Verb.HELP, "hi": Verb.HELP, "hello": Verb.HELP,
    "status": Verb.STATUS, "show": Verb.STATUS, "numbers": Verb.STATUS,
    "list": Verb.LIST, "all": Verb.LIST,
    "map": Verb.MAP, "add": Verb.MAP,
    "remap": Verb.REMAP, "move": Verb.REMAP,
    "unmap": Verb.UNMAP, "remove": Verb.UNMAP, "delete": Verb.UNMAP,
    "setup": Verb.SETUP, "history": Verb.HISTORY, "settings": Verb.SETTINGS,
    "find": Verb.FIND, "search": Verb.FIND,
    "enterprises": Verb.ENTERPRISES, "new-enterprise": Verb.NEW_ENTERPRISE,
    "invite": Verb.INVITE, "links": Verb.LINKS, "unlink": Verb.UNLINK,
}  # fmt: skip
# Commands of two words: the first word, then the second.
TWO_WORDS: dict[tuple[str, str], Verb] = {("new", "enterprise"): Verb.NEW_ENTERPRISE}
# Commands whose words after the first are kept as typed (a code, an id): never a number.
WITH_ARGUMENT = frozenset({Verb.SETUP, Verb.INVITE, Verb.UNLINK, Verb.FIND})

NEEDS_NUMBER = frozenset({Verb.MAP, Verb.REMAP, Verb.UNMAP})
# A mention of the bot: `<at>Bot</at>` in the text, and in the HTML form either that or a span
# of Skype's Mention type.
# Every pattern here takes time in proportion to the text (none scans the rest of the text
# again from each of many unclosed openers), since a message's HTML can be a megabyte.
_MENTION = re.compile(
    r"<at\b[^<>]*>[^<]*</at>|<span\b[^<>]*schema\.skype\.com/Mention[^<>]*>[^<]*</span>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^<>]+>")
# Where the HTML form of a message breaks a line: line breaks and the edges of blocks. A list
# typed in Teams comes as <ul>/<ol> of <li>, cells pasted from Excel as a <table> of <tr>.
_HTML_BREAK = re.compile(
    r"<\s*(?:/?br|hr|/?(?:p|div|li|ul|ol|dl|dt|dd|tr|table|thead|tbody|tfoot|caption|h[1-6]"
    r"|blockquote|pre))\b[^<>]*>",
    re.IGNORECASE,
)
# A table's cells: each is a word of its row ("A" then "name" reads "A name").
_HTML_CELL = re.compile(r"<\s*/?\s*(?:td|th)\b[^<>]*>", re.IGNORECASE)
# Blocks found by their opener, then their end looked for once: what is no text a person
# sees (comments, scripts and styles, with their content), and preformatted text (Teams' code
# block), which keeps its line breaks. An opener never closed runs to the end, as in a browser.
_HTML_BLOCK = re.compile(r"<!--|<(script|style|pre)\b[^<>]*>", re.IGNORECASE)
_HTML_CLOSERS = {
    "": re.compile("-->"),
    **{tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in ("script", "style", "pre")},
}
# A tel: link is one word with its parameters (";ext=9" is refused by normalize).
_NUMBERISH = re.compile(r"^(?:tel:\S+|[+()\d.\-/]+)$", re.IGNORECASE)
# A number followed by its extension, as people write one: "x9", "ext. 9", "extension 9",
# "#9", ";ext=9" (RFC 3966) or ",9" (a pause, then the extension dialled). Matched at the start
# of what follows the command, so that it is refused as an extension whatever the marker.
_WITH_EXTENSION = re.compile(
    r"(?:tel:)?[+(\d][+()\d.\-/ ]*\d[\s.)-]*"
    r"(?:;\s*ext\s*=|,+|ext(?:ension|n)?\.?|x|\#)\s*[:.]?\s*\d+(?=\s|$)",
    re.IGNORECASE,
)

# Words a number is written in at most: a "+" and 15 digits typed one by one ("+33 6 12 34 56
# 78" is 6). Each shorter run is tried, so a name may follow; a longer run is refused, since a
# shorter one would read part of the number as the number and the rest as its name.
NUMBER_WORDS = 16

# The platform refuses names over 200 characters; ours is shorter so that a card shows it whole.
NAME_LIMIT = 100


@dataclass(frozen=True)
class Command:
    verb: Verb | None  # None: not a command we know
    word: str = ""  # what was typed in its place
    number: str | None = None  # E.164
    number_text: str = ""  # the number as typed
    name: str | None = None
    problem: str | None = None  # why the number could not be read
    name_problem: str | None = None  # why the name cannot be used
    # The words after a command of WITH_ARGUMENT. A setup code is a secret: never in a repr.
    argument: str = field(default="", repr=False)
    # `map` followed by several lines (typed, pasted, or sent by Teams as HTML): each line as
    # typed, for a bulk map; empty for a one-line command.
    lines: tuple[str, ...] = field(default=(), repr=False)


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a mapping's name, or None when it can."""
    if len(name) > NAME_LIMIT:
        return f"it is {len(name)} characters long; a name is at most {NAME_LIMIT}"
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        return "it contains control characters (a name is one line of text)"
    # Format characters are invisible and can reorder what is shown: U+202E makes
    # "Front\u202eksed" read "Frontdesk".
    if any(unicodedata.category(c) == "Cf" for c in name):
        return (
            "it contains invisible characters (such as zero-width spaces or right-to-left "
            "marks); type it again without them"
        )
    return None


def clean_text(text: str) -> str:
    """Text of a Teams message without the bot's mention, markup or entities."""
    without_mention = _MENTION.sub(" ", text or "")
    plain = html.unescape(_TAG.sub(" ", without_mention))
    return " ".join(plain.replace("\u00a0", " ").split())


def message_lines(text: str, html: str | None = None) -> list[str]:
    """The non-empty lines of a message, each cleaned as `clean_text` cleans a message: from
    the text's line breaks or from the HTML form's blocks and breaks, whichever holds more
    (Teams sends both, and either may have lost the breaks)."""
    plain = [clean_text(line) for line in _MENTION.sub(" ", text or "").splitlines()]
    marked = _html_lines(html or "")
    plain = [x for x in plain if x]
    return marked if len(marked) > len(plain) else plain


def _html_lines(markup: str) -> list[str]:
    """The non-empty lines of a message's HTML form, as a browser shows them: a line per
    block (paragraph, division, list item, table row...) and per <br>; a row's cells apart by a
    space; other tags (bold, italics, spans) inside words as they are shown, with no space."""
    markup = _html_blocks(_MENTION.sub(" ", markup))
    lines = []
    for part in _HTML_BREAK.split(markup):
        line = clean_text(_TAG.sub("", _HTML_CELL.sub(" ", part)))
        if line:
            lines.append(line)
    return lines


def _html_blocks(markup: str) -> str:
    """`markup` without comments, scripts and styles, its preformatted blocks' line breaks
    made <br>: in one pass."""
    kept: list[str] = []
    at = 0
    while (opener := _HTML_BLOCK.search(markup, at)) is not None:
        kept.append(markup[at : opener.start()])
        tag = (opener[1] or "").lower()
        closer = _HTML_CLOSERS[tag].search(markup, opener.end())
        inside = markup[opener.end() : closer.start() if closer else len(markup)]
        if tag == "pre":
            kept.append("<br>" + inside.replace("\n", "<br>") + "<br>")
        if closer is None:
            return "".join(kept)
        at = closer.end()
    kept.append(markup[at:])
    return "".join(kept)


def _bulk_lines(lines: list[str]) -> tuple[str, list[str]] | None:
    """The verb as typed and the list of a `map` followed by several lines (the first may
    follow `map` on its own line), or None when the message is not one."""
    if len(lines) < 2:
        return None
    head, _, first = lines[0].partition(" ")
    if ALIASES.get(head.lower()) is not Verb.MAP:
        return None
    listed = [first, *lines[1:]] if first else lines[1:]
    return (head.lower(), listed) if len(listed) > 1 else None


def parse(text: str, default_region: str = "US", html: str | None = None) -> Command:
    """The command in a message's text; `html` is the message's HTML form, where Teams sent
    one (its lines are paragraphs, breaks, list items, table rows...). `map` followed by
    several lines is a list to map (`Command.lines`); any other command is read from its
    words, line breaks or not."""
    bulk = _bulk_lines(message_lines(text, html))
    if bulk is not None:
        return Command(Verb.MAP, word=bulk[0], lines=tuple(bulk[1]))
    words = clean_text(text).split(" ")
    head = words[0].lower() if words and words[0] else ""
    rest = words[1:]
    verb = TWO_WORDS.get((head, rest[0].lower())) if rest else None
    if verb is not None:  # its first word only, as for any command the bot does not know
        return Command(verb, word=head, argument=" ".join(rest[1:]))
    verb = ALIASES.get(head)
    if verb is None:
        return Command(None, word=head)
    if verb in WITH_ARGUMENT:
        return Command(verb, word=head, argument=" ".join(rest))
    if verb not in NEEDS_NUMBER:
        return Command(verb, word=head)
    if not rest:
        return Command(verb, word=head, problem="no number was given")
    return read_number(verb, head, rest, default_region)


def read_number(verb: Verb, head: str, rest: list[str], region: str) -> Command:
    """The command `verb` (typed as `head`) for the words after it: a number, then a name.
    The bulk list reads each of its lines with it, as a one-line `map`."""
    # The number may contain spaces ("+1 555 987 6543 Front desk"): take the longest run of
    # number-like words that reads as a number; what follows is the name.
    extension = _WITH_EXTENSION.match(" ".join(rest))
    if extension is not None:
        return Command(verb, word=head, number_text=extension[0], problem=EXTENSION_PROBLEM)
    run = 0
    while run < min(len(rest), NUMBER_WORDS) and _NUMBERISH.match(rest[run]):
        run += 1
    if run == 0:
        return Command(verb, word=head, number_text=rest[0], problem="it is not a number")
    if run < len(rest) and run == NUMBER_WORDS and _NUMBERISH.match(rest[run]):
        return Command(
            verb, word=head, number_text=" ".join(rest[: run + 1]),
            problem=f"it is written in more than {NUMBER_WORDS} pieces; type it without spaces",
        )  # fmt: skip
    problem = ""
    for end in range(run, 0, -1):
        typed = " ".join(rest[:end])
        try:
            number = normalize(typed, region)
        except InvalidPhoneNumber as exc:
            problem = problem or exc.reason
            continue
        name = " ".join(rest[end:]).strip() or None
        return Command(
            verb, word=head, number=number, number_text=typed, name=name,
            name_problem=name_problem(name) if name is not None else None,
        )  # fmt: skip
    return Command(verb, word=head, number_text=" ".join(rest[:run]), problem=problem)


def from_form(number_text: str, name_text: str, default_region: str = "US") -> Command:
    """The "Map a number" form's inputs, read by the same rules as a typed `map`."""
    typed, name = number_text.strip(), name_text.strip() or None
    extension = _WITH_EXTENSION.match(f"{typed} {name or ''}".strip())
    if extension is not None:
        return Command(Verb.MAP, word="map", number_text=extension[0], problem=EXTENSION_PROBLEM)
    try:
        number = normalize(typed, default_region)
    except InvalidPhoneNumber as exc:
        return Command(Verb.MAP, word="map", number_text=typed, problem=exc.reason)
    return Command(
        Verb.MAP, word="map", number=number, number_text=typed, name=name,
        name_problem=name_problem(name) if name is not None else None,
    )  # fmt: skip
