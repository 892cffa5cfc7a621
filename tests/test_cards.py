"""Every card the bot can send: valid for Microsoft's renderer and the official 1.5 schema,
under Teams' size limit, and carrying ids only."""

from __future__ import annotations

import inspect
import json
import subprocess
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.actions import ActionContext, ActionSigner, TamperedAction, card_action
from bot.branding import Brand
from bot.operations import EnterpriseLinks, FieldProblem
from bot.storage.models import AuditAction, AuditEntry, Link
from bot.tenancy import IssuedCode, SetupProblem
from cards import CARD_SIZE_LIMIT, card_size
from cards.elements import Card
from cards.find import FoundNumber
from cards.screens import PAGE_SIZE, Screens
from contextsms.models import Enterprise, Mapping
from tests.test_bulk_chat import bulk_cards

ROOT = Path(__file__).resolve().parent.parent
SIGNER = ActionSigner(b"test key")
TENANT = "aaaaaaaa-0000-4000-8000-00000000000a"
GENERAL, SALES = "19:general@thread.tacv2", "19:sales@thread.tacv2"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mapping(
    i: int, channel: str = "19:general@thread.tacv2", name: str | None = "Front desk"
) -> Mapping:
    return Mapping.model_validate(
        {
            "numberToMessageAppMapId": f"NTMAP{i:07d}", "phoneNumber": f"+1555{i:07d}",
            "messagingAppType": "Teams", "messagingAppId": channel, "name": name,
            "createdDate": 1795700000000 + i,
        }
    )  # fmt: skip


def link(i: int, team: str | None = None, enterprise: str = "E0000001") -> Link:
    return Link(f"{i:08d}-0000-4000-8000-000000000000", team, enterprise, AT, "settings")


def entry(i: int, action: AuditAction = AuditAction.REMAP, outcome: str = "ok") -> AuditEntry:
    return AuditEntry(
        at=AT, action=action, outcome=outcome, actor_id="0e0e", actor_name="Olga Owner",
        tenant_id=TENANT, team_id="19:general@thread.tacv2", number=f"+1555{i:07d}",
        before="19:general@thread.tacv2", after="19:sales@thread.tacv2",
        request_id="req-abc" if outcome != "ok" else None, entry_id=f"{i:020d}",
    )  # fmt: skip


def enterprise_row(i: int, links: int = 1) -> EnterpriseLinks:
    ent = Enterprise(enterprise_id=f"E{i:07d}", name=f"Clinic {i}")
    return EnterpriseLinks(ent, tuple(link(j, enterprise=ent.enterprise_id) for j in range(links)))


def organization_cards(s: Screens) -> dict[str, Card]:
    """The cards of setup, roles, history and settings, and the operators'."""
    issued = IssuedCode("ABCDE-12345", "E0000002", AT, team_scoped=False)
    names = {"19:general@thread.tacv2": "General", "19:sales@thread.tacv2": "Sales"}
    cards = {
        "no tenant": s.no_tenant(),
        "not linked": s.not_linked(),
        "setup without code": s.setup_without_code(),
        "linked": s.linked(link(1), None),
        "linked, a team, before another enterprise": s.linked(
            link(1, team="19:team@thread.tacv2", enterprise="E0000002"), link(1)
        ),
        "not allowed": s.not_allowed("an owner of this team", "map, move or unmap numbers here"),
        "cannot tell": s.cannot_tell("map, move or unmap numbers here"),
        "foreign tenant": s.foreign_tenant(),
        "relinked": s.relinked(),
        "history, empty": s.history([], {}, page=0, older=None, whole=False),
        "history, a middle page": s.history(
            [entry(i, outcome="unknown" if i % 3 else "ok") for i in range(10)], names,
            page=2, older="00000000000000000009", whole=False,
        ),
        "history, every organization": s.history(
            [entry(1, AuditAction.LINK), entry(2, AuditAction.SETTINGS_CHANGED)], {},
            page=0, older=None, whole=True,
        ),
        "settings, owners": s.settings(False),
        "settings, every member": s.settings(True, "Changed."),
        "enterprises, empty": s.enterprises([], 0, 1),
        "enterprises, a middle page": s.enterprises(
            [enterprise_row(i, links=i % 5) for i in range(10)], 1, 3
        ),
        "enterprise form": s.enterprise_form(),
        "enterprise form, with problems": s.enterprise_form(
            {"name": "", "contact": "Dr. X", "number": "12", "email": "nope"},
            [FieldProblem("name", "it is empty"), FieldProblem("number", "too short"),
             FieldProblem("email", "it is not an email address")],
        ),
        "enterprise created": s.enterprise_created("E0000002", "Sunshine Dental"),
        "invite": s.invite(issued),
        "invite, one team": s.invite(IssuedCode("ABCDE-12345", "E0000002", AT, team_scoped=True)),
        "invite in private": s.invite_in_private(),
        "operator usage": s.operator_usage("invite", "an enterprise id"),
        "unknown enterprise": s.unknown_enterprise("E9999999"),
        "links, empty": s.links([], 0, 1),
        "links, a middle page": s.links([link(i, team=f"19:t{i}" if i % 2 else None)
                                         for i in range(10)], 1, 3),
        "confirm unlink, a team": s.confirm_unlink("19:t1", [link(1, team="19:t1")]),
        "confirm unlink, no team keeps a link": s.confirm_unlink(TENANT, [link(1)], []),
        "confirm unlink, teams keep theirs": s.confirm_unlink(
            TENANT, [link(1)], [link(i, team=f"19:t{i}") for i in range(7)]
        ),
        "relink in a team": s.relink_in_a_team(),
        "setup in a team or personal chat": s.setup_in_a_team_or_personal_chat(),
        "linked, the team keeps its own": s.linked(
            link(1, enterprise="E0000006"), None, link(1, team="19:t1", enterprise="E0000007")
        ),
        "unlinked": s.unlinked(TENANT, [link(1)]),
        "unlinked, nothing": s.unlinked("19:nobody", []),
    }  # fmt: skip
    for problem in SetupProblem:
        cards[f"setup refused, {problem.value}"] = s.setup_refused(problem)
    return cards


# A CSP's brand with a logo, as Branding makes it from getcspconfig.
NORTHWIND = Brand("Northwind Connect", "https://cdn.example.com/northwind.png", "good")


def every_card() -> dict[str, Card]:
    """Every kind of card in the deployment's brand, and again in a CSP's with its logo."""
    plain = cards_in(Brand())
    branded = cards_in(NORTHWIND)
    return {**plain, **{f"{name}, branded": card for name, card in branded.items()}}


def cards_in(brand: Brand) -> dict[str, Card]:
    s = Screens(SIGNER, ActionContext("19:general@thread.tacv2", "E0000001", tenant=TENANT), brand)
    many = [mapping(i, name="A rather long name for a number " * 2) for i in range(PAGE_SIZE)]
    cards = {
        "help in a channel": s.help(True),
        "help outside a channel": s.help(False),
        "help for an unknown command": s.help(True, unknown="frobnicate"),
        "welcome": s.welcome(),
        "pending": s.pending(),
        "channel only": s.channel_only("map"),
        "status, empty": s.status("General", []),
        "status, full": s.status("General", many, notice="A notice"),
        "mapped": s.mapped(mapping(1), already=False),
        "mapped already": s.mapped(mapping(1, name=None), already=True),
        "taken in enterprise": s.taken_in_enterprise(mapping(2), "Sales"),
        "taken elsewhere": s.taken_elsewhere("+15559876543"),
        "moved": s.moved(mapping(3), "Sales", already=False),
        "moved already": s.moved(mapping(3), None, already=True),
        "not mapped": s.not_mapped("+15559876543"),
        "pick channel": s.pick_channel(mapping(6), [("19:a", "Sales"), ("19:b", "Support")]),
        "pick channel, none known": s.pick_channel(mapping(6), []),
        "moved away": s.moved_away(mapping(7), "Sales", already=False),
        "moved away already": s.moved_away(mapping(7), "Sales", already=True),
        "confirm unmap": s.confirm_unmap(mapping(4)),
        "unmapped": s.unmapped("+15559876543", already=False),
        "unmapped already": s.unmapped(None, already=True),
        "in another channel": s.in_another_channel(mapping(5), "Sales"),
        "list, empty": s.list([], 0, 1),
        "list, a middle page": s.list([("General", many[:5]), ("Sales", many[5:])], 1, 3),
        "invalid number": s.invalid_number("555-12", "it has too few digits", "map"),
        "invalid name": s.invalid_name("a\x07b", "it contains control characters"),
        "problem": s.problem("ContextSMS had a problem", "Nothing was changed.", "req-abc123"),
        "outcome unknown": s.outcome_unknown(
            "ContextSMS did not confirm the change",
            "It may or may not have been applied.",
            "req-abc123",
        ),
        "status, a middle page": s.status("General", many, None, page=1, pages=3),
        "help for an operator": s.help(False, operator=True),
        "outcome unknown, of an enterprise": s.outcome_unknown(
            "No answer", "It may or may not have been applied.", enterprises=True
        ),
        "payment required": s.payment_required("canceled"),
        "payment required, no subscription": s.payment_required("none"),
        "payment required, a status of its own": s.payment_required("on_hold"),
        "payment unknown": s.payment_unknown(),
        "find usage": s.find_usage(),
        "find none": s.find_none("front desk"),
        "find results, a middle page": s.find_results(
            "555 987",
            [FoundNumber(mapping(i, channel=GENERAL if i % 3 else SALES),
                         "General" if i % 3 else "Sales", here=bool(i % 3))
             for i in range(PAGE_SIZE)],
            page=1, pages=3, total=25, buttons=True,
        ),
        "find results, read only": s.find_results(
            "desk", [FoundNumber(mapping(1), "General", here=True)], page=0, pages=1, total=1,
            buttons=False, note="Only an owner of this team can move or unmap numbers here.",
        ),
        "find confirm unmap": s.find_confirm_unmap(mapping(4, channel=SALES), "Sales"),
        "find unmapped": s.find_unmapped("+15559876543", "Sales", already=False),
        "find unmapped, already": s.find_unmapped("+15559876543", "Sales", already=True),
        "find moved": s.find_moved(mapping(5, channel="19:support@thread.tacv2"), "Support",
                                   "Sales", here=False),
        "find moved, here": s.find_moved(mapping(5), "General", "Sales", here=True),
        "find gone": s.find_gone(),
    }  # fmt: skip
    return {**cards, **organization_cards(s), **bulk_cards(s)}


def test_every_screen_is_covered() -> None:
    screens = {
        name for name, member in inspect.getmembers(Screens, inspect.isfunction)
        if not name.startswith("_") and name not in {"act", "map_form", "card"}
    }  # fmt: skip
    built = {
        name for name in screens
        if any(key.split(",")[0].replace(" ", "_").startswith(name) for key in every_card())
    }  # fmt: skip
    assert screens - built == set(), "a screen without a test card"


def test_microsofts_renderer_finds_no_problem() -> None:
    cards = every_card()
    result = subprocess.run(
        ["node", str(ROOT / "tests/support/validate_cards.js")],
        input=json.dumps(list(cards.values())), capture_output=True, text=True, check=True,
    )  # fmt: skip
    problems = dict(zip(cards, json.loads(result.stdout), strict=True))
    assert {name: p for name, p in problems.items() if p} == {}


def test_renderer_check_catches_a_broken_card() -> None:
    broken = {"type": "AdaptiveCard", "version": "1.5",
              "body": [{"type": "TextBlok", "text": "x"}, {"type": "Input.Text", "id": "a"},
                       {"type": "Input.Text", "id": "a"}]}  # fmt: skip
    result = subprocess.run(
        ["node", str(ROOT / "tests/support/validate_cards.js")],
        input=json.dumps([broken]), capture_output=True, text=True, check=True,
    )  # fmt: skip
    [problems] = json.loads(result.stdout)
    assert any("TextBlok" in p for p in problems) and any("Duplicate Id" in p for p in problems)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    text = resources.files("adaptive_cards").joinpath("schemas/schema-1.5.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.mark.parametrize("name", list(every_card()))
def test_official_schema_accepts_the_card(name: str, schema: dict[str, Any]) -> None:
    card = every_card()[name]
    jsonschema.Draft6Validator(schema).validate(card)


def test_official_schema_catches_a_textblock_without_text(schema: dict[str, Any]) -> None:
    broken = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft6Validator(schema).validate(broken)


@pytest.mark.parametrize("name", list(every_card()))
def test_card_fits_teams_limit(name: str) -> None:
    assert card_size(every_card()[name]) < CARD_SIZE_LIMIT


def actions_of(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            found.append(node)
        for value in node.values():
            found += actions_of(value)
    elif isinstance(node, list):
        for value in node:
            found += actions_of(value)
    return found


def test_actions_carry_signed_ids_only() -> None:
    for name, card in every_card().items():
        for action in actions_of(card):
            data = action["data"]
            assert set(data) == {"ctx", "sig"}, name
            assert set(data["ctx"]) <= {"ch", "ent", "id", "page", "ten", "to"}, name
            assert data["ctx"]["ten"] == TENANT, name
            assert SIGNER.verify(card_action(action["verb"], data)).to_wire() == data["ctx"]
            forged = {"ctx": {**data["ctx"], "id": "NTMAP9999999"}, "sig": data["sig"]}
            with pytest.raises(TamperedAction):
                SIGNER.verify(card_action(action["verb"], forged))
            other = "unmap.confirm" if action["verb"] != "unmap.confirm" else "status"
            with pytest.raises(TamperedAction):
                SIGNER.verify(card_action(other, data))


def test_only_the_form_button_sends_inputs() -> None:
    status = every_card()["status, full"]
    sending = [a["verb"] for a in actions_of(status) if a["associatedInputs"] == "auto"]
    assert sending == ["map"]
    pick = every_card()["pick channel"]
    assert [a["verb"] for a in actions_of(pick) if a["associatedInputs"] == "auto"] == [
        "remap.move"
    ]


def test_dates_are_shown_in_the_readers_time_zone() -> None:
    text = json.dumps(every_card()["status, full"])
    when = datetime.fromtimestamp(1795700000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"{{{{DATE({when}, SHORT)}}}}" in text
