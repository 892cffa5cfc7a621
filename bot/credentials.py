"""Outbound credentials: the bot's token for the Bot Connector, fetched once and reused.

botbuilder's stock factory builds new credentials, and so a new msal app and a new token, for
every activity, synchronously on the event loop. Here one credentials object per app id and
scope keeps its token until shortly before it expires, and renews it in a worker thread.

A token that cannot be had (Entra down or unreachable, the secret refused) is an
`OutboundTokenError`, which the HTTP edge answers for; it is logged once per outage.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import msal
import requests
from botframework.connector.auth import (
    AppCredentials,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from pydantic import SecretStr

log = logging.getLogger("bot.credentials")

RENEW_BEFORE_SECONDS = 300
DEFAULT_TENANT = "botframework.com"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"

# Returns an msal-style answer: {"access_token", "expires_in"} or {"error", ...}.
TokenFetch = Callable[[], dict[str, Any]]
TokenSourceFactory = Callable[[str, str, SecretStr | None, list[str]], TokenFetch]


class TimeoutSession(requests.Session):
    """msal's HTTP session with the CA given and a timeout on every request.

    requests lets REQUESTS_CA_BUNDLE override a session's own `verify` (psf/requests#3829), and
    msal sets no timeout on a session it did not make: a hung token request would hold the one
    renewal forever. A `verify` given with each request wins over the environment.
    """

    def __init__(self, verify: str | bool = True, timeout: float = 10.0) -> None:
        super().__init__()
        self.verify = verify
        self._timeout = timeout
        adapter = requests.adapters.HTTPAdapter(max_retries=1)  # as msal's own session
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, **kwargs)


def msal_token_source(
    app_id: str,
    authority: str,
    password: SecretStr | None,
    scopes: list[str],
    *,
    instance_discovery: bool | None = None,
    verify: str | bool = True,
    timeout: float = 10.0,
) -> TokenFetch:
    """Client-credentials tokens from Entra through msal. `verify`: a CA file to trust (a
    stand-in's), else the system's; `timeout`: of each HTTP request msal makes.
    `instance_discovery`: by default only for the public cloud's host. msal would ask that
    host about any other authority (BOT_LOGIN_AUTHORITY: a sovereign cloud's, a stand-in's),
    which is our own setting, so trusted as it is, and must work where the public cloud
    cannot be reached."""
    if instance_discovery is None:
        instance_discovery = authority.startswith(DEFAULT_AUTHORITY + "/")
    app: msal.ConfidentialClientApplication | None = None

    def fetch() -> dict[str, Any]:
        # Runs in a worker thread. The msal app is made here too: making it fetches the
        # authority's metadata, which must not happen on the event loop either.
        nonlocal app
        if app is None:
            app = msal.ConfidentialClientApplication(
                client_id=app_id,
                client_credential=password.get_secret_value() if password else None,
                authority=authority,
                instance_discovery=instance_discovery,
                http_client=TimeoutSession(verify, timeout),
            )
        answer: dict[str, Any] = app.acquire_token_for_client(scopes=scopes)
        return answer

    return fetch


def managed_identity_token_source(client_id: str) -> Callable[[list[str]], TokenFetch]:
    """The bot's token from its user-assigned managed identity (MicrosoftAppType
    UserAssignedMSI), through msal, so that it is cached and its failures reported like a
    secret's. On App Service msal finds the identity endpoint in IDENTITY_ENDPOINT."""

    def for_scopes(scopes: list[str]) -> TokenFetch:
        client: msal.ManagedIdentityClient | None = None
        # A managed identity is asked for a resource, not a scope.
        resource = scopes[0].removesuffix("/.default")

        def fetch() -> dict[str, Any]:
            nonlocal client
            if client is None:
                client = msal.ManagedIdentityClient(
                    msal.UserAssignedManagedIdentity(client_id=client_id),
                    http_client=TimeoutSession(),
                )
            answer: dict[str, Any] = client.acquire_token_for_client(resource=resource)
            return answer

        return fetch

    return for_scopes


class OutboundTokenError(Exception):
    """The bot's own token for the Bot Connector could not be had: it cannot reply."""


class _Outage:
    """Logs a failure to get tokens once when it starts and once when it ends, not per call."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._failures = 0
        self._lock = threading.Lock()

    def failed(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            if self._since is not None:
                return
            self._since = time.monotonic()
        log.error(
            "cannot get the bot's token for the Bot Connector (%s): replies fail until it "
            "recovers", reason,
        )  # fmt: skip

    def recovered(self) -> None:
        with self._lock:
            if self._since is None:
                return
            lasted, failures = time.monotonic() - self._since, self._failures
            self._since, self._failures = None, 0
        log.warning(
            "the bot's token for the Bot Connector is available again after %.0f s "
            "(%d failed attempts)", lasted, failures,
        )  # fmt: skip


class CachedAppCredentials(MicrosoftAppCredentials):  # type: ignore[misc]
    def __init__(
        self, app_id: str, tenant: str, scope: str, fetch: TokenFetch,
        outage: _Outage | None = None,
    ) -> None:  # fmt: skip
        super().__init__(app_id, "", channel_auth_tenant=tenant, oauth_scope=scope)
        self._fetch = fetch
        self._outage = outage or _Outage()
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    def _fresh(self) -> bool:
        return self._token is not None and time.time() < self._renew_at

    async def ensure_fresh(self) -> None:
        if self._fresh():
            return
        async with self._lock:
            if not self._fresh():
                await asyncio.to_thread(self._renew)

    def _renew(self) -> str:
        with self._thread_lock:
            if self._fresh():
                assert self._token is not None
                return self._token
            try:
                answer = self._fetch()
            except Exception as exc:  # msal and its HTTP stack raise many kinds
                self._outage.failed(type(exc).__name__)
                raise OutboundTokenError(f"no Bot Connector token ({type(exc).__name__})") from exc
            token = answer.get("access_token")
            if not isinstance(token, str):
                # The error code only: descriptions can echo request details.
                code = str(answer.get("error"))
                self._outage.failed(code)
                raise OutboundTokenError(f"could not get a Bot Connector token: {code}")
            self._outage.recovered()
            lifetime = float(answer.get("expires_in", 3600))
            self._token = token
            self._renew_at = time.time() + max(lifetime - RENEW_BEFORE_SECONDS, lifetime / 2)
            return token

    def get_access_token(self, force_refresh: bool = False) -> str:
        # msrest calls this synchronously; the factory made the token fresh before handing
        # these credentials out, so this is a read, not a network call.
        if force_refresh:
            self._renew_at = 0.0
        if self._fresh():
            assert self._token is not None
            return self._token
        return self._renew()


class CachedCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    def __init__(
        self,
        app_id: str | None,
        password: SecretStr | None,
        tenant_id: str | None = None,
        *,
        managed_identity: bool = False,
        login_authority: str = DEFAULT_AUTHORITY,
        token_source: TokenSourceFactory = msal_token_source,
    ) -> None:
        """`login_authority`: Entra's login host (setting BOT_LOGIN_AUTHORITY); sovereign
        clouds have their own. botbuilder's `login_endpoint` is always the public cloud's."""
        self.app_id = app_id
        self._password = password
        self._tenant = tenant_id or DEFAULT_TENANT
        self._authority = login_authority.rstrip("/")
        self._token_source = token_source
        self._outage = _Outage()
        self._cache: dict[tuple[str, str], CachedAppCredentials] = {}
        self._msi = managed_identity_token_source(app_id) if managed_identity and app_id else None

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        if not self.app_id:
            return MicrosoftAppCredentials.empty()
        if app_id != self.app_id:
            raise PermissionError("credentials asked for another app id")
        key = (app_id, oauth_scope)
        credentials = self._cache.get(key)
        if credentials is None:
            authority = f"{self._authority}/{self._tenant}"
            scope = oauth_scope if oauth_scope.endswith("/.default") else f"{oauth_scope}/.default"
            fetch = (
                self._msi([scope])
                if self._msi is not None
                else self._token_source(app_id, authority, self._password, [scope])
            )
            credentials = CachedAppCredentials(
                app_id, self._tenant, oauth_scope, fetch, self._outage
            )
            self._cache[key] = credentials
        await credentials.ensure_fresh()
        return credentials
