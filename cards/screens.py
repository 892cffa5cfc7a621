"""Every card the bot sends. `Screens` is bound to one conversation: its actions are signed
for that channel and enterprise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cards.elements import (
    Card,
    Element,
    action_set,
    card,
    container,
    execute,
    facts,
    heading,
    text,
)
from contextsms.models import Mapping
from contextsms.phone import national_format

Sign = Callable[[str, dict[str, str]], dict[str, Any]]

# What Input.Text accepts before Teams sends the form: digits, spaces and the usual signs,
# 7 to 20 characters. The bot checks the number again, fully.
NUMBER_PATTERN = r"^(tel:)?[+(]?[0-9][0-9 ().\-]{5,18}[0-9]$"
PAGE_SIZE = 10


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


def number_label(mapping: Mapping) -> str:
    return number_text(mapping.phone_number)


class Screens:
    def __init__(self, sign: Sign, ctx: dict[str, str], product: str = "ContextSMS") -> None:
        self._sign = sign
        self._ctx = ctx
        self.product = product

    def act(
        self, title: str, verb: str, *, style: str | None = None, inputs: bool = False, **ids: str
    ) -> Element:
        data = self._sign(verb, {**self._ctx, **ids})
        return execute(title, verb, data, style=style, inputs=inputs)

    # -- help and welcome ---------------------------------------------------------------

    def help(self, in_channel: bool, unknown: str | None = None) -> Card:
        body: list[Element] = [heading(f"{self.product} for Teams")]
        if unknown:
            body.append(text(f"I don't know the command **{unknown}**. Here is what I can do:"))
        body += [
            text(
                "I route the SMS of your business numbers into Teams channels. "
                "Mention me in a channel and type a command:"
            ),
            facts([
                ("map <number> [name]",
                 "Map a number to this channel, e.g. map (555) 987-6543 Front desk"),
                ("remap <number>", "Move a number of your organization to this channel"),
                ("unmap <number>", "Stop routing a number to this channel (asks first)"),
                ("status", "This channel's numbers"),
                ("list", "All your organization's numbers, by channel"),
                ("help", "This card"),
            ]),
        ]  # fmt: skip
        if not in_channel:
            body.append(text("Mapping works in a channel of a team: add me to a team first.",
                             subtle=True))  # fmt: skip
        actions = [self.act("All numbers", "list")]
        if in_channel:
            # The status card holds the "Map a number" form, next to this channel's numbers.
            actions[:0] = [
                self.act("Map a number", "status"),
                self.act("This channel's numbers", "status"),
            ]
        return card(body, actions)

    def welcome(self) -> Card:
        return card(
            [
                heading(f"Welcome to {self.product}"),
                text(
                    "Text messages sent to your business numbers can now arrive in this team's "
                    "channels, and your replies go back as SMS."
                ),
                text(
                    "**First step:** in the channel that should receive a number's messages, "
                    "write `@" + self.product + " map` followed by the number, for example "
                    "`map (555) 987-6543 Front desk`."
                ),
            ],
            [self.act("Help", "help"), self.act("This channel's numbers", "status")],
        )

    def pending(self) -> Card:
        return card(
            [
                heading("Working on it"),
                text(
                    "ContextSMS is slow to answer right now. This card will change to show the "
                    "result as soon as it is done.",
                ),
            ]
        )

    def channel_only(self, command: str) -> Card:
        return card(
            [
                heading("This works in a channel"),
                text(
                    f"**{command}** maps numbers to the channel you are in. Mention me in a "
                    "channel of a team and try again there."
                ),
            ],
            [self.act("Help", "help"), self.act("All numbers", "list")],
        )

    # -- status and the map form ----------------------------------------------------------

    def map_form(self, number: str = "", name: str = "") -> list[Element]:
        return [
            text("Map a number", weight="Bolder"),
            {
                "type": "Input.Text", "id": "number", "label": "Phone number",
                "placeholder": "(555) 987-6543 or +15559876543", "value": number,
                "isRequired": True, "regex": NUMBER_PATTERN, "maxLength": 32,
                "errorMessage": "Enter a phone number, e.g. +15559876543 or (555) 987-6543",
            },
            {
                "type": "Input.Text", "id": "name", "label": "Name (optional)",
                "placeholder": "Front desk", "value": name, "maxLength": 60,
            },
            action_set([self.act("Map to this channel", "map", style="positive", inputs=True)]),
        ]  # fmt: skip

    def status(self, channel: str, mappings: list[Mapping], notice: str | None = None) -> Card:
        body: list[Element] = [heading(f"Numbers in {channel}")]
        if notice:
            body.append(text(notice, weight="Bolder"))
        if not mappings:
            body.append(
                text(
                    "No number is mapped to this channel yet, so no SMS arrives here. "
                    "Map one with the form below or type `map <number> [name]`."
                )
            )
        for mapping in mappings:
            body.append(
                container(
                    [
                        text(f"**{mapping.name or 'Unnamed'}**: {number_label(mapping)}"),
                        text(f"Since {when(mapping.created_date)}", subtle=True),
                        action_set([
                            self.act("Remap", "remap.pick", id=mapping.id),
                            self.act("Unmap", "unmap.ask", style="destructive", id=mapping.id),
                        ]),
                    ],
                    separator=True,
                )
            )  # fmt: skip
        body.append(container(self.map_form(), style="emphasis", separator=True))
        return card(body, [self.act("All numbers", "list")])

    # -- results --------------------------------------------------------------------------

    def mapped(self, mapping: Mapping, already: bool) -> Card:
        title = "Already mapped here" if already else "Number mapped"
        return card(
            [
                heading(title, "good"),
                text(f"SMS to {number_label(mapping)} now arrive in this channel."),
                facts([("Name", mapping.name or "Unnamed"), ("Number", mapping.phone_number)]),
            ],
            [
                self.act("This channel's numbers", "status"),
                self.act("Unmap", "unmap.ask", style="destructive", id=mapping.id),
            ],
        )

    def taken_in_enterprise(self, mapping: Mapping, channel: str) -> Card:
        return card(
            [
                heading("Already mapped to another channel", "warning"),
                text(
                    f"{number_label(mapping)} is mapped to **{channel}**. Move it here to receive "
                    "its SMS in this channel instead."
                ),
            ],
            [
                self.act("Move it here", "remap", style="positive", id=mapping.id),
                self.act("This channel's numbers", "status"),
            ],
        )

    def taken_elsewhere(self, number: str) -> Card:
        return card(
            [
                heading("Mapped by another organization", "attention"),
                text(
                    f"{number_text(number)} is mapped by another organization, "
                    "so it cannot be moved from here."
                ),
                text(
                    "If it is yours, an admin of that organization must unmap it first, or your "
                    f"{self.product} provider can release it.",
                    subtle=True,
                ),
            ],
            [self.act("This channel's numbers", "status")],
        )

    def moved(self, mapping: Mapping, from_channel: str | None, already: bool) -> Card:
        detail = (
            f"SMS to {number_label(mapping)} already arrive in this channel."
            if already
            else f"SMS to {number_label(mapping)} now arrive in this channel"
            + (f" instead of **{from_channel}**." if from_channel else ".")
        )
        return card(
            [heading("Number moved here" if not already else "Already here", "good"), text(detail)],
            [
                self.act("This channel's numbers", "status"),
                self.act("Unmap", "unmap.ask", style="destructive", id=mapping.id),
            ],
        )

    def pick_channel(self, mapping: Mapping, channels: list[tuple[str, str]]) -> Card:
        """Where to move a number of this channel: the team's other channels."""
        if not channels:
            return card(
                [
                    heading("Which channel?"),
                    text(
                        "I know no other channel of this team. In the channel that should get "
                        f"{number_label(mapping)}, write `remap {mapping.phone_number}`."
                    ),
                ],
                [self.act("This channel's numbers", "status")],
            )
        return card(
            [
                heading("Move this number"),
                text(f"Move {number_label(mapping)} ({mapping.name or 'Unnamed'}) to:"),
                {
                    "type": "Input.ChoiceSet", "id": "target", "label": "Channel",
                    "isRequired": True, "errorMessage": "Choose a channel",
                    "value": channels[0][0],
                    "choices": [{"title": name, "value": cid} for cid, name in channels],
                },
            ],
            [
                self.act("Move", "remap.move", style="positive", inputs=True, id=mapping.id),
                self.act("Cancel", "status"),
            ],
        )  # fmt: skip

    def moved_away(self, mapping: Mapping, channel: str, already: bool) -> Card:
        return card(
            [
                heading("Already there" if already else "Number moved", "good"),
                text(f"SMS to {number_label(mapping)} now arrive in **{channel}**."),
            ],
            [self.act("This channel's numbers", "status")],
        )

    def not_mapped(self, number: str) -> Card:
        return card(
            [
                heading("Not mapped yet"),
                text(f"{number_text(number)} is not mapped in your organization."),
                container(self.map_form(number=number), style="emphasis"),
            ]
        )

    def confirm_unmap(self, mapping: Mapping) -> Card:
        return card(
            [
                heading("Unmap this number?", "warning"),
                text(
                    f"SMS to {number_label(mapping)} ({mapping.name or 'Unnamed'}) will stop "
                    "arriving in this channel."
                ),
            ],
            [
                self.act("Unmap", "unmap.confirm", style="destructive", id=mapping.id),
                self.act("Cancel", "status"),
            ],
        )

    def unmapped(self, number: str | None, already: bool) -> Card:
        label = number_text(number) if number else "This number"
        return card(
            [
                heading("Number unmapped" if not already else "Already unmapped", "good"),
                text(
                    f"{label} is no longer mapped to this channel."
                    if number
                    else "This number is no longer mapped to this channel."
                ),
            ],
            [self.act("This channel's numbers", "status")],
        )

    def in_another_channel(self, mapping: Mapping, channel: str) -> Card:
        return card(
            [
                heading("This number has moved", "warning"),
                text(
                    f"{number_label(mapping)} is now mapped to **{channel}**, not this channel, so "
                    "nothing was changed. Unmap it from that channel."
                ),
            ],
            [self.act("This channel's numbers", "status")],
        )

    def list(self, groups: list[tuple[str, list[Mapping]]], page: int, pages: int) -> Card:
        body: list[Element] = [heading("All numbers of your organization")]
        if not groups:
            body.append(text("No number is mapped yet. In a channel, type `map <number>`."))
        for channel, mappings in groups:
            body.append(text(channel, weight="Bolder"))
            body.append(facts([(m.name or "Unnamed", number_label(m)) for m in mappings]))
        actions: list[Element] = []
        if pages > 1:
            body.append(text(f"Page {page + 1} of {pages}", subtle=True))
            if page > 0:
                actions.append(self.act("Previous", "list", page=str(page - 1)))
            if page + 1 < pages:
                actions.append(self.act("Next", "list", page=str(page + 1)))
        return card(body, actions)

    # -- problems -------------------------------------------------------------------------

    def invalid_number(self, typed: str, reason: str, command: str) -> Card:
        shown = f"**{typed}**" if typed else "That"
        return card(
            [
                heading("That is not a phone number I can use", "attention"),
                text(f"{shown}: {reason}. Nothing was changed."),
                text(
                    f"Write it in E.164 form, like +15559876543, or as dialled in the US, like "
                    f"(555) 987-6543. Example: `{command} +15559876543 Front desk`.",
                    subtle=True,
                ),
            ],
            [self.act("Help", "help")],
        )

    def problem(self, title: str, detail: str, request_id: str | None = None) -> Card:
        body = [heading(title, "attention"), text(detail)]
        if request_id:
            body.append(text(f"Support reference: {request_id}", subtle=True))
        return card(body, [self.act("This channel's numbers", "status")])
