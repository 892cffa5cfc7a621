"""The card gallery: every card the bot can send, built with realistic data (many numbers, long
names, a CSP's brand with its logo), rendered by Microsoft's Adaptive Cards renderer under the
Teams host configs (light and dark) in headless Chromium (scripts/render_cards.mjs), into
docs/cards/<host>/<name>.png with docs/cards/index.md listing them.

    .venv/bin/python scripts/card_gallery.py [--out DIR] [--no-index]

Prints the renderer's report as JSON (per card and host: its warnings and render errors) and
exits 1 when there is any. The data is the gallery's own: every value here is made up.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec

from PIL import Image
from pydantic import BaseModel

from bot.actions import ActionContext, ActionSigner
from bot.branding import Brand
from bot.conversation import Person
from bot.notices import NumberLeft
from bot.operations import EnterpriseLinks, FieldProblem
from bot.storage.models import (
    AuditAction,
    AuditEntry,
    BulkEntry,
    BulkRow,
    BulkRun,
    Link,
    RowKind,
    RowOutcome,
    RowResult,
    RunState,
)
from bot.tenancy import IssuedCode, SetupProblem
from cards.elements import Card
from cards.find import FoundNumber
from cards.notices import number_left
from cards.screens import PAGE_SIZE, Screens
from contextsms.models import Enterprise, Mapping

ROOT = Path(__file__).resolve().parent.parent
RENDERER = ROOT / "scripts" / "render_cards.mjs"
DOCS = ROOT / "docs" / "cards"
RENDER_TIMEOUT = 600  # seconds for every card under both hosts; about 30 on a loaded machine

P = ParamSpec("P")

# -- the data ------------------------------------------------------------------------------

# A CSP that brands the bot with its own name, colour and logo (the logo is drawn by the
# renderer script: the gallery has no network).
BRAND = Brand(
    "Harborline Business Messaging", "https://assets.harborline.example/brand/logo.png", "good"
)
TENANT = "3f2a9c1e-7b4d-4e8a-9c2f-5d6e7f8a9b0c"
ENTERPRISE = "E0004217"
AT = datetime(2026, 3, 2, 14, 36, tzinfo=UTC)


def channel_id(slug: str) -> str:
    return f"19:{slug}-7d1c0a4e9b2f@thread.tacv2"


# The team's channels, as Teams names them (up to 50 characters).
CHANNELS = [
    (channel_id("general"), "General"),
    (channel_id("front-desk"), "Front Desk & Scheduling"),
    (channel_id("billing"), "Billing, Insurance and Payment Plans"),
    (channel_id("ortho"), "Orthodontics — Dr. Müller-Oppenheimer"),
    (channel_id("hygiene"), "Hygiene Recall"),
    (channel_id("bellevue"), "Bellevue Office (Main Street)"),
    (channel_id("redmond"), "Redmond Office — Overlake Medical Pavilion"),
    (channel_id("after-hours"), "After-hours Emergencies"),
    (channel_id("spanish"), "Pacientes hispanohablantes"),
    (channel_id("lab"), "Lab Cases & Crowns"),
    (channel_id("marketing"), "Marketing and Patient Reviews"),
    (channel_id("it"), "IT, Phones and Front-office Hardware"),
]
GENERAL, FRONT_DESK = CHANNELS[0][0], CHANNELS[1][0]
LABELS = dict(CHANNELS)
CHANNEL_NAME = "Front Desk & Scheduling"

# Names of numbers as people give them (up to 200 characters): short, long, accented, none.
NAMES: list[str | None] = [
    "Front desk",
    "After-hours emergency line — Dr. Anneliese Müller-Oppenheimer, Pediatric Orthodontics, "
    "Lakeview Family Dental & Orthodontics of Greater Bellevue (Main Street office, 2nd floor)",
    "Billing & insurance questions",
    "Appointment reminders (automated: replies go to the front desk)",
    "Zoë Castellanos-Whitfield, Patient Coordinator",
    None,
    "Hygiene recall",
    "Pacientes hispanohablantes / Spanish-speaking patients",
    "Dr. Chukwuemeka Okonkwo's direct line",
    "Redmond office — new-patient enquiries and referrals from Overlake Medical Pavilion",
    "Lab courier pick-ups",
    "Text-to-pay",
]


def number(i: int) -> str:
    """A US number of the 555-01xx block, kept for fiction, in E.164."""
    area = ("425", "206", "360", "253")[i // 100 % 4]
    return f"+1{area}55501{i % 100:02d}"


def mapping(i: int, channel: str = FRONT_DESK, name: str | None = "") -> Mapping:
    return Mapping.model_validate(
        {
            "numberToMessageAppMapId": f"NTMAP{40000 + i:07d}",
            "phoneNumber": number(i),
            "messagingAppType": "Teams",
            "messagingAppId": channel,
            "name": NAMES[i % len(NAMES)] if name == "" else name,
            "createdDate": int((AT - timedelta(days=400 - 3 * i)).timestamp() * 1000),
        }
    )


def link(i: int, team: str | None = None, enterprise: str = ENTERPRISE) -> Link:
    tenant = f"{i:08x}-5b2e-4c1d-9a7f-3e8d2c6b1a0f"
    return Link(tenant, team, enterprise, AT - timedelta(days=30 + i), f"0e0e{i:04d}")


ENTERPRISE_NAMES = [
    "Lakeview Family Dental & Orthodontics of Greater Bellevue",
    "Cascade Veterinary Hospital",
    "Pike Place Plumbing & Heating Co.",
    "Northgate Physical Therapy and Sports Rehabilitation Center",
    "Emerald City Realty Group",
    "Sound Chiropractic",
    "Rainier Valley Community Health Clinic — Pediatrics, Family Medicine and Urgent Care",
    "Olympic Auto Glass",
    "Ballard Kids' Dentistry",
    "Kirkland Waterfront Bistro",
]


def enterprise_row(i: int) -> EnterpriseLinks:
    enterprise = Enterprise(
        enterprise_id=f"E{4210 + i:07d}", name=ENTERPRISE_NAMES[i % len(ENTERPRISE_NAMES)]
    )
    teams = [
        link(10 * i + j, channel_id(f"team{j}") if j else None, enterprise.enterprise_id)
        for j in range(i % 4)
    ]
    return EnterpriseLinks(enterprise, tuple(teams))


PEOPLE = ["Olga Owner-Lindqvist", "Marcus Chen", "Priya Raghunathan", "José Álvarez Domínguez"]
HISTORY = [
    (AuditAction.MAP, "ok"),
    (AuditAction.REMAP, "ok"),
    (AuditAction.UNMAP, "refused"),
    (AuditAction.MAP, "unknown"),
    (AuditAction.SETTINGS_CHANGED, "ok"),
    (AuditAction.REMAP, "failed"),
    (AuditAction.LINK, "ok"),
    (AuditAction.UNMAP, "ok"),
    (AuditAction.CODE_USED, "ok"),
    (AuditAction.SETUP_FAILED, "refused"),
]


def history_entry(i: int) -> AuditEntry:
    action, outcome = HISTORY[i % len(HISTORY)]
    numbered = action in (AuditAction.MAP, AuditAction.REMAP, AuditAction.UNMAP)
    return AuditEntry(
        at=AT - timedelta(hours=5 * i),
        action=action,
        outcome=outcome,
        actor_id=f"0e0e{i:04d}",
        actor_name=PEOPLE[i % len(PEOPLE)],
        tenant_id=TENANT,
        team_id=channel_id("team0"),
        channel_id=CHANNELS[i % len(CHANNELS)][0],
        enterprise_id=ENTERPRISE,
        number=number(i) if numbered else None,
        before=CHANNELS[(i + 1) % len(CHANNELS)][0] if action is AuditAction.REMAP else None,
        after=CHANNELS[i % len(CHANNELS)][0] if numbered else None,
        request_id=f"req-7f3a9c{i:02d}e1b24d6a" if outcome != "ok" else None,
        entry_id=f"{20260302143600 - i:020d}",
    )


KINDS = list(RowKind)
OUTCOMES = list(RowOutcome)
TYPOS = ["425-555-01", "call Marcus", "+1 (206) 555-01xx", "n/a"]


def bulk_run(rows: int, *, results: int = 0, state: RunState = RunState.PREVIEWED) -> BulkRun:
    """A pasted list of `rows` lines of every kind, as a front office would paste it."""
    listed = []
    for i in range(rows):
        kind = KINDS[i % len(KINDS)]
        name = NAMES[i % len(NAMES)]
        if kind is RowKind.INVALID:
            typed, e164, problem = TYPOS[i % len(TYPOS)], None, "it has too few digits"
        else:
            e164 = number(i // 2 if kind is RowKind.DUPLICATE else i)
            typed, problem = f"{e164} {name or ''}".strip(), None
        if kind is RowKind.FOREIGN:
            problem = "it is mapped by another organization"
        elif kind is RowKind.DUPLICATE:
            problem = f"the same number as line {i // 2 + 1}"
        current = CHANNELS[i % len(CHANNELS)][0] if kind in (RowKind.MOVE, RowKind.HERE) else None
        entry = BulkEntry(i + 1, typed, e164, name, problem=problem)
        listed.append(BulkRow(entry, FRONT_DESK, kind, current, None, problem))
    done = tuple(
        RowResult(
            row,
            OUTCOMES[i % len(OUTCOMES)],
            "ContextSMS refused the number: it is not a number of this enterprise"
            if OUTCOMES[i % len(OUTCOMES)] is RowOutcome.REFUSED
            else "",
            f"req-{i:04d}9c2e7b" if OUTCOMES[i % len(OUTCOMES)] is not RowOutcome.MAPPED else None,
        )
        for i, row in enumerate(listed[:results])
    )
    return BulkRun(
        "hB3kQ9xW2mZ7pL4tR8vN1c", TENANT, channel_id("team0"), FRONT_DESK, ENTERPRISE,
        Person("0e0e0001", PEOPLE[0]), AT, state, tuple(listed), True, done, AT,
    )  # fmt: skip


# -- the gallery ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """One card of the gallery: `screen` is the name of the method that built it."""

    name: str  # file name: the screen and the variant, lower case and hyphens
    title: str
    screen: str
    card: Card


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


class Gallery:
    def __init__(self) -> None:
        self.shots: list[Shot] = []

    def add(
        self, variant: str, screen: Callable[P, Card], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """The card `screen(*args, **kwargs)` builds, named after the screen and `variant`."""
        name = screen.__name__
        title = f"{name.replace('_', ' ')}: {variant}" if variant else name.replace("_", " ")
        shot = Shot(slug(f"{name} {variant}"), title, name, screen(*args, **kwargs))
        if any(s.name == shot.name for s in self.shots):
            raise ValueError(f"two gallery cards named {shot.name}")
        self.shots.append(shot)


def screens(brand: Brand = BRAND, channel: str = FRONT_DESK) -> Screens:
    signer = ActionSigner(b"gallery: made-up key")
    return Screens(signer, ActionContext(channel, ENTERPRISE, tenant=TENANT), brand)


def build() -> list[Shot]:
    """Every card, each screen with the data that shows it at its fullest."""
    g = Gallery()
    s = screens()
    page = [mapping(i) for i in range(PAGE_SIZE)]
    add_mapping_cards(g, s, page)
    add_find_cards(g, s)
    add_organization_cards(g, s)
    add_operator_cards(g, s)
    add_bulk_cards(g, s)
    add_notices(g)
    # The deployment's own brand, without a logo, for comparison.
    plain = screens(Brand())
    g.add("in a channel, the default brand", plain.help, True)
    g.add("a full page, the default brand", plain.status, CHANNEL_NAME, page, page=0, pages=4)
    return g.shots


def add_mapping_cards(g: Gallery, s: Screens, page: list[Mapping]) -> None:
    g.add("in a channel", s.help, True)
    g.add("outside a channel", s.help, False)
    g.add("an unknown command", s.help, True, unknown="unmpa +1 425 555 0142 Front desk")
    g.add("for an operator", s.help, False, operator=True)
    g.add("", s.welcome)
    g.add("", s.pending)
    g.add("", s.channel_only, "map")
    g.add("empty", s.status, "Redmond Office — Overlake Medical Pavilion", [])
    g.add("a full page", s.status, CHANNEL_NAME, page, page=0, pages=4)
    g.add("a middle page", s.status, CHANNEL_NAME, page[3:], page=2, pages=4)
    g.add(
        "a number unmapped elsewhere", s.status, CHANNEL_NAME, page[:4],
        "(425) 555-0107 (+14255550107) is no longer mapped in your organization, so nothing "
        "was changed.",
    )  # fmt: skip
    g.add("", s.mapped, mapping(1), already=False)
    g.add("already", s.mapped, mapping(5), already=True)
    g.add("", s.taken_in_enterprise, mapping(2), "Billing, Insurance and Payment Plans")
    g.add("", s.taken_elsewhere, "+12065550188")
    g.add("", s.moved, mapping(3), "Bellevue Office (Main Street)", already=False)
    g.add("already", s.moved, mapping(3), None, already=True)
    g.add("", s.not_mapped, "+14255550199")
    g.add("twelve channels", s.pick_channel, mapping(9), CHANNELS)
    g.add("no other channel", s.pick_channel, mapping(9), [])
    g.add("", s.moved_away, mapping(7), "After-hours Emergencies", already=False)
    g.add("already", s.moved_away, mapping(7), "After-hours Emergencies", already=True)
    g.add("", s.confirm_unmap, mapping(1))
    g.add("", s.unmapped, "+14255550104", already=False)
    g.add("already", s.unmapped, None, already=True)
    g.add("", s.in_another_channel, mapping(4), "Hygiene Recall")
    g.add("empty", s.list, [], 0, 1)
    groups = [
        (name, [mapping(10 * c + i, cid) for i in range(3 + c % 3)])
        for c, (cid, name) in enumerate(CHANNELS[:4])
    ]
    g.add("a middle page", s.list, groups, 1, 5)
    g.add("", s.invalid_number, "425-555-01", "it has too few digits", "map")
    g.add("", s.invalid_name, "Front desk\x07", "it contains control characters")
    g.add(
        "", s.problem, "ContextSMS is not available",
        "Nothing was changed. Try again in a few minutes.", "req-5c1e9a7b2f4d4e0c",
    )  # fmt: skip
    g.add(
        "", s.outcome_unknown, "No answer from ContextSMS",
        "ContextSMS did not confirm the change in time, so it may or may not have been applied.",
        "req-5c1e9a7b2f4d4e0c",
    )  # fmt: skip
    g.add(
        "of an enterprise", s.outcome_unknown, "ContextSMS did not confirm the change",
        "ContextSMS had a problem after it received the change, so it may or may not have been "
        "applied.", enterprises=True,
    )  # fmt: skip


def add_find_cards(g: Gallery, s: Screens) -> None:
    g.add("", s.find_usage)
    g.add("", s.find_none, "Dr. Okonkwo")
    rows = [
        FoundNumber(mapping(i, CHANNELS[i % 3][0]), CHANNELS[i % 3][1], here=i % 3 == 1)
        for i in range(PAGE_SIZE)
    ]
    g.add("a middle page", s.find_results, "555 01", rows, page=1, pages=3, total=27, buttons=True)
    g.add(
        "read only", s.find_results, "desk", rows[:2], page=0, pages=1, total=2, buttons=False,
        note="Only an owner of this team can move or unmap numbers here.",
    )  # fmt: skip
    g.add("", s.find_confirm_unmap, mapping(2, CHANNELS[2][0]), CHANNELS[2][1])
    g.add("", s.find_unmapped, "+14255550102", CHANNELS[2][1], already=False)
    g.add("already", s.find_unmapped, "+14255550102", CHANNELS[2][1], already=True)
    g.add(
        "to another channel", s.find_moved, mapping(6, CHANNELS[4][0]), CHANNELS[4][1],
        CHANNELS[2][1], here=False,
    )  # fmt: skip
    g.add("here", s.find_moved, mapping(6), CHANNEL_NAME, CHANNELS[2][1], here=True)
    g.add("", s.find_gone)


def add_organization_cards(g: Gallery, s: Screens) -> None:
    g.add("", s.no_tenant)
    g.add("", s.not_linked)
    g.add("", s.setup_without_code)
    g.add("the organization", s.linked, link(1), None)
    g.add(
        "a team, before another enterprise", s.linked,
        link(1, channel_id("team0"), "E0004218"), link(1),
    )  # fmt: skip
    g.add(
        "the team keeps its own", s.linked, link(1, enterprise="E0004219"), None,
        link(1, channel_id("team0"), "E0004220"),
    )  # fmt: skip
    g.add("", s.relink_in_a_team)
    g.add("", s.setup_in_a_team_or_personal_chat)
    for problem in SetupProblem:
        g.add(problem.value.replace("_", " "), s.setup_refused, problem)
    g.add("", s.not_allowed, "an owner of this team", "map, move or unmap numbers here")
    g.add("", s.cannot_tell, "map, move or unmap numbers here")
    g.add("canceled", s.payment_required, "canceled")
    g.add("no subscription", s.payment_required, "none")
    g.add("a status of its own", s.payment_required, "past_due_final_notice")
    g.add("", s.payment_unknown)
    g.add("", s.foreign_tenant)
    g.add("", s.relinked)
    g.add("empty", s.history, [], {}, page=0, older=None, whole=False)
    entries = [history_entry(i) for i in range(PAGE_SIZE)]
    g.add(
        "a middle page", s.history, entries, LABELS, page=2,
        older=entries[-1].entry_id, whole=False,
    )  # fmt: skip
    g.add("every organization", s.history, entries[:6], {}, page=0, older=None, whole=True)
    g.add("owners only", s.settings, False)
    g.add(
        "every member, just changed", s.settings, True,
        "Every member of this team may now map, move and unmap numbers.",
    )  # fmt: skip


def add_operator_cards(g: Gallery, s: Screens) -> None:
    g.add("empty", s.enterprises, [], 0, 1)
    g.add("a middle page", s.enterprises, [enterprise_row(i) for i in range(PAGE_SIZE)], 1, 3)
    g.add("", s.enterprise_form)
    g.add(
        "with problems", s.enterprise_form,
        {"name": "", "contact": "Dr. Anneliese Müller-Oppenheimer", "number": "425 555",
         "email": "front-desk@lakeview"},
        [FieldProblem("name", "it is empty"),
         FieldProblem("number", "it has too few digits"),
         FieldProblem("email", "it is not an email address")],
    )  # fmt: skip
    g.add("", s.enterprise_created, "E0004231", ENTERPRISE_NAMES[6])
    g.add("the organization", s.invite, IssuedCode("K7QXM-4R2PT", "E0004231", AT, False))
    g.add("one team", s.invite, IssuedCode("K7QXM-4R2PT", "E0004231", AT, True))
    g.add("", s.invite_in_private)
    g.add("", s.operator_usage, "invite", "an enterprise id, e.g. `invite E0004231`")
    g.add("", s.unknown_enterprise, "E9999999")
    g.add("empty", s.links, [], 0, 1)
    links = [link(i, channel_id(f"team{i}") if i % 2 else None) for i in range(PAGE_SIZE)]
    g.add("a middle page", s.links, links, 1, 4)
    g.add("a team", s.confirm_unlink, links[1].team_id or "", [links[1]])
    g.add("an organization, no team keeps a link", s.confirm_unlink, TENANT, [link(0)], [])
    g.add(
        "an organization, teams keep theirs", s.confirm_unlink, TENANT, [link(0)],
        [link(0, channel_id(f"team{i}"), f"E{4300 + i:07d}") for i in range(7)],
    )  # fmt: skip
    g.add("", s.unlinked, TENANT, [link(0)])
    g.add("nothing to unlink", s.unlinked, "19:nobody@thread.tacv2", [])


def add_bulk_cards(g: Gallery, s: Screens) -> None:
    g.add("", s.bulk_form, 500)
    g.add(
        "with a notice", s.bulk_form, 500,
        "Paste at least one number. Nothing was changed.", "",
    )  # fmt: skip
    g.add("a dozen lines", s.bulk_preview, bulk_run(12), CHANNEL_NAME, LABELS)
    g.add("240 lines", s.bulk_preview, bulk_run(240), CHANNEL_NAME, LABELS)
    g.add("half way", s.bulk_progress, bulk_run(240, results=120, state=RunState.APPLYING), LABELS)
    g.add("a dozen lines", s.bulk_result, bulk_run(12, results=12, state=RunState.DONE), LABELS)
    g.add("240 lines", s.bulk_result, bulk_run(240, results=240, state=RunState.DONE), LABELS)
    stopped = bulk_run(240, results=90, state=RunState.STOPPED)
    g.add("interrupted", s.bulk_result, stopped, LABELS, interrupted=True)
    g.add("", s.bulk_too_many, 612, 500)
    g.add("", s.bulk_unknown_run)


def add_notices(g: Gallery) -> None:
    def notice(numbers: int, to: str | None, label: str | None, by: Person | None) -> NumberLeft:
        taken = tuple(number(i) for i in range(numbers))
        return NumberLeft(TENANT, ENTERPRISE, taken, FRONT_DESK, to, label, by)

    marcus = Person("0e0e0002", PEOPLE[1])
    hygiene = CHANNELS[4]
    left = number_left
    g.add("one moved", left, notice(1, *hygiene, marcus), BRAND, same_organization=True)
    g.add(
        "one moved to another organization", left, notice(1, *hygiene, marcus), BRAND,
        same_organization=False,
    )  # fmt: skip
    g.add("45 moved", left, notice(45, *hygiene, marcus), BRAND, same_organization=True)
    g.add("one unmapped", left, notice(1, None, None, None), BRAND, same_organization=True)
    g.add("45 unmapped", left, notice(45, None, None, marcus), BRAND, same_organization=True)


# -- rendering -----------------------------------------------------------------------------


class HostOutcome(BaseModel):
    warnings: list[str]
    errors: list[str]


class CardOutcome(BaseModel):
    name: str
    screen: str
    hosts: dict[str, HostOutcome]


class RenderReport(BaseModel):
    hosts: list[str]
    cards: list[CardOutcome]

    def problems(self) -> dict[str, list[str]]:
        """Each card's warnings and errors, per host: only the cards that have any."""
        found: dict[str, list[str]] = {}
        for card in self.cards:
            for host, outcome in card.hosts.items():
                for message in [*outcome.errors, *outcome.warnings]:
                    found.setdefault(card.name, []).append(f"{host}: {message}")
        return found


def write_cards(shots: list[Shot], path: Path) -> None:
    entries = [
        {"name": s.name, "title": s.title, "screen": s.screen, "card": s.card} for s in shots
    ]
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def render(cards_json: Path, out: Path, *, index: bool = True) -> RenderReport:
    """Renders the cards of `cards_json` into `out` with scripts/render_cards.mjs."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed: the gallery needs it (and `make node`)")
    command = [node, str(RENDERER), str(cards_json), str(out), *([] if index else ["--no-index"])]
    done = subprocess.run(  # noqa: S603 (our own script, with our own paths)
        command, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"the renderer failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return RenderReport.model_validate_json(done.stdout)


def shrink(picture: Path) -> None:
    """The PNG in at most 64 colours: a card's flat colours and its text's edges need no more,
    and the gallery (kept in git, made anew with each change of a card) is a third the size."""
    with Image.open(picture) as image:
        fewer = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    fewer.save(picture, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNGs go (docs/cards)")
    parser.add_argument("--no-index", action="store_true", help="no index.md")
    args = parser.parse_args(argv)
    out: Path = args.out
    shots = build()
    for host in ("light", "dark"):  # no picture of a card the gallery no longer has
        for old in (out / host).glob("*.png"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    cards_json = out / "cards.json"
    write_cards(shots, cards_json)
    report = render(cards_json, out, index=not args.no_index)
    for picture in out.glob("*/*.png"):
        shrink(picture)
    print(report.model_dump_json(indent=1))
    problems = report.problems()
    print(
        f"{len(shots)} cards, {len(report.hosts)} hosts ({', '.join(report.hosts)}): "
        f"{len(problems)} with a render error or a renderer warning",
        file=sys.stderr,
    )
    for name, messages in problems.items():
        print(f"  {name}: " + "; ".join(messages), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
