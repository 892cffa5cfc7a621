"""The Graph stand-in as the local stack runs it (`python -m standins.graph`): the Agents
Playground's signed-in user owns any team of its tenant and "User 1" is an ordinary member, so
switching user in the Playground shows a refusal."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.conversation import Conversation, Person
from bot.graph import GraphClient, GraphUnavailable, MsalTenantTokens
from bot.permissions import AN_OWNER, Allowed, NotAllowed, Permissions, Role
from bot.storage.sqlite import SqliteStorage
from standins.graph import PLAYGROUND_TENANT

ME = Person("df4721d5-47e7-4d3c-9b52-a2c140c11523", "Me")
USER_1 = Person("4f39ad68-6fb5-4f62-9fe9-77b02d1dfff4", "User 1")
ANY_GROUP = "03abb446-e51b-4a55-96f0-f64ea138f72e"
OTHER_TENANT = "cccccccc-0000-4000-8000-00000000000c"


@dataclass(frozen=True)
class Running:
    base_url: str
    ca_file: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def start(tmp_path: Path, *extra: str) -> Iterator[Running]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "standins.graph", "--port", str(port),
         "--tls-dir", str(tmp_path / "tls"), *extra],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # printed once it is about to serve
        assert f"https://127.0.0.1:{port}" in banner, banner
        ca_file = tmp_path / "tls" / "ca.pem"
        assert str(ca_file.resolve()) in banner
        context = ssl.create_default_context(cafile=ca_file)
        for _ in range(100):  # the banner comes just before the port opens
            try:
                httpx.get(f"https://127.0.0.1:{port}/x/v2.0/.well-known/openid-configuration",
                          verify=context, timeout=1)  # fmt: skip
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield Running(f"https://127.0.0.1:{port}", ca_file)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def default_stack(tmp_path: Path) -> Iterator[Running]:
    with start(tmp_path) as running:
        yield running


def graph_client(running: Running, http: httpx.AsyncClient) -> GraphClient:
    # Any app id and secret: the local stack runs the bot without an app registration.
    tokens = MsalTenantTokens("local-bot", SecretStr("anything"), running.base_url,
                              verify=str(running.ca_file))  # fmt: skip
    return GraphClient(base_url=running.base_url, tokens=tokens, http=http)


def in_playground_team(who: Person) -> Conversation:
    return Conversation(PLAYGROUND_TENANT, "team-id", "General", "team-id", who)


class PlaygroundTeam:
    async def channel_names(self) -> dict[str, str]:
        return {}

    async def group_id(self) -> str | None:
        return ANY_GROUP


async def test_the_playground_signed_in_user_owns_the_team_and_user_1_does_not(
    default_stack: Running, tmp_path: Path
) -> None:
    context = ssl.create_default_context(cafile=default_stack.ca_file)
    storage = SqliteStorage(tmp_path / "bot.db")
    async with httpx.AsyncClient(verify=context) as http:
        permissions = Permissions(graph_client(default_stack, http), storage, frozenset())
        team = PlaygroundTeam()
        assert await permissions.may_change(in_playground_team(ME), team) == Allowed(Role.OWNER)
        assert await permissions.may_change(in_playground_team(USER_1), team) == (
            NotAllowed(AN_OWNER)
        )
    await storage.aclose()


async def test_any_group_of_the_playground_tenant_and_no_other_tenant(
    default_stack: Running,
) -> None:
    context = ssl.create_default_context(cafile=default_stack.ca_file)
    async with httpx.AsyncClient(verify=context) as http:
        graph = graph_client(default_stack, http)
        for group in (ANY_GROUP, "00000000-0000-0000-0000-000000000031"):
            assert await graph.member_roles(PLAYGROUND_TENANT, group, ME.object_id) == ("owner",)
            assert await graph.member_roles(PLAYGROUND_TENANT, group, USER_1.object_id) == ()
        with pytest.raises(GraphUnavailable, match="404"):
            await graph.member_roles(OTHER_TENANT, ANY_GROUP, ME.object_id)


async def test_members_from_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "graph.json"
    config.write_text(json.dumps({"tenants": {OTHER_TENANT: [
        {"userId": USER_1.object_id, "displayName": "User 1", "roles": ["owner"]},
    ]}}))  # fmt: skip
    with start(tmp_path, "--config", str(config)) as running:
        context = ssl.create_default_context(cafile=running.ca_file)
        async with httpx.AsyncClient(verify=context) as http:
            graph = graph_client(running, http)
            assert await graph.member_roles(OTHER_TENANT, ANY_GROUP, USER_1.object_id) == ("owner",)
            assert await graph.member_roles(OTHER_TENANT, ANY_GROUP, ME.object_id) is None
