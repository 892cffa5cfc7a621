"""A local stand-in for Microsoft Graph's team members and Entra's per-tenant token endpoint,
over real HTTP (HTTPS when given a TLS context, as msal insists for the token endpoint).

- `GET /{tenant}/v2.0/.well-known/openid-configuration` and `POST /{tenant}/oauth2/v2.0/token`:
  Entra for each customer tenant. An app-only token is issued for the tenant in its path and
  remembered as that tenant's (Graph tokens name their tenant, claim `tid`).
- `GET /v1.0/teams/{group}/members`: a team's `conversationMember` collection, paged with
  `@odata.nextLink` (`$top`, at most `max_page`), served only to a token of the team's tenant.

Tests set teams with `set_team`; `members_of_any_team` serves a tenant's members for any group
id (the local stack: the Agents Playground makes up its team ids). Failures can be set
(`graph_failures`, `graph_status`, `token_status`) and every request is counted.

Run alone for the local stack (prints its URL and the CA file to trust):
    python -m standins.graph --port 8790 --tls-dir var/graph-standin [--config FILE]
"""

from __future__ import annotations

import argparse
import json
import secrets
import ssl
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from standins.botframework import entra_configuration
from standins.servers import ThreadedServer, serve_in_thread
from standins.tls import make_ca

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PLAYGROUND_TENANT = "5b658416-0de4-4d67-95b4-2751e5a69d3d"


@dataclass(frozen=True)
class Member:
    user_id: str  # the Entra object id
    display_name: str
    roles: tuple[str, ...] = ()  # Graph's: [] for an ordinary member, ["owner"], ["guest"]

    def as_graph(self, tenant_id: str) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.aadUserConversationMember",
            "id": f"member-{self.user_id}", "roles": list(self.roles),
            "displayName": self.display_name, "visibleHistoryStartDateTime": None,
            "userId": self.user_id, "email": None, "tenantId": tenant_id,
        }  # fmt: skip


# The Agents Playground's users (.m365agentsplayground.yml): "Me" signs in and owns the team.
PLAYGROUND_MEMBERS = (
    Member("df4721d5-47e7-4d3c-9b52-a2c140c11523", "Me", ("owner",)),
    Member("4f39ad68-6fb5-4f62-9fe9-77b02d1dfff4", "User 1"),
)


@dataclass
class Team:
    tenant_id: str
    members: list[Member]


@dataclass
class GraphStandIn:
    ssl_context: ssl.SSLContext | None = None
    client_secret: str | None = "bot-password"  # noqa: S105 (None: any secret is accepted)
    token_lifetime: int = 3600
    max_page: int = 999  # Graph's largest page of team members; tests lower it to page
    teams: dict[str, Team] = field(default_factory=dict)
    members_of_any_team: dict[str, list[Member]] = field(default_factory=dict)  # by tenant
    # Statuses to answer Graph requests with, one per request, before serving again; or one
    # status for every Graph request (an outage); or for every token request.
    graph_failures: list[int] = field(default_factory=list)
    retry_after: str | None = "0"  # sent with a 429 or 503 from graph_failures/graph_status
    graph_status: int | None = None
    token_status: int | None = None
    next_link_base: str | None = None  # where nextLinks point (default: this server)
    graph_requests: int = 0
    graph_requests_by_tenant: Counter[str] = field(default_factory=Counter)
    token_requests: Counter[str] = field(default_factory=Counter)  # by tenant
    refused_tokens: int = 0  # Graph requests with a missing, unknown or foreign tenant's token
    start: bool = True  # serve at once on a free port, in a thread of its own
    base_url: str = field(init=False, default="")
    server: ThreadedServer | None = field(init=False, default=None)
    _issued: dict[str, str] = field(default_factory=dict)  # token -> tenant
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.start:
            self.server = serve_in_thread(self.app(), "graph", self.ssl_context)
            self.base_url = self.server.base_url

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1.0/teams/{group}/members", self._members)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        return app

    def set_team(self, group_id: str, tenant_id: str, members: list[Member]) -> None:
        with self._lock:
            self.teams[group_id] = Team(tenant_id, list(members))

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    # -- Entra --------------------------------------------------------------------------------
    async def _openid(self, request: web.Request) -> web.Response:
        base = f"{self.base_url}/{request.match_info['tenant']}"
        return entra_configuration(base, f"{base}/discovery/v2.0/keys")

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"].lower()
        form = await request.post()
        with self._lock:
            self.token_requests[tenant] += 1
        if self.token_status is not None:
            return web.json_response(
                {"error": "temporarily_unavailable",
                 "error_description": "AADSTS50000: stand-in outage. Trace ID: x"},
                status=self.token_status,
                # msal throttles a tenant's token requests for Retry-After (5 s without one)
                headers={"Retry-After": self.retry_after} if self.retry_after else None,
            )  # fmt: skip
        secret_ok = self.client_secret is None or form.get("client_secret") == self.client_secret
        if form.get("grant_type") != "client_credentials" or not secret_ok:
            return web.json_response(
                {"error": "invalid_client", "error_description": (
                    "AADSTS7000215: Invalid client secret provided for app "
                    f"'{form.get('client_id')!s}'. Trace ID: {secrets.token_hex(8)}")},
                status=401,
            )  # fmt: skip
        if form.get("scope") != GRAPH_SCOPE:
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = f"graph-{tenant}-{secrets.token_hex(8)}"  # names its tenant, like `tid`
        with self._lock:
            self._issued[token] = tenant
        return web.json_response(
            {"token_type": "Bearer", "expires_in": self.token_lifetime, "access_token": token}
        )

    # -- Graph --------------------------------------------------------------------------------
    def _error(self, status: int, code: str) -> web.Response:
        headers = {"Retry-After": self.retry_after} if status in (429, 503) and (
            self.retry_after is not None) else None  # fmt: skip
        return web.json_response(
            {"error": {"code": code, "message": code}}, status=status, headers=headers
        )

    async def _members(self, request: web.Request) -> web.Response:
        group = request.match_info["group"]
        authorization = request.headers.get("Authorization", "")
        with self._lock:
            self.graph_requests += 1
            token_tenant = self._issued.get(authorization.removeprefix("Bearer "))
            if token_tenant is not None:
                self.graph_requests_by_tenant[token_tenant] += 1
            failure = self.graph_failures.pop(0) if self.graph_failures else self.graph_status
            team = self.teams.get(group)
        if failure is not None:
            return self._error(failure, "ServiceUnavailable" if failure >= 500 else "TooMany")
        if token_tenant is None:
            with self._lock:
                self.refused_tokens += 1
            return self._error(401, "InvalidAuthenticationToken")
        if team is None and token_tenant in self.members_of_any_team:
            team = Team(token_tenant, self.members_of_any_team[token_tenant])
        if team is None:
            return self._error(404, "NotFound")
        if team.tenant_id.lower() != token_tenant:
            with self._lock:
                self.refused_tokens += 1
            return self._error(403, "Forbidden")
        try:
            top = min(int(request.query.get("$top", "100")), self.max_page)
            skip = int(request.query.get("$skiptoken", "0"))
        except ValueError:
            return self._error(400, "BadRequest")
        page = team.members[skip : skip + max(top, 1)]
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#teams('"
            f"{group}')/members",
            "value": [member.as_graph(team.tenant_id) for member in page],
        }
        if skip + len(page) < len(team.members):
            base = URL(self.next_link_base or self.base_url)
            body["@odata.nextLink"] = str(
                base.with_path(request.path).with_query(
                    {"$top": str(top), "$skiptoken": str(skip + len(page))}
                )
            )
        return web.json_response(body)


def _load_members(config: Path | None) -> dict[str, list[Member]]:
    """`{"tenants": {tenantId: [{"userId", "displayName", "roles"}, ...]}}`; by default the
    Agents Playground's tenant and users."""
    if config is None:
        return {PLAYGROUND_TENANT: list(PLAYGROUND_MEMBERS)}
    data = json.loads(config.read_text())
    return {
        tenant.lower(): [
            Member(item["userId"], item.get("displayName", ""), tuple(item.get("roles", [])))
            for item in members
        ]
        for tenant, members in data["tenants"].items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m standins.graph",
        description="Microsoft Graph team members and Entra tokens per tenant, for a local run.",
    )
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument(
        "--tls-dir", type=Path, default=Path("var/graph-standin"),
        help="where the throwaway CA is written (ca.pem: the bot trusts it)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=Path, default=None,
        help='JSON: {"tenants": {tenantId: [{userId, displayName, roles}]}}',
    )  # fmt: skip
    parser.add_argument(
        "--client-secret", default=None,
        help="the only secret the token endpoint accepts (default: any)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.tls_dir.mkdir(parents=True, exist_ok=True)
    ca = make_ca(args.tls_dir)
    members = _load_members(args.config)
    stand_in = GraphStandIn(
        ssl_context=ca.server_context, client_secret=args.client_secret,
        members_of_any_team=members, start=False,
    )  # fmt: skip
    stand_in.base_url = f"https://127.0.0.1:{args.port}"
    print(f"Graph stand-in: {stand_in.base_url} (Graph and Entra tokens per tenant); "
          f"trust {ca.ca_file.resolve()}", flush=True)  # fmt: skip
    web.run_app(stand_in.app(), host="127.0.0.1", port=args.port,
                ssl_context=ca.server_context, access_log=None, print=None)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
