"""Async client for the ContextSMS REST API (all endpoints of the contract).

One instance per process: it pools connections, keeps the access token and closes with
`aclose()`. Every call accepts `deadline` (seconds), which bounds its total time, retries and
token renewal included. A failed change says in `outcome_unknown` whether it may have been
applied (see `retry.decide`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, assert_never
from urllib.parse import quote

import httpx
from pydantic import SecretStr, TypeAdapter

from contextsms import timing
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
    server_text,
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
from contextsms.retry import (
    AlreadyDone,
    Answered,
    CallKind,
    Deadline,
    Fail,
    Happened,
    NotAnswered,
    RetryAfter,
    RetryPolicy,
    Return,
    decide,
    may_have_acted,
    parse_retry_after,
)
from contextsms.tokens import TokenManager

log = logging.getLogger("contextsms.client")

PRODUCTION_BASE_URL = "https://context-sms.sabrhub.com/api/v2"

T = TypeVar("T")


@dataclass(frozen=True)
class ClientOptions:
    timeout: float = 10.0
    connect_timeout: float = 3.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    renew_margin: float = 60.0
    user_agent: str = "contextsms-teams/0.1"


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
        self._mapping_listeners: list[Callable[[str | None], None]] = []
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

    def on_mappings_changed(self, listener: Callable[[str | None], None]) -> None:
        """Call `listener(enterprise_id)` after every call of this client that may have changed
        mappings, whatever its outcome (a failure may have been applied): with the enterprise
        where the call names it, else None (a mapping's update or deletion names only the
        mapping). Copies of mapping lists kept by the caller drop theirs."""
        self._mapping_listeners.append(listener)

    def _mappings_changed(self, enterprise_id: str | None) -> None:
        for listener in self._mapping_listeners:
            listener(enterprise_id)

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
            "POST", "/csp", Csp, body=csp.to_wire(), kind=CallKind.CREATE, deadline=deadline
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
            kind=CallKind.CREATE,
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
        try:
            return await self._add_mapping(enterprise_id, mapping, Deadline(deadline))
        finally:
            self._mappings_changed(enterprise_id)

    async def _add_mapping(
        self, enterprise_id: str, mapping: MappingCreate, limit: Deadline
    ) -> Mapping:
        path = f"/mapping/add/{_seg(enterprise_id)}"
        retries = 0
        while True:
            try:
                return await self._json(
                    "POST", path, Mapping, body=mapping.to_wire(), kind=CallKind.CREATE, limit=limit
                )
            except ContextSMSError as error:
                if not error.outcome_unknown:
                    raise
                failure = error
            if limit.expired():
                raise failure
            existing = await self._find_applied(enterprise_id, mapping, limit, failure)
            if existing is not None:
                log.info("mapping %s was applied despite the failed answer", existing.id)
                return existing
            # The look-up shows the number not mapped: the failed attempt changed nothing.
            failure.outcome_unknown = False
            retries += 1
            if retries > self.options.retry.max_retries:
                raise failure
            await limit.sleep(self.options.retry.backoff(retries, self._rng))

    async def _find_applied(
        self, enterprise_id: str, wanted: MappingCreate, limit: Deadline, failure: ContextSMSError
    ) -> Mapping | None:
        try:
            mappings = await self.list_mappings(enterprise_id, deadline=limit.remaining())
        except ContextSMSError as exc:
            # Neither the add nor the look-up answered: the number may be mapped or not.
            raise failure from exc
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
        try:
            return await self._json(
                "PUT", path, Mapping, body=update.to_wire(), kind=CallKind.UPDATE,
                deadline=deadline,
            )  # fmt: skip
        finally:
            self._mappings_changed(None)

    async def delete_mapping(self, mapping_id: str, *, deadline: float | None = None) -> str:
        path = f"/mapping/{_seg(mapping_id)}"
        try:
            return await self._text("DELETE", path, f"Deleted mapping {mapping_id}", deadline)
        finally:
            self._mappings_changed(None)

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
        call = _Call(
            "POST",
            "/stripe/webhook",
            f"{self.base_url}/stripe/webhook",
            CallKind.CREATE,
            auth=False,
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        response = await self._request(call, Deadline(deadline))
        assert isinstance(response, httpx.Response)  # only a DELETE finds its work done
        return _parse_answer(call, WebhookAck, response)

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
        kind: CallKind = CallKind.SAFE,
        deadline: float | None = None,
        limit: Deadline | None = None,
        base: str | None = None,
    ) -> T:
        call = _Call(
            method, path, f"{base or self.base_url}{path}", kind, auth, body, params=params
        )
        response = await self._request(call, limit or Deadline(deadline))
        # Only a DELETE can find its work already done, and deletes answer text.
        assert isinstance(response, httpx.Response)
        return _parse_answer(call, shape, response)

    async def _text(self, method: str, path: str, done: str, deadline: float | None) -> str:
        call = _Call(method, path, f"{self.base_url}{path}", CallKind.DELETE, auth=True)
        match await self._request(call, Deadline(deadline)):
            case httpx.Response() as response:
                return response.text
            case AlreadyDone():
                return done
            case unreachable:
                assert_never(unreachable)

    # The layers of one call, outermost first, as httpx layers `send`: retries decided by
    # `retry.decide`, then the bearer token and its renewal, then one HTTP exchange.

    async def _request(self, call: _Call, limit: Deadline) -> httpx.Response | AlreadyDone:
        """The call, repeated as `retry.decide` says, within `limit`."""
        retry = 0
        acted = False  # an earlier attempt may have been applied
        last_error: ContextSMSError | None = None
        while True:
            try:
                outcome = await self._send_handling_auth(call, retry, limit)
            except DeadlineExceeded:
                # No token before the deadline: this attempt never left.
                outcome = NotAnswered(sent=False, failure="DeadlineExceeded")
            except ContextSMSError as exc:
                # Logging in failed, so this attempt sent nothing; an earlier one may have acted.
                if acted and call.kind.changes:
                    assert last_error is not None
                    last_error.outcome_unknown = True
                    raise last_error from exc
                raise
            happened = _happened(outcome)
            decision = decide(
                call.kind,
                happened,
                retry=retry,
                acted_before=acted,
                time_left=limit.remaining(),
                backoff=self.options.retry.backoff(retry + 1, self._rng),
                max_retries=self.options.retry.max_retries,
            )
            acted = acted or may_have_acted(happened)
            match decision:
                case Return():
                    assert isinstance(outcome, httpx.Response)
                    return outcome
                case AlreadyDone():
                    return decision
                case RetryAfter(delay=delay):
                    last_error = _failure(call, outcome)
                    await asyncio.sleep(delay)
                case Fail(outcome_unknown=unknown, deadline=deadline):
                    error = (
                        DeadlineExceeded(
                            f"{call.method} {call.path}: no answer before the deadline"
                        )
                        if deadline
                        else _failure(call, outcome)
                    )
                    error.outcome_unknown = unknown
                    raise error
                case _:
                    assert_never(decision)
            retry += 1

    async def _send_handling_auth(
        self, call: _Call, retry: int, limit: Deadline
    ) -> httpx.Response | NotAnswered:
        """One attempt with the bearer token; a 401 renews it once and sends again (a 401
        refuses before acting, so even a create may be sent again)."""
        if not call.auth:
            return await self._send_once(call, None, retry, limit)
        token = await self._token(limit)
        outcome = await self._send_once(call, token, retry, limit)
        if isinstance(outcome, httpx.Response) and outcome.status_code == 401:
            token = await self._token(limit, rejected=token)
            outcome = await self._send_once(call, token, retry, limit)
        return outcome

    async def _send_once(
        self, call: _Call, token: str | None, retry: int, limit: Deadline
    ) -> httpx.Response | NotAnswered:
        """One HTTP exchange: its log line and its time, added to the activity's API time."""
        time_left = limit.remaining()
        if time_left is not None and time_left <= 0:
            return NotAnswered(sent=False, failure="DeadlineExceeded")
        headers = dict(call.headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        progress = _Progress()
        outcome: httpx.Response | NotAnswered
        started = time.monotonic()
        try:
            async with asyncio.timeout(time_left):
                outcome = await self._http.request(
                    call.method,
                    call.url,
                    json=call.json_body,
                    content=call.content,
                    params=call.params,
                    headers=headers,
                    extensions={"trace": progress.trace},
                )
        except (httpx.TransportError, TimeoutError) as exc:
            outcome = NotAnswered(sent=progress.may_have_sent(exc), failure=type(exc).__name__)
        duration_ms = (time.monotonic() - started) * 1000
        timing.record(duration_ms)
        _log_call(call, outcome, duration_ms, retry)
        return outcome

    async def _token(self, limit: Deadline, rejected: str | None = None) -> str:
        try:
            if rejected is not None:
                return await self.tokens.rejected(rejected, limit.remaining())
            return await self.tokens.token(limit.remaining())
        except TimeoutError as exc:
            if isinstance(exc, DeadlineExceeded):
                raise
            raise DeadlineExceeded("the deadline passed while logging in to ContextSMS") from None


@dataclass(frozen=True)
class _Call:
    """One API call as the layers of `_request` send it; `path` is what the log shows."""

    method: str
    path: str
    url: str
    kind: CallKind
    auth: bool
    json_body: dict[str, Any] | None = None
    content: bytes | None = None
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None


class _Progress:
    """How far one exchange got, from httpcore's trace events: whether the request left."""

    def __init__(self) -> None:
        self.traced = False
        self.sending = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        self.traced = True
        if event.endswith("send_request_headers.started"):
            self.sending = True

    def may_have_sent(self, failure: BaseException) -> bool:
        if isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return False
        # A transport that emits no trace events (a test double) tells nothing: assume sent.
        return self.sending or not self.traced


def _happened(outcome: httpx.Response | NotAnswered) -> Happened:
    match outcome:
        case httpx.Response() as response:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return Answered(response.status_code, retry_after)
        case NotAnswered():
            return outcome
        case _:
            assert_never(outcome)


def _failure(call: _Call, outcome: httpx.Response | NotAnswered) -> ContextSMSError:
    match outcome:
        case httpx.Response() as response:
            return _error_from(response, call.method, call.path)
        case NotAnswered(failure=failure):
            return TransportError(f"{call.method} {call.path}: {failure} talking to ContextSMS")
        case _:
            assert_never(outcome)


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


def _parse_answer(call: _Call, shape: type[T], response: httpx.Response) -> T:
    """The answer as `shape`. A change answered with success but a body we cannot read was
    applied or not: its error says the outcome is unknown."""
    try:
        return _parse(shape, response)
    except UnexpectedResponse as exc:
        exc.outcome_unknown = call.kind.changes
        raise


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
    header = server_text(response.headers.get("X-Request-Id"))
    if header:
        return header
    if response.status_code >= 400 and "json" in response.headers.get("Content-Type", ""):
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict):
            return server_text(body.get("requestId"))
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
        request_id = server_text(body.get("requestId")) or request_id
        cls = ERRORS_BY_CODE.get(code) if isinstance(code, str) else None
        if cls is None and status >= 500:
            return ServerError(
                message,
                status=status,
                request_id=request_id,
                timestamp=server_text(body.get("timestamp")),
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
    call: _Call, outcome: httpx.Response | NotAnswered, duration_ms: float, retry: int
) -> None:
    # The path only: no query string, no header, no body (tokens, passwords, numbers).
    match outcome:
        case httpx.Response() as response:
            status, request_id = str(response.status_code), _request_id(response)
        case NotAnswered(failure=failure):
            status, request_id = failure, None
        case _:
            assert_never(outcome)
    log.info(
        "contextsms %s %s status=%s duration_ms=%.0f retry=%d request_id=%s",
        call.method,
        call.path,
        status,
        duration_ms,
        retry,
        request_id or "-",
    )
