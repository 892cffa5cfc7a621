"""The cards of an organization's setup, its people's roles, its history and its settings."""

from __future__ import annotations

from typing import assert_never

from bot.actions import CardVerb
from bot.storage.models import AuditAction, AuditEntry, Link
from bot.tenancy import SetupProblem
from cards.base import DETAIL_SHOWN, NAME_SHOWN, ScreenBase, number_text, when
from cards.elements import Card, Element, action_set, container, heading, text
from cards.markdown import plain

CODE_EXAMPLE = "ABCDE-12345"

ACTION_WORDS: dict[AuditAction, str] = {
    AuditAction.MAP: "Mapped",
    AuditAction.REMAP: "Moved",
    AuditAction.UNMAP: "Unmapped",
    AuditAction.LINK: "Linked",
    AuditAction.UNLINK: "Unlinked",
    AuditAction.ENTERPRISE_CREATED: "Enterprise created",
    AuditAction.CODE_ISSUED: "Setup code made",
    AuditAction.CODE_USED: "Setup code used",
    AuditAction.SETUP_FAILED: "Setup refused",
    AuditAction.SETTINGS_CHANGED: "Settings changed",
}


# Stripe's subscription states, as a sentence says them; any other is shown as the platform
# wrote it.
SUBSCRIPTION_WORDS = {
    "none": "has not been started",
    "canceled": "was canceled",
    "past_due": "is past due",
    "unpaid": "is unpaid",
    "incomplete": "is not complete",
    "incomplete_expired": "has expired",
    "paused": "is paused",
}


def subscription_words(status: str) -> str:
    words = SUBSCRIPTION_WORDS.get(status.strip().lower())
    return words or f"is {plain(status.replace('_', ' '), DETAIL_SHOWN)}"


def setup_refusal(problem: SetupProblem, product: str) -> tuple[str, str]:
    """The title and the plain words of a refused setup. Never the code that was typed."""
    match problem:
        case SetupProblem.WRONG:
            return (
                "That setup code is not right",
                f"Check it with your {product} provider (a code looks like {CODE_EXAMPLE}) "
                "and type it again. After 5 wrong codes in an hour, setup is paused for an "
                "hour.",
            )
        case SetupProblem.USED:
            return (
                "That setup code was already used",
                f"A code works once. Ask your {product} provider for a new one.",
            )
        case SetupProblem.USED_HERE:
            return (
                "Your organization already used that setup code",
                f"A code works once, and your organization has used this one. To change what "
                f"it links to, ask your {product} provider for a new code.",
            )
        case SetupProblem.EXPIRED:
            return ("That setup code has expired", f"Ask your {product} provider for a new one.")
        case SetupProblem.FOREIGN:
            return (
                "That setup code is for another organization",
                f"Ask your {product} provider for a code made for yours.",
            )
        case SetupProblem.LOCKED:
            return (
                "Setup is paused for an hour",
                "Too many wrong setup codes were typed in your organization in the last "
                "hour. Try again in an hour.",
            )
        case SetupProblem.NEEDS_TEAM:
            return (
                "That setup code is for one team",
                "Type `setup` and the code in a channel of the team it should set up.",
            )
        case _:
            assert_never(problem)


class OrganizationScreens(ScreenBase):
    # -- which organization, and is it set up --------------------------------------------

    def no_tenant(self) -> Card:
        return self.card(
            [
                heading("Nothing can be done here", "attention"),
                text(
                    "This conversation does not say which organization it belongs to, so I "
                    "cannot act here. Nothing was changed."
                ),
            ]
        )

    def _setup_form(self) -> list[Element]:
        return [
            {
                "type": "Input.Text",
                "id": "code",
                "label": "Setup code",
                "placeholder": CODE_EXAMPLE,
                "isRequired": True,
                "maxLength": 40,
                "errorMessage": "Enter the setup code your provider gave you",
            },
            action_set([self.act("Set up", CardVerb.SETUP, style="positive", inputs=True)]),
        ]

    def not_linked(self) -> Card:
        return self.card(
            [
                heading("Not set up yet", "warning"),
                text(
                    f"Your organization is not set up for {self.product} yet, so I cannot show "
                    "or change its numbers. Nothing was changed."
                ),
                text(
                    f"To set it up, ask your {self.product} provider for a setup code, then "
                    "type `setup ‹code›` here, or enter it below."
                ),
                container(self._setup_form(), style="emphasis", separator=True),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def setup_without_code(self) -> Card:
        return self.card(
            [
                heading("Which setup code?"),
                text(
                    f"Type `setup` followed by the code your {self.product} provider gave you, "
                    f"for example `setup {CODE_EXAMPLE}`, or enter it below."
                ),
                container(self._setup_form(), style="emphasis", separator=True),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def linked(self, link: Link, previous: Link | None, acting: Link | None = None) -> Card:
        """`link` was just made; `acting`: the link this conversation acts on now (a team's
        own link wins over its organization's), when it is another."""
        scope = "This team" if link.team_id else "Your organization"
        enterprise = f"**{plain(link.enterprise_id, NAME_SHOWN)}**"
        body: list[Element] = [heading("Set up", "good")]
        if acting is not None and acting != link:
            kept = f"**{plain(acting.enterprise_id, NAME_SHOWN)}**"
            body.append(
                text(f"{scope} is now linked to the {self.product} enterprise {enterprise}.")
            )
            body.append(
                text(
                    f"This team keeps its own link to {kept}, so here it still uses {kept}. To "
                    f"follow your organization's link instead, ask your {self.product} provider "
                    "to unlink this team."
                )
            )
            return self.card(
                body, [self.act("Help", CardVerb.HELP), self.act("All numbers", CardVerb.LIST)]
            )
        body.append(
            text(
                f"{scope} now uses the {self.product} enterprise {enterprise}. Map a number in a "
                "channel with `map ‹number›`."
            )
        )
        if previous is not None and previous.enterprise_id != link.enterprise_id:
            body.append(
                text(
                    f"It used **{plain(previous.enterprise_id, NAME_SHOWN)}** before: cards "
                    "sent before now no longer act.",
                    subtle=True,
                )
            )
        return self.card(
            body, [self.act("Help", CardVerb.HELP), self.act("All numbers", CardVerb.LIST)]
        )

    def relink_in_a_team(self) -> Card:
        return self.card(
            [
                heading("Your organization is already set up", "attention"),
                text(
                    f"It already uses a {self.product} enterprise. To link it to another one, "
                    "an owner of a team types `setup ‹code›` in one of the team's channels, or "
                    f"your {self.product} provider does it. Nothing was changed, and the code "
                    "was not used."
                ),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def setup_in_a_team_or_personal_chat(self) -> Card:
        return self.card(
            [
                heading("Set up in a team or a personal chat", "attention"),
                text(
                    "A group chat can include guests and people of other organizations, so a "
                    "setup code is not taken here. An owner of a team types `setup` and the code "
                    "in one of the team's channels, or, before your organization is set up, "
                    "anyone with the code in a personal chat with me. Nothing was changed, and "
                    "the code was not used."
                ),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def setup_refused(self, problem: SetupProblem) -> Card:
        title, detail = setup_refusal(problem, self.product)
        body: list[Element] = [heading(title, "attention"), text(f"{detail} Nothing was linked.")]
        if problem is not SetupProblem.LOCKED:
            body.append(container(self._setup_form(), style="emphasis", separator=True))
        return self.card(body, [self.act("Help", CardVerb.HELP)])

    # -- roles ------------------------------------------------------------------------------

    def not_allowed(self, who_can: str, what: str) -> Card:
        return self.card(
            [
                heading("Not allowed for you", "attention"),
                text(f"Only {plain(who_can, NAME_SHOWN)} can {what}. Nothing was changed."),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def cannot_tell(self, what: str) -> Card:
        return self.card(
            [
                heading("I cannot check your permissions right now", "attention"),
                text(
                    f"Microsoft Teams could not tell me whether you may {what}, so I did not. "
                    "Nothing was changed. Try again in a few minutes."
                ),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    # -- payment ----------------------------------------------------------------------------

    def payment_required(self, status: str) -> Card:
        """A map or move refused: the enterprise's subscription is not active."""
        product = self.product
        return self.card(
            [
                heading("Your subscription is not active", "attention"),
                text(
                    f"Your organization's {product} subscription {subscription_words(status)}, "
                    "so I cannot map or move numbers for it. Nothing was changed."
                ),
                text(f"To renew it, contact your {product} provider."),
                text("You can still see your numbers, and unmap them, as before.", subtle=True),
            ],
            [
                self.act("This channel's numbers", CardVerb.STATUS),
                self.act("All numbers", CardVerb.LIST),
            ],
        )

    def payment_unknown(self) -> Card:
        """A map or move refused: the subscription could not be checked."""
        product = self.product
        return self.card(
            [
                heading("I cannot check your subscription right now", "attention"),
                text(
                    f"{product} did not tell me whether your organization's subscription is "
                    "active, so I did not map or move anything. Nothing was changed."
                ),
                text(
                    "Try again in a few minutes. If it keeps happening, contact your "
                    f"{product} provider."
                ),
                text("You can still see your numbers, and unmap them, as before.", subtle=True),
            ],
            [
                self.act("This channel's numbers", CardVerb.STATUS),
                self.act("All numbers", CardVerb.LIST),
            ],
        )

    # -- cards that cannot act here -----------------------------------------------------------

    def foreign_tenant(self) -> Card:
        return self.card(
            [
                heading("This card is from another organization", "attention"),
                text(
                    "It was sent in another organization's Teams, so it cannot act here. "
                    "Nothing was changed. Type `status` here for a card of your own."
                ),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    def relinked(self) -> Card:
        return self.card(
            [
                heading("This card is out of date", "attention"),
                text(
                    "It was made when this conversation used another "
                    f"{self.product} enterprise than it does now, so it cannot act any more. "
                    "Nothing was changed. Type `status` for a fresh card."
                ),
            ],
            [self.act("Help", CardVerb.HELP)],
        )

    # -- history and settings -----------------------------------------------------------------

    def history(
        self,
        entries: list[AuditEntry],
        names: dict[str, str],
        *,
        page: int,
        older: str | None,
        whole: bool,
    ) -> Card:
        """One page of changes, newest first; `older`: where the next (older) page starts."""
        title = "Latest changes, every organization" if whole else "Latest changes in this team"
        body: list[Element] = [heading(title)]
        if not entries:
            body.append(text("Nothing has been changed yet." if page == 0 else "Nothing older."))
        for entry in entries:
            body.append(container(self._entry(entry, names), separator=True))
        actions: list[Element] = []
        if page > 0 or older:
            body.append(text(f"Page {page + 1}", subtle=True))
        if older:
            actions.append(self.act("Older", CardVerb.HISTORY, mapping_id=older, page=page + 1))
        if page > 0:
            actions.append(self.act("Latest", CardVerb.HISTORY, page=0))
        if not whole:
            actions.append(self.act("Settings", CardVerb.SETTINGS))
        return self.card(body, actions)

    def _entry(self, entry: AuditEntry, names: dict[str, str]) -> list[Element]:
        what = ACTION_WORDS.get(entry.action, plain(str(entry.action), NAME_SHOWN))
        headline = f"**{what}**"
        if entry.number:
            headline += f" {number_text(entry.number)}"
        if entry.outcome != "ok":
            headline += f" ({plain(entry.outcome, DETAIL_SHOWN)})"
        who = entry.actor_name or entry.actor_id or "the deployment's settings"
        details = [f"{when(entry.at)}, by {plain(who, DETAIL_SHOWN)}"]
        moves = [
            f"{label} {plain(names.get(value, value), DETAIL_SHOWN)}"
            for label, value in (("from", entry.before), ("to", entry.after))
            if value
        ]
        if moves:
            details.append(" ".join(moves))
        if entry.request_id:
            details.append(f"support reference {plain(entry.request_id, DETAIL_SHOWN)}")
        return [text(headline), text(", ".join(details), subtle=True)]

    def settings(self, members_may_change: bool, notice: str | None = None) -> Card:
        """This team's own setting: it holds for this team only, whatever link it acts on."""
        who = "every member" if members_may_change else "the owners of this team"
        body: list[Element] = [heading("Settings of this team")]
        if notice:
            body.append(text(notice, weight="Bolder"))
        body.append(text(f"Who may map, move and unmap numbers in this team: **{who}**."))
        body.append(
            text(
                "Other teams have their own setting. Anyone in the team may see its numbers; "
                "your provider's operators may always change them.",
                subtle=True,
            )
        )
        flip = (
            self.act("Only owners may change", CardVerb.SETTINGS_MEMBERS_OFF)
            if members_may_change
            else self.act("Let every member change", CardVerb.SETTINGS_MEMBERS_ON)
        )
        return self.card(body, [flip, self.act("History", CardVerb.HISTORY)])
