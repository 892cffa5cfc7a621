"""Async client for the ContextSMS REST API (all endpoints of the contract).

One instance per process: it pools connections, keeps the access token and closes with
`aclose()`. Every call accepts `deadline` (seconds), which bounds its total time, retries and
token renewal included.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr, TypeAdapter

from contextsms.errors import (
    ERRORS_BY_CODE,
    ERRORS_BY_STATUS,
    ApiError,
    ContextSMSError,
    DeadlineExceeded,
    NotFound,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from contextsms.models import (
    Csp,
    CspConfig,
    CspCreate,
    Enterprise,
    EnterpriseCreate,
    Mapping,
    MappingCreate,
    MappingUpdate,
    PaymentStatus,
    TokenResponse,
    WebhookAck,
)
from contextsms.retry import RETRYABLE_STATUSES, Deadline, RetryPolicy, parse_retry_after
from contextsms.tokens import TokenManager

log = logging.getLogger("contextsms.client")

PRODUCTION_BASE_URL = "https://context-sms.sabrhub.com/api/v2"

T = TypeVar("T")


class _Kind(enum.Enum):
    """How a call may be repeated after a failure."""

    SAFE = "safe"  # reads and idempotent writes: repeat on any retryable failure
    DELETE = "delete"  # idempotent, but a repeat finds the object gone
    CREATE = "create"  # repeat only when the server surely did not act on it


@dataclass(frozen=True)
class ClientOptions:
    timeout: float = 10.0
    connect_timeout: float = 3.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    renew_margin: float = 60.0
    user_agent: str = "contextsms-teams/0.1"


class _Ambiguous(Exception):
    """A create failed in a way that leaves unknown whether the server applied it."""

    def __init__(self, error: ContextSMSError) -> None:
        super().__init__(str(error))
        self.error = error


class ContextSMSClient:
    def __init__(
        self,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        auth_base_url: str | None = None,
        username: str,
        password: SecretStr,
        csp_id: str | None = None,
        options: ClientOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options or ClientOptions()
        self.base_url = base_url.rstrip("/")
        self.auth_base_url = (auth_base_url or base_url).rstrip("/")
        self.csp_id = csp_id
        self._username = username
        self._password = password
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.options.timeout, connect=self.options.connect_timeout),
            headers={"User-Agent": self.options.user_agent, "Accept": "application/json"},
            transport=transport,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._last_login: TokenResponse | None = None
        self.tokens = TokenManager(
            self._login_call, self._refresh_call, renew_margin=self.options.renew_margin
        )

    async def __aenter__(self) -> ContextSMSClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"ContextSMSClient(base_url={self.base_url!r}, username={self._username!r})"

    # -- authentication (1, 2) ---------------------------------------------------------

    async def login(self, *, deadline: float | None = None) -> TokenResponse:
        """Log in now (the client also does so by itself on first use)."""
        self.tokens.forget()
        await self._token(Deadline(deadline))
        assert self._last_login is not None
        return self._last_login

    async def ensure_logged_in(self, *, deadline: float | None = None) -> None:
        await self._token(Deadline(deadline))

    async def _login_call(self) -> TokenResponse:
        body = {"username": self._username, "password": self._password.get_secret_value()}
        answer = await self._json(
            "POST", "/auth/login", TokenResponse, body=body, auth=False, base=self.auth_base_url
        )
        self._last_login = answer
        return answer

    async def _refresh_call(self, refresh_token: str) -> TokenResponse:
        body = {"username": self._username, "refreshToken": refresh_token}
        answer = await self._json(
            "POST",
            "/auth/getaccesstoken",
            TokenResponse,
            body=body,
            auth=False,
            base=self.auth_base_url,
        )
        self._last_login = answer
        return answer

    # -- CSPs (3, 4, 7) --------------------------------------------------------------------

    async def create_csp(self, csp: CspCreate, *, deadline: float | None = None) -> Csp:
        return await self._json(
            "POST", "/csp", Csp, body=csp.to_wire(), kind=_Kind.CREATE, deadline=deadline
        )

    async def get_csp_config(
        self, phone_number: str, *, deadline: float | None = None
    ) -> CspConfig:
        return await self._json(
            "GET",
            "/csp/getcspconfig",
            CspConfig,
            params={"phoneNumber": phone_number},
            auth=False,
            deadline=deadline,
        )

    async def list_enterprises(
        self, csp_id: str | None = None, *, deadline: float | None = None
    ) -> list[Enterprise]:
        path = f"/csp/enterprises/{_seg(self._csp(csp_id))}"
        return await self._json("GET", path, list[Enterprise], deadline=deadline)

    # -- enterprises (5, 6, 8) -------------------------------------------------------------

    async def create_enterprise(
        self,
        enterprise: EnterpriseCreate,
        csp_id: str | None = None,
        *,
        deadline: float | None = None,
    ) -> Enterprise:
        path = f"/enterprise/{_seg(self._csp(csp_id))}"
        return await self._json(
            "POST",
            path,
            Enterprise,
            body=enterprise.to_wire(),
            kind=_Kind.CREATE,
            deadline=deadline,
        )

    async def get_enterprise(
        self, enterprise_id: str, *, deadline: float | None = None
    ) -> Enterprise:
        path = f"/enterprise/getenterprise/{_seg(enterprise_id)}"
        return await self._json("GET", path, Enterprise, deadline=deadline)

    async def delete_enterprise(self, enterprise_id: str, *, deadline: float | None = None) -> str:
        path = f"/enterprise/deleteenterprise/{_seg(enterprise_id)}"
        return await self._text("DELETE", path, f"Deleted enterprise {enterprise_id}", deadline)

    # -- mappings (9 to 14) ----------------------------------------------------------------

    async def add_mapping(
        self, enterprise_id: str, mapping: MappingCreate, *, deadline: float | None = None
    ) -> Mapping:
        """Map a number. Never repeated blindly: after a failure that may hide a success (a
        timeout, a 5xx) the number is looked up first, so a retry neither creates a second
        mapping nor reports our own first attempt as "already mapped"."""
        limit = Deadline(deadline)
        path = f"/mapping/add/{_seg(enterprise_id)}"
        retries = 0
        while True:
            try:
                return await self._json(
                    "POST", path, Mapping, body=mapping.to_wire(), kind=_Kind.CREATE, limit=limit
                )
            except _Ambiguous as ambiguous:
                error = ambiguous.error
            if isinstance(error, DeadlineExceeded) or limit.expired():
                raise DeadlineExceeded(
                    "no answer to the mapping request before the deadline; it may have been "
                    "applied",
                    outcome_unknown=True,
                ) from error
            existing = await self._find_applied(enterprise_id, mapping, limit)
            if existing is not None:
                log.info("mapping %s was applied despite the failed answer", existing.id)
                return existing
            retries += 1
            if retries > self.options.retry.max_retries:
                raise error
            await limit.sleep(self.options.retry.backoff(retries, self._rng))

    async def _find_applied(
        self, enterprise_id: str, wanted: MappingCreate, limit: Deadline
    ) -> Mapping | None:
        try:
            mappings = await self.list_mappings(enterprise_id, deadline=limit.remaining())
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(str(exc), outcome_unknown=True) from exc
        for existing in mappings:
            if (
                existing.phone_number == wanted.phone_number
                and existing.messaging_app_id == wanted.messaging_app_id
            ):
                return existing
        return None

    async def list_mappings(
        self, enterprise_id: str, *, deadline: float | None = None
    ) -> list[Mapping]:
        path = f"/numbertomessageappmapping/enterprise/{_seg(enterprise_id)}"
        return await self._json("GET", path, list[Mapping], deadline=deadline)

    async def list_csp_mappings(
        self, csp_id: str | None = None, *, deadline: float | None = None
    ) -> list[Mapping]:
        path = f"/mapping/csp/{_seg(self._csp(csp_id))}"
        return await self._json("GET", path, list[Mapping], deadline=deadline)

    async def update_mapping(
        self, mapping_id: str, update: MappingUpdate, *, deadline: float | None = None
    ) -> Mapping:
        path = f"/mapping/{_seg(mapping_id)}"
        return await self._json("PUT", path, Mapping, body=update.to_wire(), deadline=deadline)

    async def delete_mapping(self, mapping_id: str, *, deadline: float | None = None) -> str:
        path = f"/mapping/{_seg(mapping_id)}"
        return await self._text("DELETE", path, f"Deleted mapping {mapping_id}", deadline)

    async def find_mapping_by_app_id(
        self, messaging_app_id: str, *, deadline: float | None = None
    ) -> Mapping | None:
        """The (oldest) mapping of a messaging app id, or None when there is none."""
        try:
            return await self._json(
                "POST",
                "/mapping/messagingAppId",
                Mapping,
                body={"messagingAppId": messaging_app_id},
                deadline=deadline,
            )
        except NotFound:
            return None

    # -- payments (15, 16) -----------------------------------------------------------------

    async def check_payment(self, email: str, *, deadline: float | None = None) -> PaymentStatus:
        return await self._json(
            "POST",
            "/stripe/check-payment",
            PaymentStatus,
            body={"email": email},
            deadline=deadline,
        )

    async def send_stripe_event(
        self, payload: bytes, signature: str, *, deadline: float | None = None
    ) -> WebhookAck:
        """Deliver a signed Stripe event, as Stripe does (for tests and replays by support)."""
        response = await self._request(
            "POST",
            "/stripe/webhook",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            auth=False,
            kind=_Kind.CREATE,
            limit=Deadline(deadline),
        )
        return _parse(WebhookAck, response)

    # -- plumbing --------------------------------------------------------------------------

    def _csp(self, csp_id: str | None) -> str:
        chosen = csp_id or self.csp_id
        if not chosen:
            raise ValueError("no CSP id given and none configured")
        return chosen

    async def _json(
        self,
        method: str,
        path: str,
        shape: type[T],
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
        kind: _Kind = _Kind.SAFE,
        deadline: float | None = None,
        limit: Deadline | None = None,
        base: str | None = None,
    ) -> T:
        response = await self._request(
            method,
            path,
            json_body=body,
            params=params,
            auth=auth,
            kind=kind,
            limit=limit or Deadline(deadline),
            base=base,
        )
        return _parse(shape, response)

    async def _text(self, method: str, path: str, done: str, deadline: float | None) -> str:
        try:
            response = await self._request(
                method, path, kind=_Kind.DELETE, limit=Deadline(deadline)
            )
        except _AlreadyDone:
            return done
        return response.text

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        kind: _Kind = _Kind.SAFE,
        limit: Deadline,
        base: str | None = None,
    ) -> httpx.Response:
        url = f"{base or self.base_url}{path}"
        retries = 0
        renewed = False
        acted = False  # an earlier attempt may have been applied
        while True:
            request_headers = dict(headers or {})
            token: str | None = None
            if auth:
                token = await self._token(limit)
                request_headers["Authorization"] = f"Bearer {token}"
            started = time.monotonic()
            try:
                response = await self._send(
                    method, url, json_body, content, params, request_headers, limit
                )
            except (httpx.TransportError, TimeoutError) as exc:
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                _log_call(method, path, None, started, retries, None, type(exc).__name__)
                if limit.expired():
                    raise DeadlineExceeded(
                        f"{method} {path}: no answer before the deadline",
                        outcome_unknown=sent and kind is not _Kind.SAFE,
                    ) from None
                error: ContextSMSError = TransportError(
                    f"{method} {path}: {type(exc).__name__} talking to ContextSMS"
                )
                if sent and kind is _Kind.CREATE:
                    raise _Ambiguous(error) from None
                acted = acted or sent
                delay = self.options.retry.backoff(retries + 1, self._rng)
            else:
                request_id = _request_id(response)
                _log_call(method, path, response.status_code, started, retries, request_id)
                status = response.status_code
                if status < 400:
                    return response
                if status == 401 and auth and not renewed and token is not None:
                    renewed = True
                    await self._token(limit, rejected=token)
                    continue
                if status == 404 and kind is _Kind.DELETE and acted:
                    raise _AlreadyDone()
                error = _error_from(response, method, path)
                if status not in RETRYABLE_STATUSES:
                    raise error
                if kind is _Kind.CREATE and status != 429:
                    raise _Ambiguous(error)
                # 429 and 503 refuse a request before acting; other failures may hide a success.
                acted = acted or status not in (429, 503)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                delay = (
                    retry_after
                    if retry_after is not None
                    else self.options.retry.backoff(retries + 1, self._rng)
                )
            retries += 1
            if retries > self.options.retry.max_retries or not limit.allows(delay):
                raise error
            await asyncio.sleep(delay)

    async def _send(
        self,
        method: str,
        url: str,
        json_body: dict[str, Any] | None,
        content: bytes | None,
        params: dict[str, str] | None,
        headers: dict[str, str],
        limit: Deadline,
    ) -> httpx.Response:
        remaining = limit.remaining()
        async with asyncio.timeout(remaining):
            return await self._http.request(
                method, url, json=json_body, content=content, params=params, headers=headers
            )

    async def _token(self, limit: Deadline, rejected: str | None = None) -> str:
        try:
            if rejected is not None:
                return await self.tokens.rejected(rejected, limit.remaining())
            return await self.tokens.token(limit.remaining())
        except TimeoutError as exc:
            if isinstance(exc, DeadlineExceeded):
                raise
            raise DeadlineExceeded("the deadline passed while logging in to ContextSMS") from None


class _AlreadyDone(Exception):
    """A repeated DELETE found the object gone: an earlier attempt deleted it."""


def _seg(value: str) -> str:
    """An id as one path segment, so that an id from a card cannot reach another path."""
    return quote(value, safe="")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(shape: type[T]) -> TypeAdapter[T]:
    # Building an adapter builds a schema (and pydantic looks for plugins): once per shape.
    adapter = _ADAPTERS.get(shape)
    if adapter is None:
        adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter


def _parse(shape: type[T], response: httpx.Response) -> T:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UnexpectedResponse(
            f"expected JSON, got {response.headers.get('Content-Type', 'no content type')}",
            status=response.status_code,
            request_id=_request_id(response),
            method=response.request.method,
            path=response.request.url.path,
        ) from None
    try:
        return _adapter(shape).validate_python(data)
    except ValueError as exc:
        raise UnexpectedResponse(
            f"the answer does not match the contract: {exc.__class__.__name__}",
            status=response.status_code,
            request_id=_request_id(response),
            method=response.request.method,
            path=response.request.url.path,
        ) from None


def _request_id(response: httpx.Response) -> str | None:
    header = response.headers.get("X-Request-Id")
    if header:
        return str(header)
    if response.status_code >= 400 and "json" in response.headers.get("Content-Type", ""):
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict) and isinstance(body.get("requestId"), str):
            return str(body["requestId"])
    return None


def _error_from(response: httpx.Response, method: str, path: str) -> ApiError:
    status = response.status_code
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    request_id = _request_id(response)
    if isinstance(body, dict):
        message = str(body.get("error") or body.get("message") or response.reason_phrase)
        code = body.get("code")
        request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else request_id
        cls = ERRORS_BY_CODE.get(code) if isinstance(code, str) else None
        if cls is None and status >= 500:
            return ServerError(
                message,
                status=status,
                request_id=request_id,
                timestamp=body.get("timestamp"),
                method=method,
                path=path,
            )
        cls = cls or ERRORS_BY_STATUS.get(status, UnexpectedResponse)
        return cls(message, status=status, request_id=request_id, method=method, path=path)
    # Not JSON: typically an HTML page from a proxy or load balancer in front of the API.
    message = f"ContextSMS answered {status} {response.reason_phrase} without a JSON error body"
    cls = ServerError if status >= 500 else ERRORS_BY_STATUS.get(status, UnexpectedResponse)
    return cls(message, status=status, request_id=request_id, method=method, path=path)


def _log_call(
    method: str,
    path: str,
    status: int | None,
    started: float,
    retry: int,
    request_id: str | None,
    failure: str | None = None,
) -> None:
    # The path only: no query string, no header, no body (tokens, passwords, numbers).
    log.info(
        "contextsms %s %s status=%s duration_ms=%.0f retry=%d request_id=%s",
        method,
        path,
        status if status is not None else failure,
        (time.monotonic() - started) * 1000,
        retry,
        request_id or "-",
    )
