"""Who may use what, verb by verb: every typed command and every card verb the bot has, each
tried by an operator, a team owner, an ordinary member and a member of a team whose owners let
every member change, against the sandbox, SQLite and Graph's stand-in.

One table says, for each verb, who may use it, what one who may sees, and whether it writes to
ContextSMS; the tests hold every verb to it. A refused person gets the refusal card for that
verb and nothing reaches ContextSMS or the audit trail. An organization that is not set up
sees only how to set it up (help and setup aside), and the bot makes no ContextSMS call for it.
Every verb that writes to ContextSMS is then run with its answer lost after the change was
applied: the card says the outcome is unknown, never that nothing was changed, and the
sandbox's state is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import pytest

from bot.actions import ActionContext, CardVerb
from bot.bulk import read_lines
from bot.commands import Verb
from bot.conversation import Conversation
from bot.handlers import MappingBot
from bot.storage.models import AuditAction, Link
from cards.elements import Card
from contextsms import ContextSMSClient
from contextsms.models import MappingCreate
from contextsms.retry import Deadline
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number
from tests.test_bot_behaviour import (
    GENERAL,
    MEMBER,
    NAMED,
    NO_TEAM,
    OPERATOR,
    OPERATOR_TENANT,
    PERSONAL,
    SALES,
    TENANT,
    Directory,
    World,
    act,
    bot,
    button,
    click,
    in_channel,
    person,
    texts,
    world,
)
from tests.test_never_lie import FAILED_LOOKUPS, assert_tells_unknown, served_then_failed, settle
from tests.test_operator_chat import OPS_CHANNEL, OPS_TEAM, PRIVATE, in_ops_team, pages
from tests.test_roles import writes
from tests.test_tenants import ADMIN_NEW, GROUP_NEW, NEW_TENANT, TEAM_NEW, api_calls, in_new

__all__ = ["bot", "world"]  # the fixtures, shared with the behaviour tests

WRONG_CODE = "KXRTP-48213"  # of a code's shape, and no code the tests issue
OPS_SALES = "19:ops-sales@thread.tacv2"
OPS_NAMED = Directory({OPS_CHANNEL: "General", OPS_SALES: "Sales"}, group=OPS_TEAM.group)
MEMBER_PERSONAL = Conversation(
    TENANT, user=person(MEMBER), conversation_id="a:personal-max", personal=True
)

# What a refused person may not do, as the refusal card names it.
CHANGE = "map, move or unmap numbers here"
SET_UP = "set up this organization or team with a code"
SEE_HISTORY = "see this team's history"
SETTINGS = "change who may map numbers in this team"
MANY = "map many numbers at once"


class Role(Enum):
    OPERATOR = "operator"
    OWNER = "team owner"
    MEMBER = "ordinary member"
    LET_MEMBER = "member of a team that lets every member change"


class Who(Enum):
    """Who may use a verb."""

    ANYONE = "anyone"
    MEMBERS = "any member of a linked team"
    CHANGERS = "owners and operators, or every member where the team says so"
    OWNERS = "owners and operators"
    OPERATORS = "operators only"


ALLOWED: dict[Who, frozenset[Role]] = {
    Who.ANYONE: frozenset(Role),
    Who.MEMBERS: frozenset(Role),
    Who.CHANGERS: frozenset({Role.OPERATOR, Role.OWNER, Role.LET_MEMBER}),
    Who.OWNERS: frozenset({Role.OPERATOR, Role.OWNER}),
    Who.OPERATORS: frozenset({Role.OPERATOR}),
}


@dataclass(frozen=True)
class Case:
    """One verb: who may use it, what one who may sees, what a refused owner or member is told
    they may not do (`what`), whether it is used in a personal chat (the operators' verbs)
    rather than a channel, and whether it writes to ContextSMS."""

    who: Who
    allowed: str
    what: str = ""
    personal: bool = False
    writes: bool = False


@dataclass(frozen=True)
class Typed:
    text: str  # {here}, {there}: numbers of this channel and of another; {fresh}: a new one
    case: Case


@dataclass(frozen=True)
class Clicked:
    case: Case
    # The signed id: "here", "there" (a mapping), "enterprise", "spare" (a link), "query" (a
    # find), "run" (a previewed list of one new number for this channel).
    about: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)  # what the person entered
    to: str | None = None  # the signed target, a template as the inputs


CREATE_INPUTS = {"name": "Matrix Clinic", "contact": "Dr. Matrix", "number": "{fresh}",
                 "email": "matrix@example.com"}  # fmt: skip

COMMANDS: dict[Verb, Typed] = {
    Verb.HELP: Typed("help", Case(Who.ANYONE, "I route the SMS")),
    Verb.SETUP: Typed(f"setup {WRONG_CODE}", Case(Who.OWNERS, "That setup code is not right",
                                                  SET_UP)),
    Verb.LIST: Typed("list", Case(Who.MEMBERS, "All numbers of your organization")),
    Verb.STATUS: Typed("status", Case(Who.MEMBERS, "Numbers in General")),
    Verb.MAP: Typed("map {fresh}", Case(Who.CHANGERS, "Number mapped", CHANGE, writes=True)),
    Verb.REMAP: Typed("remap {there}", Case(Who.CHANGERS, "Number moved here", CHANGE,
                                            writes=True)),
    Verb.UNMAP: Typed("unmap {here}", Case(Who.CHANGERS, "Unmap this number?", CHANGE)),
    Verb.HISTORY: Typed("history", Case(Who.OWNERS, "Latest changes in this team",
                                        SEE_HISTORY)),
    Verb.SETTINGS: Typed("settings", Case(Who.OWNERS, "Settings of this team", SETTINGS)),
    Verb.FIND: Typed("find {here}", Case(Who.MEMBERS, "Numbers found")),
    Verb.ENTERPRISES: Typed("enterprises", Case(Who.OPERATORS, "Enterprises", personal=True)),
    Verb.NEW_ENTERPRISE: Typed("new enterprise", Case(Who.OPERATORS, "New enterprise",
                                                      personal=True)),
    Verb.INVITE: Typed("invite {enterprise}", Case(Who.OPERATORS, "Setup code for",
                                                   personal=True)),
    Verb.LINKS: Typed("links", Case(Who.OPERATORS, f"Tenant {TENANT} uses", personal=True)),
    Verb.UNLINK: Typed("unlink {spare}", Case(Who.OPERATORS, "Unlink?", personal=True)),
}  # fmt: skip

CARDS: dict[CardVerb, Clicked] = {
    CardVerb.HELP: Clicked(Case(Who.ANYONE, "I route the SMS")),
    CardVerb.SETUP: Clicked(Case(Who.OWNERS, "That setup code is not right", SET_UP),
                            inputs={"code": WRONG_CODE}),
    CardVerb.LIST: Clicked(Case(Who.MEMBERS, "All numbers of your organization")),
    CardVerb.STATUS: Clicked(Case(Who.MEMBERS, "Numbers in General")),
    CardVerb.MAP: Clicked(Case(Who.CHANGERS, "Number mapped", CHANGE, writes=True),
                          inputs={"number": "{fresh}", "name": "Desk"}),
    CardVerb.REMAP: Clicked(Case(Who.CHANGERS, "Number moved here", CHANGE, writes=True),
                            "there"),
    CardVerb.REMAP_PICK: Clicked(Case(Who.CHANGERS, "Move this number", CHANGE), "here"),
    CardVerb.REMAP_MOVE: Clicked(Case(Who.CHANGERS, "Number moved", CHANGE, writes=True),
                                 "here", {"target": "{other}"}),
    CardVerb.UNMAP_ASK: Clicked(Case(Who.CHANGERS, "Unmap this number?", CHANGE), "here"),
    CardVerb.UNMAP_CONFIRM: Clicked(Case(Who.CHANGERS, "Number unmapped", CHANGE,
                                         writes=True), "here"),
    CardVerb.HISTORY: Clicked(Case(Who.OWNERS, "Latest changes in this team", SEE_HISTORY)),
    CardVerb.SETTINGS: Clicked(Case(Who.OWNERS, "Settings of this team", SETTINGS)),
    CardVerb.SETTINGS_MEMBERS_ON: Clicked(Case(Who.OWNERS, "Every member of this team may now",
                                               SETTINGS)),
    CardVerb.SETTINGS_MEMBERS_OFF: Clicked(Case(Who.OWNERS, "Only this team's owners may now",
                                                SETTINGS)),
    CardVerb.FIND: Clicked(Case(Who.MEMBERS, "Numbers found"), "query"),
    CardVerb.FIND_UNMAP_ASK: Clicked(Case(Who.CHANGERS, "Unmap this number?", CHANGE), "there",
                                     to="{other}"),
    CardVerb.FIND_UNMAP_CONFIRM: Clicked(Case(Who.CHANGERS, "Number unmapped", CHANGE,
                                              writes=True), "there", to="{other}"),
    CardVerb.BULK_FORM: Clicked(Case(Who.OWNERS, "Map many numbers", MANY)),
    CardVerb.BULK_PREVIEW: Clicked(Case(Who.OWNERS, "Map 1 number to", MANY),
                                   inputs={"numbers": "{fresh}"}),
    # Applying answers at once and maps in the background: the test waits for the run.
    CardVerb.BULK_APPLY: Clicked(Case(Who.OWNERS, "Applying", MANY, writes=True), "run",
                                 to="new"),
    CardVerb.BULK_SHOW: Clicked(Case(Who.OWNERS, "Map 1 number to", MANY), "run"),
    CardVerb.ENTERPRISES: Clicked(Case(Who.OPERATORS, "Enterprises", personal=True)),
    CardVerb.ENTERPRISE_NEW: Clicked(Case(Who.OPERATORS, "New enterprise", personal=True)),
    CardVerb.ENTERPRISE_CREATE: Clicked(Case(Who.OPERATORS, "Enterprise created", personal=True,
                                             writes=True), inputs=CREATE_INPUTS),
    CardVerb.INVITE: Clicked(Case(Who.OPERATORS, "Setup code for", personal=True),
                             "enterprise"),
    CardVerb.LINKS: Clicked(Case(Who.OPERATORS, f"Tenant {TENANT} uses", personal=True)),
    CardVerb.UNLINK_ASK: Clicked(Case(Who.OPERATORS, "Unlink?", personal=True), "spare"),
    CardVerb.UNLINK_CONFIRM: Clicked(Case(Who.OPERATORS, "Unlinked", personal=True), "spare"),
}  # fmt: skip


@dataclass(frozen=True)
class Seat:
    """Where a role acts: a channel of its team (and another channel of it), or its personal
    chat with the bot."""

    channel: Conversation
    other: str
    directory: Directory
    personal: Conversation

    def conversation(self, case: Case) -> tuple[Conversation, Directory]:
        return (self.personal, NO_TEAM) if case.personal else (self.channel, self.directory)


SEATS: dict[Role, Seat] = {
    Role.OPERATOR: Seat(in_ops_team(), OPS_SALES, OPS_NAMED, PRIVATE),
    Role.OWNER: Seat(in_channel(), SALES, NAMED, PERSONAL),
    Role.MEMBER: Seat(in_channel(user=MEMBER), SALES, NAMED, MEMBER_PERSONAL),
    Role.LET_MEMBER: Seat(in_channel(user=MEMBER), SALES, NAMED, MEMBER_PERSONAL),
}


@dataclass(frozen=True)
class Stage:
    """What a role's try acts on, made afresh for each role: a number mapped to its channel,
    one mapped to another channel of its team, a number nobody uses, and a team link of no
    use to anyone, to unlink."""

    values: dict[str, str]

    def fill(self, template: str) -> str:
        return template.format(**self.values)

    def target(self, about: str | None) -> str | None:
        """The id a button acts on: a mapping's id for a number, else the value itself."""
        if about is None:
            return None
        return self.values[f"{about}_id" if about in ("here", "there") else about]


async def stage(world: World, client: ContextSMSClient, role: Role) -> Stage:
    seat, eid = SEATS[role], world.enterprise.enterprise_id
    assert seat.channel.channel_id is not None  # every seat's channel is one
    here = await client.add_mapping(
        eid, MappingCreate(phone_number=fresh_number(), messaging_app_id=seat.channel.channel_id)
    )
    there = await client.add_mapping(
        eid, MappingCreate(phone_number=fresh_number(), messaging_app_id=seat.other)
    )
    spare = f"19:spare-{role.name.lower()}@thread.tacv2"
    await world.storage.put_link(Link(TENANT, spare, eid, world.audit.clock(), "x"))
    # Whether every member may change is each team's own option: only the last role has it.
    await world.tenancy.set_members_may_change(seat.channel, role is Role.LET_MEMBER)
    run = await world.bot.bulk.mapper.preview(
        read_lines(fresh_number(), "US"), enterprise_id=eid, tenant_id=seat.channel.tenant_id or "",
        team_id=seat.channel.team_id, channel_id=seat.channel.channel_id, by=seat.channel.user,
        limit=Deadline(10),
    )  # fmt: skip
    return Stage({
        "here": here.phone_number, "here_id": here.id, "there": there.phone_number,
        "there_id": there.id, "fresh": fresh_number(), "other": seat.other,
        "enterprise": eid, "spare": spare, "query": here.phone_number[-7:], "run": run.run_id,
    })  # fmt: skip


@pytest.fixture
async def operators_team(world: World) -> None:
    """The operators' own team uses the same enterprise, so that an operator's mapping
    commands act somewhere (operators are known by their tenant, not a customer's)."""
    await world.tenancy.link_from_settings(OPERATOR_TENANT, world.enterprise.enterprise_id)


def refusal_problems(card: Card, case: Case, typed: str | None) -> list[str]:
    """What is wrong with `card` as the refusal of `case` to an owner or a member."""
    shown = texts(card)
    if case.who is Who.OPERATORS:
        # Operators' verbs are invisible to others: typed, as a word the bot does not know;
        # clicked, the help card. Never the operators' part of it.
        wanted = f"I don't know the command **{typed.split()[0]}**" if typed else "I route the SMS"
        problems = [] if wanted in shown else [f"not {wanted!r}"]
        return problems + (["shows operators' help"] if "For operators" in shown else [])
    wanted = f"Only an owner of this team can {case.what}. Nothing was changed."
    return [] if "Not allowed for you" in shown and wanted in shown else [f"not {wanted!r}"]


def try_as(
    sandbox: RunningSandbox, role: Role, case: Case, card: Card, typed: str | None
) -> list[str]:
    """What `card`, the answer to `role`, gets wrong for `case` (nothing: [])."""
    problems: list[str] = []
    shown = texts(card)
    written = writes(sandbox)
    if role in ALLOWED[case.who]:
        if case.allowed not in shown or "Not allowed for you" in shown:
            problems.append(f"not allowed through: {shown!r}")
        if bool(written) != case.writes:
            problems.append(f"ContextSMS writes {written} where the table says {case.writes}")
    else:
        problems += refusal_problems(card, case, typed)
        if written:
            problems.append(f"refused, yet wrote {written}")
    return [f"{role.value}: {p}" for p in problems]


async def test_the_matrix_holds_every_verb_the_bot_has(bot: MappingBot) -> None:
    assert set(COMMANDS) == set(Verb) == bot.command_verbs
    assert set(CARDS) == set(CardVerb) == bot.card_verbs
    # Each verb that writes to ContextSMS is tried below with its answer lost (and `new
    # enterprise`, whose form's Create button writes).
    writing: set[Verb | CardVerb] = {v for v, t in COMMANDS.items() if t.case.writes}
    writing |= {v for v, c in CARDS.items() if c.case.writes}
    assert writing | {Verb.NEW_ENTERPRISE} == {lost.verb for lost in LOST}


@pytest.mark.parametrize("verb", list(Verb), ids=str)
async def test_who_may_type_each_command(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World,
    operators_team: None, verb: Verb,
) -> None:  # fmt: skip
    typed = COMMANDS[verb]
    problems: list[str] = []
    for role in Role:
        staged = await stage(world, client, role)
        conversation, directory = SEATS[role].conversation(typed.case)
        text = staged.fill(typed.text)
        audited = len(await world.entries())
        sandbox.reset()
        card = await bot.on_message(conversation, text, directory)
        found = try_as(sandbox, role, typed.case, card, text)
        if role not in ALLOWED[typed.case.who] and len(await world.entries()) != audited:
            found.append(f"{role.value}: refused, yet the audit trail changed")
        problems += found
    assert problems == []


@pytest.mark.parametrize("verb", list(CardVerb), ids=str)
async def test_who_may_click_each_card_verb(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World,
    operators_team: None, verb: CardVerb,
) -> None:  # fmt: skip
    clicked = CARDS[verb]
    problems: list[str] = []
    for role in Role:
        staged = await stage(world, client, role)
        conversation, directory = SEATS[role].conversation(clicked.case)
        # The button as the bot signs it on a card it posted in this conversation.
        ctx = ActionContext(
            conversation.channel_id or "", world.enterprise.enterprise_id,
            staged.target(clicked.about), tenant=conversation.tenant_id,
            target=staged.fill(clicked.to) if clicked.to else None,
        )  # fmt: skip
        inputs = {name: staged.fill(value) for name, value in clicked.inputs.items()}
        links, audited = await world.storage.links(), len(await world.entries())
        sandbox.reset()
        card = await act(bot, conversation, verb.value, {**bot.signer(verb, ctx), **inputs},
                         directory)  # fmt: skip
        await bot.bulk.aclose()  # a list being applied: its changes made
        found = try_as(sandbox, role, clicked.case, card, None)
        if role not in ALLOWED[clicked.case.who]:
            if len(await world.entries()) != audited:
                found.append(f"{role.value}: refused, yet the audit trail changed")
            if await world.storage.links() != links:
                found.append(f"{role.value}: refused, yet the links changed")
        problems += found
    assert problems == []


def unlinked_answer(case: Case, typed: str | None) -> str:
    """What the person of an organization that is not set up sees for `case`."""
    if case.who is Who.ANYONE:
        return case.allowed  # help
    if case.allowed == "That setup code is not right":
        return case.allowed  # setup: the code is looked at, and is wrong
    if case.who is Who.OPERATORS:  # not a command for them: as a word the bot does not know
        return f"I don't know the command **{typed.split()[0]}**" if typed else "I route the SMS"
    return "Not set up yet"


async def test_an_organization_nobody_set_up_is_told_how_and_nothing_is_called(
    sandbox: RunningSandbox, bot: MappingBot, world: World
) -> None:
    world.graph.set_team(GROUP_NEW, NEW_TENANT, [ADMIN_NEW])  # its admin owns the team
    staged = Stage({
        "here": fresh_number(), "there": fresh_number(), "fresh": fresh_number(),
        "enterprise": world.enterprise.enterprise_id, "spare": "19:x@thread.tacv2",
    })  # fmt: skip
    links = await world.storage.links()
    problems = []
    for verb, typed in COMMANDS.items():
        text = staged.fill(typed.text)
        sandbox.reset()
        shown = texts(await bot.on_message(in_new(), text, TEAM_NEW))
        wanted = unlinked_answer(typed.case, text)
        if wanted not in shown:
            problems.append(f"{verb}: not {wanted!r} but {shown!r}")
        if wanted == "Not set up yet" and "setup ‹code›" not in shown:
            problems.append(f"{verb}: does not say how to set up")
        if api_calls(sandbox):
            problems.append(f"{verb}: called ContextSMS {api_calls(sandbox)}")
    assert problems == []
    assert await world.storage.links() == links


async def test_an_organization_whose_link_was_removed_gets_nothing_from_its_old_cards(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World
) -> None:
    eid = world.enterprise.enterprise_id
    here = await client.add_mapping(eid, MappingCreate(phone_number=fresh_number(),
                                                       messaging_app_id=GENERAL))  # fmt: skip
    there = await client.add_mapping(eid, MappingCreate(phone_number=fresh_number(),
                                                        messaging_app_id=SALES))  # fmt: skip
    ids = {"here": here.id, "there": there.id, "enterprise": eid, "spare": TENANT,
           "query": here.phone_number[-7:], "run": "r-unknown"}  # fmt: skip
    before = await client.list_mappings(eid)
    await world.tenancy.unlink(TENANT, None, by=OPERATOR)
    problems = []
    for verb, clicked in CARDS.items():
        # Buttons of cards the bot posted in the team's General channel while it was linked.
        target = clicked.to.format(other=SALES) if clicked.to else None
        ctx = ActionContext(GENERAL, eid, ids[clicked.about] if clicked.about else None,
                            tenant=TENANT, target=target)  # fmt: skip
        inputs = {k: v.format(fresh=fresh_number(), other=SALES) for k, v in clicked.inputs.items()}
        sandbox.reset()
        card = await act(bot, in_channel(), verb.value, {**bot.signer(verb, ctx), **inputs},
                         NAMED)  # fmt: skip
        shown = texts(card)
        wanted = unlinked_answer(clicked.case, None)
        if wanted not in shown:
            problems.append(f"{verb}: not {wanted!r} but {shown!r}")
        if api_calls(sandbox):
            problems.append(f"{verb}: called ContextSMS {api_calls(sandbox)}")
    assert problems == []
    assert await client.list_mappings(eid) == before
    assert await world.storage.links() == []


# -- answers lost after the change was applied ----------------------------------------------


@dataclass(frozen=True)
class Lost:
    """A write whose answer is lost: how it is made (by the owner in General, or by the
    operator in a personal chat), the faults, and where the number is in the end."""

    how: str
    verb: Verb | CardVerb
    faults: list[dict[str, object]]
    ends_in: str | None  # the channel the number is mapped to in the end; None: not mapped


ADD = served_then_failed("POST", "/api/v2/mapping/add") + FAILED_LOOKUPS
UPDATE = served_then_failed("PUT", "/api/v2/mapping/")
DELETE = served_then_failed("DELETE", "/api/v2/mapping/")
CREATE = served_then_failed("POST", "/api/v2/enterprise/")

LOST = [
    Lost("typed", Verb.MAP, ADD, GENERAL),
    Lost("typed", Verb.REMAP, UPDATE, GENERAL),
    Lost("clicked", CardVerb.MAP, ADD, GENERAL),
    Lost("clicked", CardVerb.REMAP, UPDATE, GENERAL),
    Lost("clicked", CardVerb.REMAP_MOVE, UPDATE, SALES),
    Lost("clicked", CardVerb.UNMAP_CONFIRM, DELETE, None),
    Lost("clicked", CardVerb.FIND_UNMAP_CONFIRM, DELETE, None),
    Lost("clicked", CardVerb.BULK_APPLY, ADD, GENERAL),
    Lost("typed", Verb.NEW_ENTERPRISE, CREATE, None),  # then Create on its form
    Lost("clicked", CardVerb.ENTERPRISE_CREATE, CREATE, None),
]


async def lose_a_mapping_answer(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World,
    lost: Lost,
) -> None:  # fmt: skip
    eid, number = world.enterprise.enterprise_id, fresh_number()
    if lost.verb not in (Verb.MAP, CardVerb.MAP, CardVerb.BULK_APPLY):
        # Mapped beforehand: to another channel for a move here or an unmap from a find card,
        # to this one otherwise.
        elsewhere = (Verb.REMAP, CardVerb.REMAP, CardVerb.FIND_UNMAP_CONFIRM)
        start = SALES if lost.verb in elsewhere else GENERAL
        await client.add_mapping(eid, MappingCreate(phone_number=number, messaging_app_id=start))
    match lost.verb:
        case Verb.MAP:
            sandbox.faults(script=lost.faults)
            card = await bot.on_message(in_channel(), f"map {number} Desk", NAMED)
        case Verb.REMAP:
            sandbox.faults(script=lost.faults)
            card = await bot.on_message(in_channel(), f"remap {number}", NAMED)
        case CardVerb.MAP:
            status = await bot.on_message(in_channel(), "status", NAMED)
            sandbox.faults(script=lost.faults)
            card = await click(bot, status, "Map to this channel", number=number, name="Desk")
        case CardVerb.REMAP:
            taken = await bot.on_message(in_channel(), f"map {number}", NAMED)
            sandbox.faults(script=lost.faults)
            card = await click(bot, taken, "Move it here", directory=NAMED)
        case CardVerb.REMAP_MOVE:
            status = await bot.on_message(in_channel(), "status", NAMED)
            pick = await click(bot, status, "Remap", directory=NAMED)
            sandbox.faults(script=lost.faults)
            card = await click(bot, pick, "Move", directory=NAMED, target=SALES)
        case CardVerb.UNMAP_CONFIRM:
            ask = await bot.on_message(in_channel(), f"unmap {number}", NAMED)
            sandbox.faults(script=lost.faults)
            card = await click(bot, ask, "Unmap")
        case CardVerb.FIND_UNMAP_CONFIRM:
            found = await bot.on_message(in_channel(), f"find {number}", NAMED)
            ask = await click(bot, found, "Unmap", directory=NAMED)
            sandbox.faults(script=lost.faults)
            card = await click(bot, ask, "Unmap", directory=NAMED)
        case CardVerb.BULK_APPLY:
            # A list of two lines, one of them no number: one add, whose answer is lost.
            preview = await bot.on_message(in_channel(), f"map\n{number} Desk\n555-12", NAMED)
            sandbox.faults(script=lost.faults)
            await click(bot, preview, "Map 1 here", directory=NAMED)
            await bot.bulk.aclose()  # applied in the background: its result, then
            card = await click(bot, preview, "Map 1 here", directory=NAMED)
        case _:
            raise AssertionError(f"not a mapping write: {lost.verb}")
    assert_tells_unknown(card)
    sandbox.reset()
    now = [m for m in await client.list_mappings(eid) if m.phone_number == number]
    assert [m.messaging_app_id for m in now] == ([lost.ends_in] if lost.ends_in else [])
    # The card's button shows the truth once ContextSMS answers again.
    assert (number in await settle(bot, card, sandbox)) == (lost.ends_in == GENERAL)
    [entry] = [e for e in await world.entries() if e.number == number and e.outcome != "ok"]
    assert entry.outcome == "unknown"


async def lose_an_enterprise_answer(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World,
    lost: Lost,
) -> None:  # fmt: skip
    number = fresh_number()
    form = await bot.on_message(PRIVATE, "new enterprise", NO_TEAM)
    if lost.verb is CardVerb.ENTERPRISE_CREATE:  # a form of the enterprises card's button
        form = await click(bot, await bot.on_message(PRIVATE, "enterprises", NO_TEAM),
                           "New enterprise", PRIVATE, NO_TEAM)  # fmt: skip
    sandbox.faults(script=lost.faults)
    card = await click(bot, form, "Create", PRIVATE, NO_TEAM, name="Lost Answer Dental",
                       contact="Dr. Lost", number=number, email="lost@example.com")  # fmt: skip
    shown = texts(card)
    assert "nothing was changed" not in shown.lower(), shown
    assert "Nothing was created" not in shown and "Enterprise created" not in shown, shown
    assert "may or may not have been applied" in shown, shown
    look = button(card, "Show the enterprises now")
    assert look["verb"] == CardVerb.ENTERPRISES
    sandbox.reset()
    # It was created, once: a lost answer to a create is never repeated blindly.
    created = [e for e in await client.list_enterprises() if e.number == number]
    assert len(created) == 1
    listed = await pages(bot, await click(bot, card, "Show the enterprises now", PRIVATE, NO_TEAM),
                         PRIVATE)  # fmt: skip
    assert any(created[0].enterprise_id in texts(page) for page in listed)
    [entry] = [e for e in await world.entries() if e.action is AuditAction.ENTERPRISE_CREATED
               and e.after == "Lost Answer Dental"]  # fmt: skip
    assert entry.outcome == "unknown"


@pytest.mark.parametrize("lost", LOST, ids=lambda x: f"{x.how} {x.verb}")
async def test_a_write_whose_answer_is_lost_says_the_outcome_is_unknown(
    sandbox: RunningSandbox, bot: MappingBot, client: ContextSMSClient, world: World, lost: Lost
) -> None:
    if lost.verb in (Verb.NEW_ENTERPRISE, CardVerb.ENTERPRISE_CREATE):
        await lose_an_enterprise_answer(sandbox, bot, client, world, lost)
    else:
        await lose_a_mapping_answer(sandbox, bot, client, world, lost)
