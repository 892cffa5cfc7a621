"""Every card the bot sends. `Screens` is bound to one conversation: its actions are signed
for that channel and enterprise."""

from __future__ import annotations

import phonenumbers

from bot.actions import CardVerb
from bot.commands import NAME_LIMIT
from cards.base import NAME_SHOWN, PAGE_SIZE, ROW_SHOWN, TYPED_LIMIT, number_text, when
from cards.bulk import BulkScreens
from cards.elements import (
    Card,
    Element,
    action_set,
    card_size,
    container,
    facts,
    heading,
    text,
)
from cards.find import FindScreens
from cards.markdown import plain, shorten
from cards.operator import OperatorScreens
from cards.organization import OrganizationScreens
from contextsms.models import Mapping

__all__ = ["PAGE_SIZE", "Screens", "number_text", "when"]

# What Input.Text accepts before Teams sends the form: digits, spaces and the usual signs,
# 7 to 20 characters. The bot checks the number again, fully.
NUMBER_PATTERN = r"^(tel:)?[+(]?[0-9][0-9 ().\-]{5,18}[0-9]$"
CHANNEL_CHOICES = 50  # channels offered on one "Move this number" card, at most
CHANNEL_LIMIT = 60  # characters of a channel's name in a choice (Teams allows 50)
CHOICES_BUDGET = 16 * 1024  # bytes of those choices as sent: fewer where names are emoji


def number_label(mapping: Mapping) -> str:
    return number_text(mapping.phone_number)


def name_of(mapping: Mapping, limit: int = NAME_SHOWN) -> str:
    """A mapping's name as literal text (names may hold any character, 200 of them)."""
    return plain(mapping.name, limit) if mapping.name else "Unnamed"


def bold_channel(channel: str) -> str:
    return f"**{plain(channel, NAME_SHOWN)}**"


def channel_choices(channels: list[tuple[str, str]]) -> list[Element]:
    """The first of `channels` as choices (titles are plain text, not markdown: shortened
    only), as many as fit in CHOICES_BUDGET."""
    choices: list[Element] = []
    used = 0
    for cid, name in channels[:CHANNEL_CHOICES]:
        choice = {"title": shorten(name, CHANNEL_LIMIT), "value": cid}
        used += card_size(choice)
        if used > CHOICES_BUDGET:
            break
        choices.append(choice)
    return choices


def example_number(region: str) -> tuple[str, str]:
    """A number of `region` in E.164 and as dialled there, for cards that teach the format."""
    mobile = phonenumbers.PhoneNumberType.MOBILE
    example = phonenumbers.example_number_for_type(region.upper(), mobile)
    if example is None:  # a region phonenumbers has no example for
        example = phonenumbers.parse("+12015550123", None)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    return str(e164), str(national)


class Screens(OrganizationScreens, OperatorScreens, FindScreens, BulkScreens):
    """Every card of one conversation: the mapping screens here, the organization's and the
    operators' in their own modules."""

    # -- help and welcome ---------------------------------------------------------------

    def help(self, in_channel: bool, unknown: str | None = None, *, operator: bool = False) -> Card:
        """What the bot does; the operators' commands only to operators."""
        body: list[Element] = [heading(f"{self.product} for Teams")]
        if unknown:
            body.append(
                text(
                    f"I don't know the command **{plain(unknown, TYPED_LIMIT)}**. "
                    "Here is what I can do:"
                )
            )
        body += [
            text(
                "I route the SMS of your business numbers into Teams channels. "
                "Mention me in a channel and type a command:"
            ),
            facts([
                ("map ‹number› [name]",
                 "Map a number to this channel, e.g. map (555) 987-6543 Front desk"),
                ("remap ‹number›", "Move a number of your organization to this channel"),
                ("unmap ‹number›", "Stop routing a number to this channel (asks first)"),
                ("status", "This channel's numbers"),
                ("list", "All your organization's numbers, by channel"),
                ("find ‹digits or name›",
                 "Your organization's numbers that match, with their channels"),
                ("map, then one number a line",
                 "Many numbers at once: a preview first, then apply (owners)"),
                ("history", "This team's latest changes (owners)"),
                ("settings", "Who may change this team's numbers (owners)"),
                ("setup ‹setup code›", f"Set up your organization with a code from your "
                                 f"{self.product} provider"),
                ("help", "This card"),
            ]),
            text("Anyone in the team may look; mapping, moving and unmapping are for the "
                 "team's owners unless they let every member.", subtle=True),
        ]  # fmt: skip
        if operator:
            body += [
                text("For operators", weight="Bolder"),
                facts([
                    ("enterprises", "Your CSP's enterprises and what each is linked to"),
                    ("new enterprise", "Create an enterprise"),
                    ("invite ‹enterpriseId› [team]",
                     "A one-time setup code (in a personal chat only)"),
                    ("links", "Every organization and team linked, and to which enterprise"),
                    ("unlink ‹tenant or team id›", "Remove a link (asks first)"),
                ]),
            ]  # fmt: skip
        if not in_channel:
            body.append(text("Mapping works in a channel of a team: add me to a team first.",
                             subtle=True))  # fmt: skip
        actions = [self.act("All numbers", CardVerb.LIST)]
        if in_channel:
            # The status card holds the "Map a number" form, next to this channel's numbers.
            actions[:0] = [
                self.act("Map a number", CardVerb.STATUS),
                self.act("This channel's numbers", CardVerb.STATUS),
            ]
        if operator:
            actions.append(self.act("Enterprises", CardVerb.ENTERPRISES))
        return self.card(body, actions)

    def welcome(self) -> Card:
        return self.card(
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
                text(
                    "Not set up yet? Your organization's admin types `setup` and the code "
                    f"from your {self.product} provider.",
                    subtle=True,
                ),
            ],
            [self.act("Help", CardVerb.HELP), self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def pending(self) -> Card:
        return self.card(
            [
                heading("Working on it"),
                text(
                    "ContextSMS is slow to answer right now. This card will change to show the "
                    "result as soon as it is done.",
                ),
            ]
        )

    def channel_only(self, command: str) -> Card:
        return self.card(
            [
                heading("This works in a channel"),
                text(
                    f"**{plain(command, TYPED_LIMIT)}** maps numbers to the channel you are in. "
                    "Mention me in a channel of a team and try again there."
                ),
            ],
            [self.act("Help", CardVerb.HELP), self.act("All numbers", CardVerb.LIST)],
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
                "placeholder": "Front desk", "value": name, "maxLength": NAME_LIMIT,
            },
            action_set(
                [self.act("Map to this channel", CardVerb.MAP, style="positive", inputs=True)]
            ),
        ]  # fmt: skip

    def status(
        self, channel: str, mappings: list[Mapping], notice: str | None = None,
        page: int = 0, pages: int = 1,
    ) -> Card:  # fmt: skip
        """One page of this channel's numbers (`mappings` is the page's), then the map form."""
        body: list[Element] = [heading(f"Numbers in {plain(channel, NAME_SHOWN)}")]
        if notice:
            body.append(text(notice, weight="Bolder"))
        if not mappings:
            body.append(
                text(
                    "No number is mapped to this channel yet, so no SMS arrives here. "
                    "Map one with the form below or type `map ‹number› [name]`."
                )
            )
        for mapping in mappings:
            body.append(
                container(
                    [
                        text(f"**{name_of(mapping, ROW_SHOWN)}**: {number_label(mapping)}"),
                        text(f"Since {when(mapping.created_date)}", subtle=True),
                        action_set([
                            self.act("Remap", CardVerb.REMAP_PICK, mapping_id=mapping.id),
                            self.act("Unmap", CardVerb.UNMAP_ASK, style="destructive",
                                     mapping_id=mapping.id),
                        ]),
                    ],
                    separator=True,
                )
            )  # fmt: skip
        actions = self._pager(CardVerb.STATUS, page, pages, body)
        body.append(container(self.map_form(), style="emphasis", separator=True))
        return self.card(
            body,
            [
                *actions,
                self.act("All numbers", CardVerb.LIST),
                self.act("Map many numbers", CardVerb.BULK_FORM),
            ],
        )

    # -- results --------------------------------------------------------------------------

    def mapped(self, mapping: Mapping, already: bool) -> Card:
        title = "Already mapped here" if already else "Number mapped"
        return self.card(
            [
                heading(title, "good"),
                text(f"SMS to {number_label(mapping)} now arrive in this channel."),
                facts([("Name", name_of(mapping)), ("Number", mapping.phone_number)]),
            ],
            [
                self.act("This channel's numbers", CardVerb.STATUS),
                self.act("Unmap", CardVerb.UNMAP_ASK, style="destructive", mapping_id=mapping.id),
            ],
        )

    def _mapped_to(self, mapping: Mapping, channel: str, title: str, then: str,
                   *actions: Element) -> Card:  # fmt: skip
        """The number is another channel's: what it means here (`then`) and what can be done."""
        return self.card(
            [
                heading(title, "warning"),
                text(f"{number_label(mapping)} is mapped to {bold_channel(channel)}{then}"),
            ],
            [*actions, self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def taken_in_enterprise(self, mapping: Mapping, channel: str) -> Card:
        return self._mapped_to(
            mapping, channel, "Already mapped to another channel",
            ". Move it here to receive its SMS in this channel instead.",
            self.act("Move it here", CardVerb.REMAP, style="positive", mapping_id=mapping.id),
        )  # fmt: skip

    def taken_elsewhere(self, number: str) -> Card:
        return self.card(
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
            [self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def moved(self, mapping: Mapping, from_channel: str | None, already: bool) -> Card:
        detail = (
            f"SMS to {number_label(mapping)} already arrive in this channel."
            if already
            else f"SMS to {number_label(mapping)} now arrive in this channel"
            + (f" instead of {bold_channel(from_channel)}." if from_channel else ".")
        )
        return self.card(
            [heading("Number moved here" if not already else "Already here", "good"), text(detail)],
            [
                self.act("This channel's numbers", CardVerb.STATUS),
                self.act("Unmap", CardVerb.UNMAP_ASK, style="destructive", mapping_id=mapping.id),
            ],
        )

    def pick_channel(self, mapping: Mapping, channels: list[tuple[str, str]]) -> Card:
        """Where to move a number of this channel: the team's other channels."""
        if not channels:
            return self.card(
                [
                    heading("Which channel?"),
                    text(
                        "I know no other channel of this team. In the channel that should get "
                        f"{number_label(mapping)}, write `remap {mapping.phone_number}`."
                    ),
                ],
                [self.act("This channel's numbers", CardVerb.STATUS)],
            )
        choices = channel_choices(channels)
        body: list[Element] = [
            heading("Move this number"),
            text(f"Move {number_label(mapping)} ({name_of(mapping)}) to:"),
            {
                "type": "Input.ChoiceSet", "id": "target", "label": "Channel",
                "isRequired": True, "errorMessage": "Choose a channel",
                "value": channels[0][0], "choices": choices,
            },
        ]  # fmt: skip
        if len(channels) > len(choices):
            body.append(
                text(
                    f"Showing the first {len(choices)} of {len(channels)} channels. To move it "
                    f"to another one, write `remap {mapping.phone_number}` in that channel.",
                    subtle=True,
                )
            )
        return self.card(
            body,
            [
                self.act("Move", CardVerb.REMAP_MOVE, style="positive", inputs=True,
                         mapping_id=mapping.id),
                self.act("Cancel", CardVerb.STATUS),
            ],
        )  # fmt: skip

    def moved_away(self, mapping: Mapping, channel: str, already: bool) -> Card:
        return self.card(
            [
                heading("Already there" if already else "Number moved", "good"),
                text(f"SMS to {number_label(mapping)} now arrive in {bold_channel(channel)}."),
            ],
            [self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def not_mapped(self, number: str) -> Card:
        return self.card(
            [
                heading("Not mapped yet"),
                text(f"{number_text(number)} is not mapped in your organization."),
                container(self.map_form(number=number), style="emphasis"),
            ]
        )

    def confirm_unmap(self, mapping: Mapping) -> Card:
        return self.card(
            [
                heading("Unmap this number?", "warning"),
                text(
                    f"SMS to {number_label(mapping)} ({name_of(mapping)}) will stop "
                    "arriving in this channel."
                ),
            ],
            [
                self.act("Unmap", CardVerb.UNMAP_CONFIRM, style="destructive",
                         mapping_id=mapping.id),
                self.act("Cancel", CardVerb.STATUS),
            ],
        )  # fmt: skip

    def unmapped(self, number: str | None, already: bool) -> Card:
        label = number_text(number) if number else "This number"
        return self.card(
            [
                heading("Number unmapped" if not already else "Already unmapped", "good"),
                text(
                    f"{label} is no longer mapped to this channel."
                    if number
                    else "This number is no longer mapped to this channel."
                ),
            ],
            [self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def in_another_channel(self, mapping: Mapping, channel: str) -> Card:
        return self._mapped_to(
            mapping, channel, "This number has moved",
            " now, not to this channel, so nothing was changed. Unmap it from that channel.",
        )  # fmt: skip

    def list(self, groups: list[tuple[str, list[Mapping]]], page: int, pages: int) -> Card:
        body: list[Element] = [heading("All numbers of your organization")]
        if not groups:
            body.append(text("No number is mapped yet. In a channel, type `map ‹number›`."))
        for channel, mappings in groups:
            body.append(text(plain(channel, ROW_SHOWN), weight="Bolder"))
            body.append(facts([(name_of(m, ROW_SHOWN), number_label(m)) for m in mappings]))
        return self.card(body, self._pager(CardVerb.LIST, page, pages, body))

    # -- problems -------------------------------------------------------------------------

    def invalid_number(self, typed: str, reason: str, command: str) -> Card:
        shown = f"**{plain(typed, TYPED_LIMIT)}**" if typed else "That"
        e164, national = example_number(self.region)
        return self.card(
            [
                heading("That is not a phone number I can use", "attention"),
                text(f"{shown}: {reason}. Nothing was changed."),
                text(
                    f"Write it in E.164 form, like {e164}, or as dialled in "
                    f"{self.region.upper()}, like {national}. "
                    f"Example: `{plain(command, TYPED_LIMIT)} {e164} Front desk`.",
                    subtle=True,
                ),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def invalid_name(self, typed: str, reason: str) -> Card:
        shown = f"**{plain(typed, TYPED_LIMIT)}**" if typed else "That name"
        return self.card(
            [
                heading("That name cannot be used", "attention"),
                text(f"{shown}: {reason}. Nothing was changed."),
                text(
                    f"A name is up to {NAME_LIMIT} characters on one line, for example "
                    "`Front desk`.",
                    subtle=True,
                ),
            ],
            [self.act("Help", CardVerb.HELP), self.act("This channel's numbers", CardVerb.STATUS)],
        )

    def problem(self, title: str, detail: str, request_id: str | None = None) -> Card:
        body = [heading(title, "attention"), text(detail)]
        if request_id:
            body.append(text(f"Support reference: {plain(request_id, TYPED_LIMIT)}", subtle=True))
        return self.card(body, [self.act("This channel's numbers", CardVerb.STATUS)])

    def outcome_unknown(
        self, title: str, detail: str, request_id: str | None = None, *,
        enterprises: bool = False,
    ) -> Card:  # fmt: skip
        """A change that may or may not have been applied: the one way to know is to look (at
        this channel's numbers, or at the CSP's enterprises for an operator's change)."""
        what = "the enterprises" if enterprises else "this channel's numbers"
        body = [heading(title, "warning"), text(f"{detail} Check {what} before trying again.")]
        if request_id:
            body.append(text(f"Support reference: {plain(request_id, TYPED_LIMIT)}", subtle=True))
        look = (
            self.act("Show the enterprises now", CardVerb.ENTERPRISES, style="positive")
            if enterprises
            else self.act("Show this channel's numbers now", CardVerb.STATUS, style="positive")
        )
        return self.card(body, [look])
