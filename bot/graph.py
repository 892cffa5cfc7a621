"""Who owns a team, from Microsoft Graph, with an app-only token for the team's own tenant.

The bot's app registration is multi-tenant: a customer's team grants it the resource-specific
consent `TeamMember.Read.Group` on install, and Graph honours it with a token from that
customer's tenant (not the bot's home tenant). Every failure to get the token or the answer is
`GraphUnavailable`, which the permission check turns into "cannot tell", never into "allowed".
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bot.activity_log import short_hash
from bot.credentials import RENEW_BEFORE_SECONDS, TokenFetch, msal_token_source
from bot.logs import event
from contextsms.retry import parse_retry_after

log = logging.getLogger("bot.graph")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Graph's largest page of team members: a team of 25,000 (Teams' limit) is 26 pages.
PAGE_SIZE = 999
MAX_PAGES = 30


class GraphUnavailable(Exception):
    """The token or Graph's answer could not be had; the message names why, without secrets."""


class TenantTokens(Protocol):
    """An app-only Graph token for a customer tenant."""

    async def token(self, tenant_id: str) -> str:
        """Raises GraphUnavailable."""
        ...


def _guid(value: str, what: str) -> str:
    """Tenant and group ids go into URLs: only a GUID does, lower-cased as Entra compares."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise GraphUnavailable(f"the {what} id is not a GUID") from None


@dataclass
class _Cached:
    token: str
    renew_at: float  # time.monotonic()


class MsalTenantTokens:
    """Client credentials of the bot's app registration, with the authority of each customer
    tenant. A token is kept per tenant until shortly before it expires; callers asking for the
    same tenant at once share one fetch, made in a worker thread (msal blocks)."""

    def __init__(
        self,
        app_id: str,
        password: SecretStr | None,
        login_authority: str,
        scope: str = GRAPH_SCOPE,
        *,
        verify: str | bool = True,
        timeout: float = 10.0,
    ) -> None:
        """`verify`: the CA file to trust (a stand-in's), as msal and requests take it;
        `timeout`: how long a caller waits for a token."""
        self._authority = login_authority.rstrip("/")
        self._timeout = timeout
        self._source: Callable[[str], TokenFetch] = lambda authority: msal_token_source(
            app_id, authority, password, [scope],
            # The authority is our own setting (a sovereign cloud's or a stand-in's).
            instance_discovery=False, verify=verify, timeout=timeout,
        )  # fmt: skip
        self._fetches: dict[str, TokenFetch] = {}
        self._cached: dict[str, _Cached] = {}
        self._in_flight: dict[str, asyncio.Task[str]] = {}

    async def token(self, tenant_id: str) -> str:
        tenant = _guid(tenant_id, "tenant")
        cached = self._cached.get(tenant)
        if cached is not None and time.monotonic() < cached.renew_at:
            return cached.token
        task = self._in_flight.get(tenant)
        if task is None:
            task = asyncio.ensure_future(self._fetch(tenant))
            self._in_flight[tenant] = task
            # Kept until the fetch ends, even when its callers gave up waiting: never two
            # fetches of one tenant at once.
            task.add_done_callback(lambda done: self._fetch_ended(tenant, done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self._timeout)
        except TimeoutError:
            raise GraphUnavailable("no Graph token: Entra did not answer in time") from None

    def _fetch_ended(self, tenant: str, task: asyncio.Task[str]) -> None:
        if self._in_flight.get(tenant) is task:
            del self._in_flight[tenant]
        if not task.cancelled():
            task.exception()  # retrieved: callers that gave up are not told twice

    async def _fetch(self, tenant: str) -> str:
        fetch = self._fetches.get(tenant)
        if fetch is None:
            fetch = self._fetches[tenant] = self._source(f"{self._authority}/{tenant}")
        started = time.perf_counter()
        try:
            answer = await asyncio.to_thread(fetch)
        except Exception as exc:  # msal and requests raise many kinds
            self._log(tenant, started, type(exc).__name__)
            raise GraphUnavailable(f"no Graph token ({type(exc).__name__})") from None
        token = answer.get("access_token")
        if not isinstance(token, str):
            # The error code only: Entra's descriptions echo app ids and trace details.
            code = str(answer.get("error"))
            self._log(tenant, started, code)
            raise GraphUnavailable(f"no Graph token: {code}")
        lifetime = float(answer.get("expires_in", 3600))
        renew_in = max(lifetime - RENEW_BEFORE_SECONDS, lifetime / 2)
        self._cached[tenant] = _Cached(token, time.monotonic() + renew_in)
        self._log(tenant, started, None)
        return token

    @staticmethod
    def _log(tenant: str, started: float, error: str | None) -> None:
        event(log, "graph_token", {
            "tenant": short_hash(tenant), "error": error,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }, logging.INFO if error is None else logging.WARNING)  # fmt: skip


class _Member(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: str | None = Field(default=None, alias="userId")
    roles: list[str] | None = None


class _MembersPage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    value: list[_Member]
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


@dataclass
class _Retries:
    left: int


class GraphClient:
    """Microsoft Graph, as much as the bot reads of it: a team's members and their roles."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TenantTokens,
        http: httpx.AsyncClient,
        timeout: float = 4.0,
        retry_budget: float = 2.0,
    ) -> None:
        """`timeout`: per request; `retry_budget`: the longest Retry-After waited for (once)."""
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._http = http
        self._timeout = timeout
        self._retry_budget = retry_budget

    async def member_roles(
        self, tenant_id: str, group_id: str, user_id: str
    ) -> tuple[str, ...] | None:
        """The roles of `user_id` (Entra object id) in the team (Graph: [] for an ordinary
        member, "owner", "guest"); None when the team does not list them. Raises
        GraphUnavailable."""
        tenant = _guid(tenant_id, "tenant")
        group = _guid(group_id, "group")
        token = await self._tokens.token(tenant)
        wanted = user_id.strip().lower()
        url = f"{self._base}/v1.0/teams/{group}/members?$top={PAGE_SIZE}"
        retries = _Retries(left=1)
        for page_number in range(1, MAX_PAGES + 1):
            page = await self._page(url, token, tenant, page_number, retries)
            for member in page.value:
                if member.user_id is not None and member.user_id.lower() == wanted:
                    return tuple(member.roles or ())
            if page.next_link is None:
                return None
            # The token goes only to Graph: a nextLink elsewhere is not followed.
            if not page.next_link.startswith(f"{self._base}/v1.0/"):
                raise GraphUnavailable("Graph's next page is on another host")
            url = page.next_link
        raise GraphUnavailable(f"the team has more than {MAX_PAGES} pages of members")

    async def _page(self, url: str, token: str, tenant: str, page: int,
                    retries: _Retries) -> _MembersPage:  # fmt: skip
        while True:
            started = time.perf_counter()
            try:
                response = await self._http.get(
                    url, timeout=self._timeout,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                )  # fmt: skip
            except httpx.HTTPError as exc:
                self._log(tenant, page, started, None, type(exc).__name__)
                raise GraphUnavailable(f"Graph unreachable ({type(exc).__name__})") from None
            status = response.status_code
            self._log(tenant, page, started, status, None)
            if status == 200:
                try:
                    return _MembersPage.model_validate_json(response.content)
                except ValidationError:
                    raise GraphUnavailable("Graph's answer is not a member list") from None
            if (status == 429 or status >= 500) and retries.left > 0:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                wait = min(0.5, self._retry_budget) if wait is None else wait
                if wait <= self._retry_budget:
                    retries.left -= 1
                    await asyncio.sleep(wait)
                    continue
            raise GraphUnavailable(f"Graph answered {status}")

    @staticmethod
    def _log(tenant: str, page: int, started: float, status: int | None,
             error: str | None) -> None:  # fmt: skip
        event(log, "graph", {
            "call": "team members", "page": page, "status": status, "error": error,
            "tenant": short_hash(tenant), "ms": round((time.perf_counter() - started) * 1000, 1),
        }, logging.INFO if status == 200 else logging.WARNING)  # fmt: skip
