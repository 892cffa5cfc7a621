"""Reading what people type: a one-line command as before, and `map` followed by a list, as
Teams sends it (plain text with line breaks, and an HTML form with paragraphs and breaks)."""

from __future__ import annotations

import time

import pytest

from bot.commands import Verb, message_lines, parse

LIST = ["+15559876543 Front desk", "(555) 987-6544", "+1 555 987 6545 Sales & support"]


def test_map_followed_by_lines_is_a_list_not_a_name() -> None:
    """Before, the first number was mapped and the other lines became its name."""
    command = parse("<at>Bot</at> map\n" + "\n".join(LIST))
    assert command.verb is Verb.MAP
    assert command.lines == tuple(LIST)
    assert command.number is None and command.name is None


def test_the_first_number_may_follow_map_on_its_line() -> None:
    command = parse("map " + "\r\n".join(LIST))
    assert command.lines == tuple(LIST)
    assert parse("add +15559876543\n+15559876544").lines == ("+15559876543", "+15559876544")


def test_empty_lines_and_spaces_are_not_entries() -> None:
    command = parse("map\n\n  +15559876543   Front  desk \n \n+15559876544\n\n")
    assert command.lines == ("+15559876543 Front desk", "+15559876544")


@pytest.mark.parametrize(
    "html",
    [
        # As Teams sends it: a division per line, the mention and entities inside.
        "<div><div><at>Bot</at>&nbsp;map</div><div>+15559876543 Front desk</div>"
        "<div>(555) 987-6544</div><div>+1 555 987 6545 Sales &amp; support</div></div>",
        '<p><at id="0">Bot</at> map</p><p>+15559876543 Front desk</p><p>(555) 987-6544</p>'
        "<p>+1 555 987 6545 Sales &amp; support</p>",
        '<p><span itemscope="" itemtype="http://schema.skype.com/Mention" itemid="0">Bot</span>'
        " map<br>+15559876543 Front desk<br/>(555)&nbsp;987-6544<BR >+1 555 987 6545 Sales "
        "&amp; support</p>",
    ],
)
def test_the_html_form_gives_the_lines_the_text_lost(html: str) -> None:
    # Teams' plain text of a pasted list may come without its line breaks.
    text = "Bot map +15559876543 Front desk (555) 987-6544 +1 555 987 6545 Sales & support"
    command = parse(text, html=html)
    assert command.verb is Verb.MAP
    assert command.lines == tuple(LIST)


# What the text lost, as the HTML of a list typed in Teams, of cells pasted from Excel or of a
# code block: the list's lines, each cell a word of its row, bold and italics inside the words.
HTML_LISTS = {
    "bulleted list": "<p><at>Bot</at> map</p><ul><li>+15559876543 <b>Front <i>desk</i></b></li>"
    "<li><span>(555) 987-6544</span></li><li>+1 555 987 6545 Sales &amp; <b>supp</b>ort</li></ul>",
    "numbered list, paragraphs in items": "<div><at>Bot</at> map<ol><li><p>+15559876543 Front "
    "desk</p></li><li><p>(555) 987-6544</p></li><li><p>+1 555 987 6545 Sales &amp; support</p>"
    "</li></ol></div>",
    "cells pasted from Excel": "<p><at>Bot</at> map</p><table><tbody><tr><td>+15559876543</td>"
    "<td>Front desk</td></tr><tr><td>(555) 987-6544</td><td></td></tr><tr>"
    "<td>+1 555 987 6545</td><td>Sales &amp; support</td></tr></tbody></table>",
    "table with a header row": "<p><at>Bot</at> map</p><table><thead><tr><th>+15559876543</th>"
    "<th>Front desk</th></tr></thead><tbody><tr><td>(555) 987-6544</td></tr><tr>"
    "<td>+1 555 987 6545</td><td>Sales&nbsp;&amp;&nbsp;support</td></tr></tbody></table>",
    "code block": "<p><at>Bot</at> map</p><pre><code>+15559876543 Front desk\n(555) 987-6544\n"
    "+1 555 987 6545 Sales &amp; support</code></pre>",
    "headings and a quote": "<h1><at>Bot</at> map</h1><h2>+15559876543 Front desk</h2>"
    "<blockquote>(555) 987-6544</blockquote><h3>+1 555 987 6545 Sales &amp; support</h3>",
}


@pytest.mark.parametrize("html", HTML_LISTS.values(), ids=HTML_LISTS.keys())
def test_lists_tables_and_code_blocks_in_html_give_their_lines(html: str) -> None:
    # Before, items and rows were one line: the first number was mapped, the rest its name.
    text = "Bot map +15559876543 Front desk (555) 987-6544 +1 555 987 6545 Sales & support"
    command = parse(text, html=html)
    assert command.verb is Verb.MAP
    assert command.lines == tuple(LIST)
    assert command.number is None and command.name is None


def test_what_a_message_does_not_show_is_not_read() -> None:
    html = (
        "<p>map</p><p>+15559876543 &lt;b&gt;x&lt;/b&gt;<script>alert(1)</script></p>"
        "<style>p { color: red }</style><p>+15559876544</p>"
    )
    assert parse("map +15559876543 <b>x</b> +15559876544", html=html).lines == (
        "+15559876543 <b>x</b>",  # written as text: kept as typed, shown as written
        "+15559876544",
    )


def test_the_form_with_more_lines_wins() -> None:
    text = "map\n" + "\n".join(LIST)
    one_paragraph = "<p>map " + " ".join(LIST) + "</p>"
    assert parse(text, html=one_paragraph).lines == tuple(LIST)
    assert message_lines(text, one_paragraph) == ["map", *LIST]


def test_a_one_line_map_is_read_as_before() -> None:
    command = parse("<at>Bot</at> map +1 555 987 6543 Front desk")
    assert (command.number, command.name, command.lines) == ("+15559876543", "Front desk", ())
    # One line sent as HTML, the mention in its own paragraph: still one line.
    html = "<p><at>Bot</at></p><p>map +1 555 987 6543 Front desk</p>"
    command = parse("<at>Bot</at>\nmap +1 555 987 6543 Front desk", html=html)
    assert (command.number, command.name, command.lines) == ("+15559876543", "Front desk", ())


def test_map_and_one_line_below_it_maps_that_number() -> None:
    command = parse(
        "map\n+1 555 987 6543 Front desk", html="<p>map</p><p>+15559876543 Front desk</p>"
    )
    assert (command.number, command.name, command.lines) == ("+15559876543", "Front desk", ())


@pytest.mark.parametrize("text", ["status\nplease", "remap +15559876543\n+15559876544", "help\n?"])
def test_other_commands_on_several_lines_are_not_lists(text: str) -> None:
    assert parse(text).lines == ()


def test_an_unreadable_line_is_kept_for_the_preview_to_explain() -> None:
    command = parse("map\n+15559876543\nhello there\n555-12")
    assert command.lines == ("+15559876543", "hello there", "555-12")


@pytest.mark.parametrize(
    "opener",
    [
        "<pre>",
        "<at>x",
        "<script>",
        "<!--",
        "<",
        '<span itemtype="http://schema.skype.com/Mention">',
    ],
)
def test_a_megabyte_of_unclosed_markup_is_read_at_once(opener: str) -> None:
    """Reading a message takes time in proportion to its size, whatever its markup: a
    megabyte (the most the bot accepts) of openers that never close, which made the bot scan
    the rest of the text again from each (a minute for 200 KB, every other request waiting)."""
    markup = "<p>map</p><p>+15559876543</p>" + opener * (1_000_000 // len(opener))
    started = time.perf_counter()
    lines = message_lines("map +15559876543", markup)
    assert time.perf_counter() - started < 2.0
    assert lines[:2] == ["map", "+15559876543"]
