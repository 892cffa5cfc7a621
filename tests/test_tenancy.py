"""Which enterprise a conversation acts on, and setup codes: against SQLite in tmp_path and,
where an enterprise must exist, the sandbox ContextSMS."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.audit import Audit
from bot.conversation import Conversation, Person
from bot.operations import InvalidEnterpriseForm, Operations, enterprise_form
from bot.storage.models import AuditAction, AuditEntry
from bot.storage.sqlite import SqliteStorage
from bot.tenancy import (
    CODE_ALPHABET,
    IssuedCode,
    Linked,
    NoTenant,
    SetupProblem,
    SetupRefused,
    Tenancy,
)
from contextsms import ContextSMSClient
from contextsms.errors import NotFound
from contextsms.models import Enterprise, EnterpriseCreate
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number

KEY = b"k" * 32
TENANT_A = "aaaaaaaa-0000-0000-0000-00000000000a"
TENANT_B = "bbbbbbbb-0000-0000-0000-00000000000b"
OPERATOR = Person("0000000a-op00-0000-0000-000000000001", "Olive Operator")
ADMIN_A = Person("a-admin-object-id", "Ada Admin")
ADMIN_B = Person("b-admin-object-id", "Bob Admin")


class Clock:
    """Time the tests move."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def chat(tenant: str | None, user: Person | None = ADMIN_A) -> Conversation:
    return Conversation(tenant_id=tenant, user=user, conversation_id="a:personal")


def channel(tenant: str, team: str, user: Person | None = ADMIN_A) -> Conversation:
    return Conversation(
        tenant_id=tenant,
        channel_id=f"19:{team}-general@thread.tacv2",
        channel_name="General",
        team_id=team,
        user=user,
        conversation_id=f"19:{team}-general@thread.tacv2",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    opened = SqliteStorage(str(tmp_path / "bot.db"))
    yield opened
    await opened.aclose()


@pytest.fixture
def audit(storage: SqliteStorage, clock: Clock) -> Audit:
    return Audit(storage, clock=clock)


@pytest.fixture
def tenancy(storage: SqliteStorage, audit: Audit, clock: Clock) -> Tenancy:
    return Tenancy(storage, audit, KEY, clock=clock)


async def new_enterprise(client: ContextSMSClient, name: str) -> Enterprise:
    return await client.create_enterprise(
        EnterpriseCreate(
            name=name, contact="Dr. Test", number=fresh_number(), email="t@example.com"
        )
    )


async def entries(audit: Audit) -> list[AuditEntry]:
    return await audit.history(limit=1000)


def linked(result: Linked | SetupRefused) -> Linked:
    assert isinstance(result, Linked), f"expected a link, got {result}"
    return result


def refused(result: Linked | SetupRefused) -> SetupProblem:
    assert isinstance(result, SetupRefused), f"expected a refusal, got {result}"
    return result.problem


async def test_two_tenants_act_on_their_own_enterprises(
    client: ContextSMSClient, tenancy: Tenancy, audit: Audit
) -> None:
    operations = Operations(client, tenancy, audit)
    first = await new_enterprise(client, "Clinic A")
    second = await new_enterprise(client, "Clinic B")
    code_a = await operations.invite(first.enterprise_id, by=OPERATOR)
    code_b = await operations.invite(second.enterprise_id, by=OPERATOR)

    assert linked(await tenancy.setup(chat(TENANT_A), code_a.code)).previous is None
    assert linked(await tenancy.setup(chat(TENANT_B, ADMIN_B), code_b.code)).previous is None

    in_a = await tenancy.link_of(channel(TENANT_A, "team-a"))
    in_b = await tenancy.link_of(channel(TENANT_B, "team-b"))
    assert in_a is not None and in_a.enterprise_id == first.enterprise_id
    assert in_b is not None and in_b.enterprise_id == second.enterprise_id
    assert await tenancy.link_of(chat("cccccccc-0000-0000-0000-00000000000c")) is None
    listed = await operations.enterprises()
    by_id = {item.enterprise.enterprise_id: item.links for item in listed}
    assert [link.tenant_id for link in by_id[first.enterprise_id]] == [TENANT_A]
    assert [link.tenant_id for link in by_id[second.enterprise_id]] == [TENANT_B]


async def test_a_teams_link_wins_over_its_tenants(
    client: ContextSMSClient, tenancy: Tenancy, audit: Audit
) -> None:
    operations = Operations(client, tenancy, audit)
    group = await new_enterprise(client, "Group HQ")
    branch = await new_enterprise(client, "Branch office")
    whole = await operations.invite(group.enterprise_id, by=OPERATOR)
    one_team = await operations.invite(branch.enterprise_id, by=OPERATOR, team_scoped=True)
    linked(await tenancy.setup(channel(TENANT_A, "hq"), whole.code))
    team_link = linked(await tenancy.setup(channel(TENANT_A, "branch"), one_team.code)).link

    assert team_link.team_id == "branch"
    for conversation, expected in [
        (channel(TENANT_A, "branch"), branch.enterprise_id),
        (channel(TENANT_A, "hq"), group.enterprise_id),
        (channel(TENANT_A, "another-team"), group.enterprise_id),
        (chat(TENANT_A), group.enterprise_id),
    ]:
        link = await tenancy.link_of(conversation)
        assert link is not None and link.enterprise_id == expected, conversation.team_id

    removed = await operations.unlink("branch", by=OPERATOR)
    assert [(r.tenant_id, r.team_id) for r in removed] == [(TENANT_A, "branch")]
    back = await tenancy.link_of(channel(TENANT_A, "branch"))
    assert back is not None and back.enterprise_id == group.enterprise_id


async def test_an_activity_without_a_tenant_changes_nothing(tenancy: Tenancy) -> None:
    code = await tenancy.issue_code("E0000001", by=OPERATOR)
    for tenant in (None, "", "   "):
        with pytest.raises(NoTenant):
            await tenancy.link_of(chat(tenant))
        with pytest.raises(NoTenant):
            await tenancy.setup(chat(tenant), code.code)
    assert await tenancy.links() == []
    assert isinstance(await tenancy.setup(chat(TENANT_A), code.code), Linked)


async def test_codes_are_easy_to_read_aloud_and_forgive_how_they_are_typed(
    tenancy: Tenancy,
) -> None:
    issued = [await tenancy.issue_code("E0000001", by=OPERATOR) for _ in range(40)]
    for one in issued:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", one.code)
    assert len({one.code for one in issued}) == 40
    # 10 characters of 32: 50 bits.
    assert len(CODE_ALPHABET) ** 10 >= 2**40 and not set("ILOU") & set(CODE_ALPHABET)
    with_look_alikes = next(one for one in issued if set("01") & set(one.code))
    typed = with_look_alikes.code.replace("-", " ").replace("0", "o").replace("1", "l").lower()
    assert linked(await tenancy.setup(chat(TENANT_A), f"  {typed} ")).link.tenant_id == TENANT_A


async def test_every_wrong_use_of_a_code_is_refused_and_changes_nothing(
    tenancy: Tenancy, clock: Clock
) -> None:
    used = await tenancy.issue_code("E0000001", by=OPERATOR)
    linked(await tenancy.setup(chat(TENANT_B, ADMIN_B), used.code))
    expiring = await tenancy.issue_code("E0000002", by=OPERATOR)
    foreign = await tenancy.issue_code("E0000003", by=OPERATOR, for_tenant=TENANT_B.upper())
    team_code = await tenancy.issue_code("E0000004", by=OPERATOR, team_scoped=True)

    assert refused(await tenancy.setup(chat(TENANT_A), "ABCDE-FGHJK")) is SetupProblem.WRONG
    assert refused(await tenancy.setup(chat(TENANT_A), "not a code")) is SetupProblem.WRONG
    assert refused(await tenancy.setup(chat(TENANT_A), used.code)) is SetupProblem.USED
    assert refused(await tenancy.setup(chat(TENANT_A), foreign.code)) is SetupProblem.FOREIGN
    assert refused(await tenancy.setup(chat(TENANT_A), team_code.code)) is SetupProblem.NEEDS_TEAM
    assert await tenancy.link_of(chat(TENANT_A)) is None

    # Refused outside a team, the team code was not used up: it still links a team.
    team_link = linked(await tenancy.setup(channel(TENANT_B, "t"), team_code.code)).link
    assert (team_link.team_id, team_link.enterprise_id) == ("t", "E0000004")
    # The tenant it was issued for may use it; its upper-case id named the same tenant.
    assert linked(await tenancy.setup(chat(TENANT_B), foreign.code)).link.enterprise_id == (
        "E0000003"
    )
    clock.advance(timedelta(hours=72, seconds=1))
    assert refused(await tenancy.setup(chat(TENANT_B), expiring.code)) is SetupProblem.EXPIRED
    still = await tenancy.link_of(chat(TENANT_B))
    assert still is not None and still.enterprise_id == "E0000003"


async def test_a_code_expires_after_its_ttl_not_before(
    storage: SqliteStorage, audit: Audit, clock: Clock
) -> None:
    tenancy = Tenancy(storage, audit, KEY, code_ttl=timedelta(hours=2), clock=clock)
    code = await tenancy.issue_code("E0000001", by=OPERATOR)
    assert code.expires_at == clock.now + timedelta(hours=2)
    clock.advance(timedelta(hours=1, minutes=59))
    assert isinstance(await tenancy.setup(chat(TENANT_A), code.code), Linked)
    late = await tenancy.issue_code("E0000001", by=OPERATOR)
    clock.advance(timedelta(hours=2))
    assert refused(await tenancy.setup(chat(TENANT_A), late.code)) is SetupProblem.EXPIRED


async def test_five_wrong_codes_lock_the_tenant_for_an_hour(tenancy: Tenancy, clock: Clock) -> None:
    good = await tenancy.issue_code("E0000001", by=OPERATOR)
    for attempt in range(5):
        clock.advance(timedelta(minutes=1))
        problem = refused(await tenancy.setup(chat(TENANT_A), f"WRONG-CODE{attempt}"))
        assert problem is SetupProblem.WRONG
    # The right code is refused too while locked, and is not used up by the refusal; trying
    # again and again while locked does not make the lock longer.
    for minutes in (1, 30, 24):
        clock.advance(timedelta(minutes=minutes))  # up to an hour after the first failure
        assert refused(await tenancy.setup(chat(TENANT_A), good.code)) is SetupProblem.LOCKED
    # Another tenant is not locked by this one's failures.
    other = await tenancy.issue_code("E0000002", by=OPERATOR)
    assert isinstance(await tenancy.setup(chat(TENANT_B, ADMIN_B), other.code), Linked)

    clock.advance(timedelta(minutes=2))  # an hour after the burst of failures
    assert linked(await tenancy.setup(chat(TENANT_A), good.code)).link.enterprise_id == "E0000001"


async def test_thirty_wrong_codes_at_once_on_three_instances_check_five_at_most(
    tmp_path: Path, storage: SqliteStorage, clock: Clock
) -> None:
    instances = [storage, *(SqliteStorage(str(tmp_path / "bot.db")) for _ in range(2))]
    tenancies = [Tenancy(s, Audit(s, clock=clock), KEY, clock=clock) for s in instances]
    try:
        good = await tenancies[0].issue_code("E0000001", by=OPERATOR)
        results = await asyncio.gather(
            *(tenancies[i % 3].setup(chat(TENANT_A), f"WRONG-{i:05d}") for i in range(30))
        )
        problems = [refused(result) for result in results]
        assert problems.count(SetupProblem.WRONG) <= 5
        assert problems.count(SetupProblem.LOCKED) == 30 - problems.count(SetupProblem.WRONG)
        # Attempts refused while others were being checked are not failures: later ones may
        # be checked, up to five wrong codes in the hour in all, then the tenant is locked.
        for i in range(10):
            later = await tenancies[i % 3].setup(chat(TENANT_A), f"LATER-{i:05d}")
            problems.append(refused(later))
        assert problems.count(SetupProblem.WRONG) == 5
        # Locked: the right code is refused too, on any instance, and is not used up.
        for tenancy in tenancies:
            assert refused(await tenancy.setup(chat(TENANT_A), good.code)) is SetupProblem.LOCKED
        clock.advance(timedelta(hours=1, seconds=1))
        assert isinstance(await tenancies[1].setup(chat(TENANT_A), good.code), Linked)
    finally:
        for extra in instances[1:]:
            await extra.aclose()


async def test_a_code_is_found_in_what_people_type_around_it(tenancy: Tenancy) -> None:
    for i, phrasing in enumerate(["code {}", "{} please", "my code is {}.", "code {} thanks"]):
        issued = await tenancy.issue_code("E0000001", by=OPERATOR)
        typed = phrasing.format(issued.code if i % 2 else issued.code.replace("-", ""))
        assert isinstance(await tenancy.setup(chat(TENANT_A), typed), Linked), typed
    read_aloud = await tenancy.issue_code("E0000002", by=OPERATOR)
    typed = "code " + read_aloud.code.replace("-", " ")
    assert linked(await tenancy.setup(chat(TENANT_A), typed)).link.enterprise_id == "E0000002"
    # Ten-letter words have a code's shape ("invitation" reads as 1NV1TAT10N): the code wins.
    for phrasing in ("invitation code {}", "activation code: {}", "{} is the invitation"):
        issued = await tenancy.issue_code("E0000001", by=OPERATOR)
        assert isinstance(await tenancy.setup(chat(TENANT_A), phrasing.format(issued.code)), Linked)
    spaced = await tenancy.issue_code("E0000002", by=OPERATOR)
    typed = spaced.code.replace("-", " - ")
    assert isinstance(await tenancy.setup(chat(TENANT_A), typed), Linked)


async def test_what_cannot_be_a_code_or_is_our_own_used_code_uses_no_attempt(
    tenancy: Tenancy, storage: SqliteStorage, clock: Clock
) -> None:
    used = await tenancy.issue_code("E0000001", by=OPERATOR)
    linked(await tenancy.setup(chat(TENANT_A), used.code))
    for _ in range(6):
        # ("hello world" would count: it reads as the code HE110-W0R1D.)
        for typed in ("please help", "please", "thank you", ""):
            assert refused(await tenancy.setup(chat(TENANT_A), typed)) is SetupProblem.WRONG
        assert refused(await tenancy.setup(chat(TENANT_A), f"code {used.code}")) is (
            SetupProblem.USED_HERE
        )
    assert await storage.failed_setups("aaaaaaaa-0000-0000-0000-00000000000a", clock.now) == 0
    # Not locked: a new code still links. Another organization typing it is told it is used.
    fresh = await tenancy.issue_code("E0000002", by=OPERATOR)
    assert isinstance(await tenancy.setup(chat(TENANT_A), fresh.code), Linked)
    assert refused(await tenancy.setup(chat(TENANT_B, ADMIN_B), used.code)) is SetupProblem.USED


async def test_failures_spread_over_more_than_an_hour_do_not_lock(
    tenancy: Tenancy, clock: Clock
) -> None:
    for _ in range(8):
        assert refused(await tenancy.setup(chat(TENANT_A), "ZZZZZ-ZZZZZ")) is SetupProblem.WRONG
        clock.advance(timedelta(minutes=16))
    good = await tenancy.issue_code("E0000001", by=OPERATOR)
    assert isinstance(await tenancy.setup(chat(TENANT_A), good.code), Linked)


async def test_twenty_people_using_one_code_at_once_link_exactly_once(
    tmp_path: Path, storage: SqliteStorage, clock: Clock
) -> None:
    # Four bot instances on one database file, five people each.
    instances = [storage, *(SqliteStorage(str(tmp_path / "bot.db")) for _ in range(3))]
    tenancies = [Tenancy(s, Audit(s, clock=clock), KEY, clock=clock) for s in instances]
    try:
        code = await tenancies[0].issue_code("E0000001", by=OPERATOR)
        people = [
            chat(f"{i:08d}-0000-0000-0000-000000000000", Person(f"admin-{i}")) for i in range(20)
        ]
        results = await asyncio.gather(
            *(tenancies[i % 4].setup(person, code.code) for i, person in enumerate(people))
        )
    finally:
        for extra in instances[1:]:
            await extra.aclose()
    winners = [r for r in results if isinstance(r, Linked)]
    assert len(winners) == 1
    assert (
        sorted(refused(r) for r in results if not isinstance(r, Linked)) == [SetupProblem.USED] * 19
    )
    assert [(link.tenant_id, link.enterprise_id) for link in await storage.links()] == [
        (winners[0].link.tenant_id, "E0000001")
    ]


async def test_every_change_is_audited_and_no_code_is_ever_written_down(
    client: ContextSMSClient,
    tenancy: Tenancy,
    audit: Audit,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    operations = Operations(client, tenancy, audit)
    first = await new_enterprise(client, "First")
    second = await new_enterprise(client, "Second")
    codes: list[IssuedCode] = [
        await operations.invite(first.enterprise_id, by=OPERATOR),
        await operations.invite(second.enterprise_id, by=OPERATOR, for_tenant=TENANT_A),
    ]
    where = channel(TENANT_A, "team-a")
    linked(await tenancy.setup(where, codes[0].code))
    assert refused(await tenancy.setup(where, codes[0].code)) is SetupProblem.USED_HERE
    assert refused(await tenancy.setup(chat(TENANT_B, ADMIN_B), codes[1].code)) is (
        SetupProblem.FOREIGN
    )
    relinked = linked(await tenancy.setup(where, codes[1].code))
    assert relinked.previous is not None
    assert relinked.previous.enterprise_id == first.enterprise_id
    settings = await tenancy.set_members_may_change(where, True, enterprise_id=second.enterprise_id)
    assert settings.members_may_change and await tenancy.members_may_change(where)
    assert await tenancy.link_of(where) == relinked.link  # the option leaves the link alone
    await operations.unlink(TENANT_A.upper(), by=OPERATOR)
    assert await tenancy.link_of(where) is None

    trail = list(reversed(await entries(audit)))
    summary = [(e.action, e.outcome, e.actor_name, e.enterprise_id, e.before, e.after)
               for e in trail]  # fmt: skip
    f, s = first.enterprise_id, second.enterprise_id
    assert [row[:4] for row in summary] == [
        (AuditAction.CODE_ISSUED, "ok", "Olive Operator", f),
        (AuditAction.CODE_ISSUED, "ok", "Olive Operator", s),
        (AuditAction.CODE_USED, "ok", "Ada Admin", f),
        (AuditAction.LINK, "ok", "Ada Admin", f),
        (AuditAction.SETUP_FAILED, "used_here", "Ada Admin", f),
        (AuditAction.SETUP_FAILED, "foreign", "Bob Admin", None),
        (AuditAction.CODE_USED, "ok", "Ada Admin", s),
        (AuditAction.LINK, "ok", "Ada Admin", s),
        (AuditAction.SETTINGS_CHANGED, "ok", "Ada Admin", s),
        (AuditAction.UNLINK, "ok", "Olive Operator", s),
    ]
    first_link, relink, unlink = trail[3], trail[7], trail[9]
    assert (first_link.before, first_link.after) == (None, f)
    assert (relink.before, relink.after) == (f, s)
    assert (unlink.before, unlink.after, unlink.tenant_id) == (s, None, TENANT_A)
    assert (relink.actor_id, relink.tenant_id, relink.team_id, relink.channel_id) == (
        ADMIN_A.object_id, TENANT_A, "team-a", where.channel_id,
    )  # fmt: skip
    assert trail[5].tenant_id == TENANT_B
    # The settings change names its team and channel, so the team's history shows it.
    assert (trail[8].team_id, trail[8].channel_id) == ("team-a", where.channel_id)
    # Each use names the code it used by the same reference as its issue, without the code.
    issued_ref = trail[0].after.split()[1] if trail[0].after else ""
    assert trail[2].after and trail[2].after.split()[1] == issued_ref
    assert all(e.at.tzinfo is not None and e.entry_id for e in trail)

    written = [str(v) for e in trail for v in astuple(e)] + [r.getMessage() for r in caplog.records]
    for code in codes:
        for form in (code.code, code.code.replace("-", ""), code.code.lower()):
            assert not any(form in text for text in written), form


async def test_the_single_organization_link_is_made_at_start_and_audited_once(
    tmp_path: Path, storage: SqliteStorage, tenancy: Tenancy, audit: Audit, clock: Clock
) -> None:
    link = await tenancy.link_from_settings(TENANT_A.upper(), "E0000001")
    assert (link.tenant_id, link.team_id, link.linked_by) == (TENANT_A, None, "settings")
    # A restart: another process on the same file, the same settings.
    restarted = SqliteStorage(str(tmp_path / "bot.db"))
    try:
        again = Tenancy(restarted, Audit(restarted, clock=clock), KEY, clock=clock)
        assert (await again.link_from_settings(TENANT_A, "E0000001")).enterprise_id == "E0000001"
        clock.advance(timedelta(days=1))
        await again.link_from_settings(TENANT_A, "E0000009")
    finally:
        await restarted.aclose()
    found = await tenancy.link_of(channel(TENANT_A, "any"))
    assert found is not None and found.enterprise_id == "E0000009"
    trail = list(reversed(await entries(audit)))
    assert [(e.action, e.actor_id, e.actor_name, e.before, e.after) for e in trail] == [
        (AuditAction.LINK, None, "settings", None, "E0000001"),
        (AuditAction.LINK, None, "settings", "E0000001", "E0000009"),
    ]


async def test_unlinking_nothing_changes_nothing_and_records_nothing(
    client: ContextSMSClient, tenancy: Tenancy, audit: Audit
) -> None:
    operations = Operations(client, tenancy, audit)
    assert await operations.unlink(TENANT_A, by=OPERATOR) == []
    assert await tenancy.unlink(TENANT_A, "some-team", by=OPERATOR) is None
    assert await entries(audit) == []


async def test_a_failed_audit_write_never_fails_the_caller_and_is_logged_once(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    broken = SqliteStorage(str(tmp_path / "gone.db"))
    await broken.aclose()
    audit = Audit(broken, clock=clock)
    caplog.set_level(logging.INFO, logger="bot.audit")
    for _ in range(3):
        assert await audit.record(AuditAction.LINK, "ok", tenant_id=TENANT_A) is None
    failures = [r for r in caplog.records if "audit_write_failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.ERROR


async def test_an_invite_needs_an_enterprise_of_this_csp(
    client: ContextSMSClient, tenancy: Tenancy, audit: Audit
) -> None:
    operations = Operations(client, tenancy, audit)
    gone = await new_enterprise(client, "Closed clinic")
    await client.delete_enterprise(gone.enterprise_id)
    for missing in ("E9999999", gone.enterprise_id):
        with pytest.raises(NotFound):
            await operations.invite(missing, by=OPERATOR)
    assert await entries(audit) == []


async def test_a_new_enterprise_is_checked_before_any_call_and_audited(
    sandbox: RunningSandbox, client: ContextSMSClient, tenancy: Tenancy, audit: Audit
) -> None:
    operations = Operations(client, tenancy, audit, region="GB")
    sandbox.control("POST", "stats/reset")
    blank = EnterpriseCreate(name="", contact="\n", number="+15551230000", email="a@b@c")
    with pytest.raises(InvalidEnterpriseForm) as caught:
        await operations.new_enterprise(blank, by=OPERATOR)
    assert [p.field for p in caught.value.problems] == ["name", "contact", "email"]
    with pytest.raises(InvalidEnterpriseForm) as caught:
        enterprise_form(name="A" * 101, contact="Dr. A", number="12", email="a@example.com")
    assert [p.field for p in caught.value.problems] == ["name", "number"]
    assert [call for call in sandbox.stats()["requests"] if "/_sandbox/" not in call] == []
    assert await entries(audit) == []

    # A national number is read in the deployment's region.
    form = enterprise_form(
        name=" Tea Rooms ", contact="Mrs. Hudson", number="020 7946 0018", email="h@example.com",
        region=operations.region,
    )  # fmt: skip
    assert (form.name, form.number) == ("Tea Rooms", "+442079460018")
    created = await operations.new_enterprise(form, by=OPERATOR)
    assert (await client.get_enterprise(created.enterprise_id)).name == "Tea Rooms"
    [entry] = await entries(audit)
    assert (entry.action, entry.outcome, entry.enterprise_id, entry.actor_id) == (
        AuditAction.ENTERPRISE_CREATED, "ok", created.enterprise_id, OPERATOR.object_id,
    )  # fmt: skip


async def test_a_tenant_id_in_capitals_is_the_same_tenant(tenancy: Tenancy, audit: Audit) -> None:
    code = await tenancy.issue_code("E0000001", by=OPERATOR, for_tenant=TENANT_A)
    linked(await tenancy.setup(chat(TENANT_A.upper()), code.code))
    found = await tenancy.link_of(channel(TENANT_A, "team"))
    assert found is not None and found.enterprise_id == "E0000001"
    trail = await audit.history(tenant_id=TENANT_A.upper(), limit=100)
    assert [e.action for e in trail] == [
        AuditAction.LINK, AuditAction.CODE_USED, AuditAction.CODE_ISSUED,
    ]  # fmt: skip
    assert {e.tenant_id for e in trail} == {TENANT_A}
