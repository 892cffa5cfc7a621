"""The cards of the reseller's operators: enterprises, setup codes, links."""

from __future__ import annotations

from bot.actions import CardVerb
from bot.commands import NAME_LIMIT
from bot.operations import EMAIL_LIMIT, EnterpriseLinks, FieldProblem
from bot.storage.models import Link
from bot.tenancy import IssuedCode
from cards.base import DETAIL_SHOWN, NAME_SHOWN, ROW_SHOWN, TYPED_LIMIT, ScreenBase, when
from cards.elements import Card, Element, action_set, container, facts, heading, text
from cards.markdown import plain

LINKS_SHOWN = 3  # links named under one enterprise; the others are counted
ID_SHOWN = 80  # characters of a tenant's or team's id (a GUID, a thread id of some 60)
STAYING_SHOWN = 5  # team links named on the card that unlinks their tenant; the others counted
FIELD_LABELS = {"name": "Name", "contact": "Contact", "number": "Phone number", "email": "Email"}


def _teams_keep(count: int) -> str:
    if count == 1:
        return "1 of its teams keeps its own link and goes on working"
    return f"{count} of its teams keep their own link and go on working"


def link_target(link: Link) -> str:
    """What `unlink` takes to remove this link: its team, or its tenant."""
    return link.team_id or link.tenant_id


def link_words(link: Link, *, first: bool = False) -> str:
    """What a link covers, in words; `first`: to begin a sentence (ids keep their case)."""
    tenant = plain(link.tenant_id, ID_SHOWN)
    words = (
        f"team {plain(link.team_id, ID_SHOWN)} of tenant {tenant}"
        if link.team_id
        else f"tenant {tenant}"
    )
    return words[:1].upper() + words[1:] if first else words


class OperatorScreens(ScreenBase):
    def enterprises(self, rows: list[EnterpriseLinks], page: int, pages: int) -> Card:
        body: list[Element] = [heading("Enterprises")]
        if not rows:
            body.append(text("Your CSP has no enterprise yet. Create one with **New enterprise**."))
        for row in rows:
            ent = row.enterprise
            links = [link_words(link) for link in row.links[:LINKS_SHOWN]]
            if len(row.links) > LINKS_SHOWN:
                links.append(f"{len(row.links) - LINKS_SHOWN} more")
            linked = "Linked to " + "; ".join(links) if links else "Not linked yet"
            body.append(
                container(
                    [
                        text(
                            f"**{plain(ent.name, DETAIL_SHOWN)}** "
                            f"({plain(ent.enterprise_id, NAME_SHOWN)})"
                        ),
                        text(linked, subtle=True),
                        action_set(
                            [self.act("Invite", CardVerb.INVITE, mapping_id=ent.enterprise_id)]
                        ),
                    ],
                    separator=True,
                )
            )
        actions = self._pager(CardVerb.ENTERPRISES, page, pages, body)
        return self.card(
            body,
            [
                *actions,
                self.act("New enterprise", CardVerb.ENTERPRISE_NEW),
                self.act("Links", CardVerb.LINKS),
            ],
        )

    def enterprise_form(
        self, values: dict[str, str] | None = None, problems: list[FieldProblem] | None = None
    ) -> Card:
        values = values or {}
        body: list[Element] = [heading("New enterprise")]
        if problems:
            body.append(text("Please correct these fields. Nothing was created.", weight="Bolder"))
            body.append(facts([(FIELD_LABELS.get(p.field, p.field), p.problem) for p in problems]))

        def field(key: str, label: str, placeholder: str, limit: int) -> Element:
            return {
                "type": "Input.Text",
                "id": key,
                "label": label,
                "placeholder": placeholder,
                "value": values.get(key, "")[:limit],
                "isRequired": True,
                "maxLength": limit,
                "errorMessage": f"Enter the {label.lower()}",
            }

        body += [
            field("name", "Name", "Sunshine Dental Clinic", NAME_LIMIT),
            field("contact", "Contact", "Dr. Maria Rodriguez", NAME_LIMIT),
            field("number", "Phone number", "+15559876543", 32),
            field("email", "Email", "maria@sunshinedental.com", EMAIL_LIMIT),
        ]
        return self.card(
            body,
            [
                self.act("Create", CardVerb.ENTERPRISE_CREATE, style="positive", inputs=True),
                self.act("Enterprises", CardVerb.ENTERPRISES),
            ],
        )

    def enterprise_created(self, enterprise_id: str, name: str) -> Card:
        return self.card(
            [
                heading("Enterprise created", "good"),
                text(
                    f"**{plain(name, NAME_SHOWN)}** is enterprise "
                    f"**{plain(enterprise_id, NAME_SHOWN)}**. Invite its organization with a "
                    "setup code."
                ),
            ],
            [
                self.act("Invite", CardVerb.INVITE, style="positive", mapping_id=enterprise_id),
                self.act("Enterprises", CardVerb.ENTERPRISES),
            ],
        )

    def invite(self, issued: IssuedCode) -> Card:
        where = (
            "in a channel of the team that should use it"
            if issued.team_scoped
            else "in a channel of any team of their organization, or in a personal chat with me"
        )
        return self.card(
            [
                heading(f"Setup code for {plain(issued.enterprise_id, NAME_SHOWN)}", "good"),
                {
                    "type": "TextBlock",
                    "text": issued.code,
                    "fontType": "Monospace",
                    "size": "ExtraLarge",
                    "weight": "Bolder",
                    "wrap": True,
                },
                text(
                    f"Give it to the organization's admin, privately. They type "
                    f"`setup {issued.code}` {where}."
                ),
                facts(
                    [
                        ("Expires", when(issued.expires_at)),
                        ("Works", "once"),
                        ("Sets up", "one team" if issued.team_scoped else "the whole organization"),
                    ]
                ),
                text("Only you see this code: it is not stored or logged in clear.", subtle=True),
            ],
            [self.act("Enterprises", CardVerb.ENTERPRISES)],
        )

    def invite_in_private(self) -> Card:
        return self.card(
            [
                heading("Setup codes are shown in a personal chat only", "warning"),
                text(
                    "So that only you see it, open a personal chat with me and type "
                    "`invite ‹enterpriseId›` there. No code was made."
                ),
            ]
        )

    def operator_usage(self, command: str, example: str) -> Card:
        return self.card(
            [
                heading(f"{command.capitalize()} what?"),
                text(f"Type `{command}` followed by {example}. Nothing was changed."),
            ],
            [self.act("Enterprises", CardVerb.ENTERPRISES), self.act("Links", CardVerb.LINKS)],
        )

    def unknown_enterprise(self, enterprise_id: str) -> Card:
        return self.card(
            [
                heading("No such enterprise", "attention"),
                text(
                    f"Your CSP has no enterprise **{plain(enterprise_id, TYPED_LIMIT)}**. "
                    "No code was made."
                ),
            ],
            [self.act("Enterprises", CardVerb.ENTERPRISES)],
        )

    def links(self, rows: list[Link], page: int, pages: int) -> Card:
        body: list[Element] = [heading("Links")]
        if not rows:
            body.append(text("No organization is linked yet. Invite one from **Enterprises**."))
        for link in rows:
            body.append(
                container(
                    [
                        text(
                            f"{link_words(link, first=True)} uses "
                            f"**{plain(link.enterprise_id, NAME_SHOWN)}**"
                        ),
                        text(f"Since {when(link.linked_at)}", subtle=True),
                        action_set(
                            [self.act("Unlink", CardVerb.UNLINK_ASK, mapping_id=link_target(link))]
                        ),
                    ],
                    separator=True,
                )
            )
        actions = self._pager(CardVerb.LINKS, page, pages, body)
        return self.card(body, [*actions, self.act("Enterprises", CardVerb.ENTERPRISES)])

    def confirm_unlink(
        self, target: str, links: list[Link], staying: list[Link] | None = None
    ) -> Card:
        """`staying`: the team links of an unlinked tenant, which unlinking it leaves."""
        body: list[Element] = [
            heading("Unlink?", "warning"),
            text(
                "; ".join(
                    f"{link_words(x, first=True)} uses **{plain(x.enterprise_id, NAME_SHOWN)}**"
                    for x in links[:2]
                )
            ),
        ]
        if not any(x.team_id is None for x in links):
            body.append(
                text(
                    f"Its people will then use their organization's link to {self.product}, "
                    "if it has one, or cannot use it until it is set up again with a new code."
                )
            )
        elif not staying:
            body.append(
                text(
                    "No team of it has a link of its own: its people will not be able to use "
                    f"{self.product} until it is set up again with a new code."
                )
            )
        else:
            shown = STAYING_SHOWN
            body.append(
                text(
                    f"{_teams_keep(len(staying))}; its "
                    f"other teams cannot use {self.product} until it is set up again with a new "
                    "code. Teams that keep their link:"
                )
            )
            body.extend(
                text(
                    f"{plain(link_target(x), ID_SHOWN)} uses "
                    f"**{plain(x.enterprise_id, ROW_SHOWN)}**",
                    subtle=True,
                )
                for x in staying[:shown]
            )
            if len(staying) > shown:
                body.append(text(f"and {len(staying) - shown} more (see **Links**)", subtle=True))
        return self.card(
            body,
            [
                self.act("Unlink", CardVerb.UNLINK_CONFIRM, style="destructive", mapping_id=target),
                self.act("Cancel", CardVerb.LINKS),
            ],
        )

    def unlinked(self, target: str, removed: list[Link]) -> Card:
        if not removed:
            return self.card(
                [
                    heading("Nothing to unlink"),
                    text(
                        f"Nothing is linked as **{plain(target, TYPED_LIMIT)}**. "
                        "Nothing was changed."
                    ),
                ],
                [self.act("Links", CardVerb.LINKS)],
            )
        return self.card(
            [
                heading("Unlinked", "good"),
                text(
                    "; ".join(
                        f"{link_words(x, first=True)} no longer uses "
                        f"**{plain(x.enterprise_id, NAME_SHOWN)}**"
                        for x in removed[:2]
                    )
                ),
            ],
            [self.act("Links", CardVerb.LINKS)],
        )
