"""Who may change mappings: operators from the settings, team owners from Graph (the HTTPS
stand-in, tokens through msal), members where their own team's option lets them (no other
team's, no tenant-wide flag); the answers cached in SQLite; and never allowed when ownership
cannot be checked."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.conversation import Conversation, Person
from bot.graph import GraphClient, MsalTenantTokens
from bot.permissions import AN_OWNER, Allowed, CannotTell, NotAllowed, Permissions, Role
from bot.settings import BotSettings
from bot.storage.models import Link, TeamSettings
from bot.storage.sqlite import SqliteStorage
from standins.graph import GraphStandIn, Member
from standins.tls import TestCA as CA
from tests.test_graph import APP_ID, GUEST, MEMBER, OWNER, TEAM_A, TEAM_B, TENANT_A, TENANT_B
from tests.test_graph import ca as ca  # the fixtures: Graph's stand-in with its two teams
from tests.test_graph import graph as graph

STRANGER = Person("05050505-0000-4000-8000-000000000051", "Sam Stranger")
OPERATOR = Person("0c0c0c0c-0000-4000-8000-0000000000c1", "Olive Operator")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Team:
    """A TeamDirectory (the glue's asks Teams): the team's group id, or None outside a team."""

    group: str | None
    lookups: int = 0

    async def channel_names(self) -> dict[str, str]:
        return {}

    async def group_id(self) -> str | None:
        self.lookups += 1
        return self.group


class TeamsDown:
    async def channel_names(self) -> dict[str, str]:
        raise ConnectionError("connector unreachable")

    async def group_id(self) -> str | None:
        raise ConnectionError("connector unreachable")


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


def person(member: Member) -> Person:
    return Person(member.user_id, member.display_name)


TEAMS_TEAM = "19:team@thread.tacv2"  # the Teams team id of `in_team` (not the group id)


def in_team(tenant: str, who: Person | None, team: str = TEAMS_TEAM) -> Conversation:
    return Conversation(tenant, "19:general@thread.tacv2", "General", team, who)


async def let_members(
    storage: SqliteStorage, tenant: str = TENANT_A, team: str = TEAMS_TEAM, value: bool = True
) -> None:
    await storage.put_team_settings(TeamSettings(tenant, team, value, START, OWNER.user_id))


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    store = SqliteStorage(tmp_path / "bot.db")
    yield store
    await store.aclose()


@pytest.fixture
async def http(ca: CA) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca.ca_file)) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def operators() -> frozenset[tuple[str, str]]:
    # As an operator's ids are pasted into the settings: any case.
    settings = BotSettings(
        bot_local_dev=True, bot_operators=f" {TENANT_A.upper()}:{OPERATOR.object_id.upper()} "
    )
    return settings.operators()


def permissions_with(
    graph: GraphStandIn, ca: CA, http: httpx.AsyncClient, storage: SqliteStorage,
    operators: frozenset[tuple[str, str]], clock: Clock,
) -> Permissions:  # fmt: skip
    tokens = MsalTenantTokens(APP_ID, SecretStr("bot-password"), graph.base_url,
                              verify=str(ca.ca_file))  # fmt: skip
    client = GraphClient(base_url=graph.base_url, tokens=tokens, http=http)
    return Permissions(client, storage, operators, cache_seconds=300, clock=clock)


@pytest.fixture
def permissions(
    graph: GraphStandIn, ca: CA, http: httpx.AsyncClient, storage: SqliteStorage,
    operators: frozenset[tuple[str, str]], clock: Clock,
) -> Permissions:  # fmt: skip
    return permissions_with(graph, ca, http, storage, operators, clock)


async def test_an_owner_may_change(permissions: Permissions) -> None:
    answer = await permissions.may_change(in_team(TENANT_A, person(OWNER)), Team(TEAM_A))
    assert answer == Allowed(Role.OWNER)


async def test_a_member_is_refused_naming_who_can(permissions: Permissions) -> None:
    answer = await permissions.may_change(in_team(TENANT_A, person(MEMBER)), Team(TEAM_A))
    assert answer == NotAllowed(AN_OWNER)
    assert AN_OWNER == "an owner of this team"


async def test_an_operator_may_change_without_asking_graph(
    permissions: Permissions, graph: GraphStandIn
) -> None:
    conversation = in_team(TENANT_A, OPERATOR)
    assert permissions.is_operator(conversation)
    team = Team(TEAM_A)
    assert await permissions.may_change(conversation, team) == Allowed(Role.OPERATOR)
    assert graph.graph_requests == 0 and team.lookups == 0

    # The same object id in another tenant is somebody else.
    elsewhere = in_team(TENANT_B, OPERATOR)
    assert not permissions.is_operator(elsewhere)
    assert await permissions.may_change(elsewhere, Team(TEAM_B)) == (NotAllowed(AN_OWNER))


async def test_a_team_letting_its_members_change(
    permissions: Permissions, storage: SqliteStorage
) -> None:
    team = Team(TEAM_A)
    member = in_team(TENANT_A, person(MEMBER))
    assert await permissions.may_change(member, team) == NotAllowed(AN_OWNER)
    await let_members(storage)
    assert await permissions.may_change(member, team) == Allowed(Role.MEMBER)
    assert await permissions.may_change(member, team, owners_only=True) == NotAllowed(AN_OWNER)
    assert await permissions.may_change(in_team(TENANT_A, person(OWNER)), team) == (
        Allowed(Role.OWNER)
    )
    # Members of the organization: not a guest from elsewhere, not someone outside the team.
    assert await permissions.may_change(in_team(TENANT_A, person(GUEST)), team) == (
        NotAllowed(AN_OWNER)
    )
    assert await permissions.may_change(in_team(TENANT_A, STRANGER), team) == (NotAllowed(AN_OWNER))
    await let_members(storage, value=False)
    assert await permissions.may_change(member, team) == NotAllowed(AN_OWNER)


async def test_one_teams_option_lets_no_other_team_change(
    permissions: Permissions, storage: SqliteStorage
) -> None:
    # Another team of the same tenant (whoever owns it) said every member may change: the
    # members of this team may not, nor may another tenant's option reach them.
    await let_members(storage, team="19:owned-by-anyone@thread.tacv2")
    await let_members(storage, tenant=TENANT_B)
    await storage.put_link(Link(TENANT_A, None, "E0000001", START, "settings"))
    member = in_team(TENANT_A, person(MEMBER))
    assert await permissions.may_change(member, Team(TEAM_A)) == NotAllowed(AN_OWNER)


async def test_someone_not_in_the_team_is_refused(
    permissions: Permissions, storage: SqliteStorage
) -> None:
    for may in (False, True):
        await let_members(storage, value=may)
        answer = await permissions.may_change(in_team(TENANT_A, STRANGER), Team(TEAM_A))
        assert answer == NotAllowed(AN_OWNER)


async def test_outside_a_team_or_without_a_person_nobody_may_change(
    permissions: Permissions, graph: GraphStandIn
) -> None:
    chat = Conversation(TENANT_A, user=person(OWNER))
    assert await permissions.may_change(chat, Team(None)) == (NotAllowed(AN_OWNER))
    nobody = in_team(TENANT_A, None)
    assert await permissions.may_change(nobody, Team(TEAM_A)) == (NotAllowed(AN_OWNER))
    assert graph.graph_requests == 0


async def test_graph_down_is_never_allowed(
    permissions: Permissions, graph: GraphStandIn, storage: SqliteStorage
) -> None:
    graph.graph_status = 503
    for who in (person(OWNER), person(MEMBER)):
        for may in (False, True):
            await let_members(storage, value=may)
            answer = await permissions.may_change(in_team(TENANT_A, who), Team(TEAM_A))
            assert isinstance(answer, CannotTell), answer
            assert "503" in answer.reason

    # Nothing was kept from the outage: once Graph is back, the owner is an owner again.
    graph.graph_status = None
    assert await permissions.may_change(
        in_team(TENANT_A, person(OWNER)), Team(TEAM_A)
    ) == Allowed(Role.OWNER)  # fmt: skip


async def test_entra_down_is_never_allowed(
    permissions: Permissions, graph: GraphStandIn, caplog: pytest.LogCaptureFixture,
    storage: SqliteStorage,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO)
    await let_members(storage)
    graph.token_status = 503
    answer = await permissions.may_change(
        in_team(TENANT_A, person(OWNER)),
        Team(TEAM_A),
    )  # fmt: skip
    assert isinstance(answer, CannotTell) and "token" in answer.reason
    assert graph.graph_requests == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ownership_unknown" in logged and OWNER.user_id not in logged


async def test_teams_not_saying_which_team_is_never_allowed(permissions: Permissions) -> None:
    answer = await permissions.may_change(in_team(TENANT_A, person(OWNER)), TeamsDown())
    assert isinstance(answer, CannotTell)


async def test_answers_are_kept_for_cache_seconds(
    permissions: Permissions, graph: GraphStandIn, clock: Clock, storage: SqliteStorage,
    ca: CA, http: httpx.AsyncClient, operators: frozenset[tuple[str, str]],
) -> None:  # fmt: skip
    owner, team = in_team(TENANT_A, person(OWNER)), Team(TEAM_A)
    assert await permissions.may_change(owner, team) == Allowed(Role.OWNER)
    assert graph.graph_requests == 1

    # Demoted in Teams: the kept answer holds until it expires, and asks Graph nothing.
    graph.set_team(TEAM_A, TENANT_A, [replace(OWNER, roles=()), MEMBER, GUEST])
    clock.now = START + timedelta(seconds=290)
    assert await permissions.may_change(owner, team) == Allowed(Role.OWNER)
    assert graph.graph_requests == 1
    # Another instance of the bot on the same storage shares it.
    other = permissions_with(graph, ca, http, storage, operators, clock)
    assert await other.may_change(owner, team) == Allowed(Role.OWNER)
    assert graph.graph_requests == 1

    clock.now = START + timedelta(seconds=301)
    assert await permissions.may_change(owner, team) == NotAllowed(AN_OWNER)
    assert graph.graph_requests == 2


async def test_a_storage_outage_costs_a_graph_call_not_the_answer(
    permissions: Permissions, graph: GraphStandIn, storage: SqliteStorage
) -> None:
    await storage.aclose()
    owner = in_team(TENANT_A, person(OWNER))
    for _ in range(2):
        assert await permissions.may_change(owner, Team(TEAM_A)) == (Allowed(Role.OWNER))
    assert graph.graph_requests == 2


async def test_each_tenant_is_asked_with_its_own_token(
    permissions: Permissions, graph: GraphStandIn
) -> None:
    for tenant, team in ((TENANT_A, TEAM_A), (TENANT_B, TEAM_B)):
        for who, expected in ((OWNER, Allowed(Role.OWNER)), (MEMBER, NotAllowed(AN_OWNER))):
            answer = await permissions.may_change(in_team(tenant, person(who)), Team(team))
            assert answer == expected
    assert graph.token_requests == {TENANT_A: 1, TENANT_B: 1}
    assert graph.graph_requests_by_tenant == {TENANT_A: 2, TENANT_B: 2}
    assert graph.refused_tokens == 0


async def test_an_owner_on_a_later_page(permissions: Permissions, graph: GraphStandIn) -> None:
    many = [Member(f"00000000-0000-4000-8000-{n:012d}", f"Person {n}") for n in range(7)]
    graph.set_team(TEAM_A, TENANT_A, [*many, OWNER])
    graph.max_page = 3
    answer = await permissions.may_change(in_team(TENANT_A, person(OWNER)), Team(TEAM_A))
    assert answer == Allowed(Role.OWNER)
    assert graph.graph_requests == 3
