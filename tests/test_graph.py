"""Team roles from Microsoft Graph with app-only tokens per customer tenant: msal against the
HTTPS stand-in of Entra and Graph (standins/graph.py), whose certificate a throwaway CA signed."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.graph import GraphClient, GraphUnavailable, MsalTenantTokens
from standins.graph import GraphStandIn, Member
from standins.tls import TestCA as CA
from standins.tls import make_ca

APP_ID = "11111111-2222-3333-4444-555555555555"
TENANT_A = "aaaaaaaa-0000-4000-8000-00000000000a"
TENANT_B = "bbbbbbbb-0000-4000-8000-00000000000b"
TEAM_A = "a1a1a1a1-1111-4111-8111-111111111111"
TEAM_B = "b2b2b2b2-2222-4222-8222-222222222222"
OWNER = Member("0e0e0e0e-0000-4000-8000-0000000000e1", "Olga Owner", ("owner",))
MEMBER = Member("0f0f0f0f-0000-4000-8000-0000000000f1", "Max Member")
GUEST = Member("09090909-0000-4000-8000-000000000091", "Gus Guest", ("guest",))
STRANGER = "05050505-0000-4000-8000-000000000051"


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return make_ca(tmp_path)


@pytest.fixture
def graph(ca: CA) -> Iterator[GraphStandIn]:
    stand_in = GraphStandIn(ssl_context=ca.server_context)
    stand_in.set_team(TEAM_A, TENANT_A, [OWNER, MEMBER, GUEST])
    stand_in.set_team(TEAM_B, TENANT_B, [MEMBER, OWNER])
    yield stand_in
    stand_in.stop()


def tokens_for(graph: GraphStandIn, ca: CA, secret: str | None = None) -> MsalTenantTokens:
    password = SecretStr(secret or "bot-password")
    return MsalTenantTokens(APP_ID, password, graph.base_url, verify=str(ca.ca_file))


@pytest.fixture
async def http(ca: CA) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca.ca_file)) as client:
        yield client


@pytest.fixture
def client(graph: GraphStandIn, ca: CA, http: httpx.AsyncClient) -> GraphClient:
    return GraphClient(base_url=graph.base_url, tokens=tokens_for(graph, ca), http=http)


async def test_an_owner_a_member_a_guest_and_a_stranger(client: GraphClient) -> None:
    assert await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id) == ("owner",)
    assert await client.member_roles(TENANT_A, TEAM_A, MEMBER.user_id) == ()
    assert await client.member_roles(TENANT_A, TEAM_A, GUEST.user_id) == ("guest",)
    assert await client.member_roles(TENANT_A, TEAM_A, STRANGER) is None
    # Entra object ids compare without case, and so do tenant and group ids.
    assert await client.member_roles(
        TENANT_A.upper(), TEAM_A.upper(), OWNER.user_id.upper()
    ) == ("owner",)  # fmt: skip


async def test_every_page_is_read_until_the_member_is_found(
    graph: GraphStandIn, client: GraphClient
) -> None:
    many = [Member(f"00000000-0000-4000-8000-{n:012d}", f"Person {n}") for n in range(5)]
    graph.set_team(TEAM_A, TENANT_A, [*many, OWNER])
    graph.max_page = 2
    assert await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id) == ("owner",)
    assert graph.graph_requests == 3
    assert await client.member_roles(TENANT_A, TEAM_A, many[1].user_id) == ()
    assert graph.graph_requests == 4  # found on the first page: no more asked
    assert await client.member_roles(TENANT_A, TEAM_A, STRANGER) is None
    assert graph.graph_requests == 7


async def test_a_next_page_on_another_host_is_not_followed(
    graph: GraphStandIn, client: GraphClient
) -> None:
    elsewhere = GraphStandIn()
    try:
        graph.max_page = 1
        graph.next_link_base = elsewhere.base_url
        with pytest.raises(GraphUnavailable, match="another host"):
            await client.member_roles(TENANT_A, TEAM_A, GUEST.user_id)
        assert elsewhere.graph_requests == 0  # the token never went there
    finally:
        elsewhere.stop()


async def test_a_503_is_retried_once(graph: GraphStandIn, client: GraphClient) -> None:
    graph.graph_failures = [503]
    assert await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id) == ("owner",)
    assert graph.graph_requests == 2

    graph.graph_status = 503
    with pytest.raises(GraphUnavailable, match="503"):
        await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    assert graph.graph_requests == 4  # one retry, not more


async def test_a_429_waits_its_retry_after_within_the_budget(
    graph: GraphStandIn, client: GraphClient
) -> None:
    graph.graph_failures, graph.retry_after = [429], "1"
    started = time.monotonic()
    assert await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id) == ("owner",)
    assert time.monotonic() - started >= 0.9
    assert graph.graph_requests == 2

    # A Retry-After beyond the budget is not waited for: Graph is unavailable now.
    graph.graph_failures, graph.retry_after = [429], "30"
    started = time.monotonic()
    with pytest.raises(GraphUnavailable, match="429"):
        await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    assert time.monotonic() - started < 10
    assert graph.graph_requests == 3


async def test_other_refusals_are_not_retried(graph: GraphStandIn, client: GraphClient) -> None:
    unknown_team = "c3c3c3c3-3333-4333-8333-333333333333"
    with pytest.raises(GraphUnavailable, match="404"):
        await client.member_roles(TENANT_A, unknown_team, OWNER.user_id)
    graph.graph_failures = [403]
    with pytest.raises(GraphUnavailable, match="403"):
        await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    assert graph.graph_requests == 2


async def test_graph_unreachable(graph: GraphStandIn, ca: CA, http: httpx.AsyncClient) -> None:
    gone = GraphStandIn()
    gone_url = gone.base_url
    gone.stop()
    client = GraphClient(base_url=gone_url, tokens=tokens_for(graph, ca), http=http)
    with pytest.raises(GraphUnavailable, match="unreachable"):
        await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)


async def test_ids_that_are_not_guids_make_no_request(
    graph: GraphStandIn, client: GraphClient
) -> None:
    for tenant, team in [("../common", TEAM_A), (TENANT_A, "x/../../users")]:
        with pytest.raises(GraphUnavailable, match="not a GUID"):
            await client.member_roles(tenant, team, OWNER.user_id)
    assert graph.graph_requests == 0
    assert sum(graph.token_requests.values()) == 0


async def test_each_tenant_gets_its_own_token_used_only_for_it(
    graph: GraphStandIn, client: GraphClient
) -> None:
    assert await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id) == ("owner",)
    assert await client.member_roles(TENANT_B, TEAM_B, OWNER.user_id) == ("owner",)
    assert await client.member_roles(TENANT_A, TEAM_A, MEMBER.user_id) == ()
    assert await client.member_roles(TENANT_B, TEAM_B, MEMBER.user_id) == ()
    assert graph.token_requests == {TENANT_A: 1, TENANT_B: 1}  # kept, not fetched per call
    assert graph.graph_requests_by_tenant == {TENANT_A: 2, TENANT_B: 2}
    assert graph.refused_tokens == 0

    # A team asked about under the wrong tenant gets that tenant's token, which Graph refuses.
    with pytest.raises(GraphUnavailable, match="403"):
        await client.member_roles(TENANT_B, TEAM_A, OWNER.user_id)
    assert graph.refused_tokens == 1


async def test_callers_at_once_share_one_token_fetch(
    graph: GraphStandIn, client: GraphClient
) -> None:
    answers = await asyncio.gather(
        *(client.member_roles(TENANT_A, TEAM_A, OWNER.user_id) for _ in range(10))
    )
    assert answers == [("owner",)] * 10
    assert graph.token_requests == {TENANT_A: 1}


async def test_a_token_is_renewed_before_it_expires(
    graph: GraphStandIn, client: GraphClient
) -> None:
    graph.token_lifetime = 2  # renewed after half its life when shorter than the margin
    await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    assert graph.token_requests[TENANT_A] == 1
    await asyncio.sleep(1.5)
    await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    assert graph.token_requests[TENANT_A] == 2
    assert graph.refused_tokens == 0


async def test_entra_down_is_graph_unavailable_until_it_recovers(
    graph: GraphStandIn, client: GraphClient
) -> None:
    graph.token_status = 503
    with pytest.raises(GraphUnavailable, match="no Graph token"):
        await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    assert graph.graph_requests == 0
    graph.token_status = None
    assert await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id) == ("owner",)


async def test_a_refused_secret_names_the_error_code_only(
    graph: GraphStandIn, ca: CA, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = GraphClient(base_url=graph.base_url, tokens=tokens_for(graph, ca, "not-it"),
                         http=http)  # fmt: skip
    with pytest.raises(GraphUnavailable, match="invalid_client") as caught:
        await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
    assert "AADSTS" not in str(caught.value) and APP_ID not in str(caught.value)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot.")]
    assert any("invalid_client" in line for line in ours)
    assert not any("AADSTS" in line or "not-it" in line for line in ours)
    assert graph.graph_requests == 0


async def test_entra_that_does_not_answer_in_time(
    graph: GraphStandIn, ca: CA, http: httpx.AsyncClient
) -> None:
    # A black hole: a socket that accepts connections and never answers.
    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    hole = await asyncio.start_server(never, "127.0.0.1", 0)
    port = hole.sockets[0].getsockname()[1]
    try:
        tokens = MsalTenantTokens(APP_ID, SecretStr("bot-password"), f"https://127.0.0.1:{port}",
                                  verify=str(ca.ca_file), timeout=1.0)  # fmt: skip
        client = GraphClient(base_url=graph.base_url, tokens=tokens, http=http)
        started = time.monotonic()
        with pytest.raises(GraphUnavailable, match="in time"):
            await client.member_roles(TENANT_A, TEAM_A, OWNER.user_id)
        assert time.monotonic() - started < 5
    finally:
        hole.close()


async def test_one_log_line_per_graph_call_without_token_or_ids(
    graph: GraphStandIn, client: GraphClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.graph")
    graph.max_page = 2
    graph.graph_failures = [503]
    assert await client.member_roles(TENANT_A, TEAM_A, GUEST.user_id) == ("guest",)
    calls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("graph ")]
    assert len(calls) == graph.graph_requests == 3
    assert "status=503" in calls[0] and "status=200" in calls[1] and "page=2" in calls[2]
    assert all(" ms=" in line for line in calls)
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret_or_id in ("graph-", "Bearer", TENANT_A, TEAM_A, GUEST.user_id):
        assert secret_or_id not in everything
