"""Outbound credentials: the bot's token for the Bot Connector, fetched once and reused.

botbuilder's stock factory builds new credentials, and so a new msal app and a new token, for
every activity, synchronously on the event loop. Here one credentials object per app id and
scope keeps its token until shortly before it expires, and renews it in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import msal
from botframework.connector.auth import (
    AppCredentials,
    ManagedIdentityServiceClientCredentialsFactory,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from pydantic import SecretStr

log = logging.getLogger("bot.credentials")

RENEW_BEFORE_SECONDS = 300
DEFAULT_TENANT = "botframework.com"

# Returns an msal-style answer: {"access_token", "expires_in"} or {"error", ...}.
TokenFetch = Callable[[], dict[str, Any]]
TokenSourceFactory = Callable[[str, str, SecretStr | None, list[str]], TokenFetch]


def msal_token_source(
    app_id: str,
    authority: str,
    password: SecretStr | None,
    scopes: list[str],
    *,
    instance_discovery: bool = True,
) -> TokenFetch:
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
            )
        answer: dict[str, Any] = app.acquire_token_for_client(scopes=scopes)
        return answer

    return fetch


class CachedAppCredentials(MicrosoftAppCredentials):  # type: ignore[misc]
    def __init__(self, app_id: str, tenant: str, scope: str, fetch: TokenFetch) -> None:
        super().__init__(app_id, "", channel_auth_tenant=tenant, oauth_scope=scope)
        self._fetch = fetch
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()
        self.fetches = 0

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
            self.fetches += 1
            answer = self._fetch()
            token = answer.get("access_token")
            if not isinstance(token, str):
                # The error code only: descriptions can echo request details.
                raise PermissionError(f"could not get a Bot Connector token: {answer.get('error')}")
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
        token_source: TokenSourceFactory = msal_token_source,
    ) -> None:
        self.app_id = app_id
        self._password = password
        self._tenant = tenant_id or DEFAULT_TENANT
        self._token_source = token_source
        self._cache: dict[tuple[str, str, str], CachedAppCredentials] = {}
        self._msi = (
            ManagedIdentityServiceClientCredentialsFactory(app_id)
            if managed_identity and app_id
            else None
        )

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
        if self._msi is not None:
            return await self._msi.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
        key = (app_id, oauth_scope, login_endpoint)
        credentials = self._cache.get(key)
        if credentials is None:
            authority = f"{login_endpoint.rstrip('/')}/{self._tenant}"
            scope = oauth_scope if oauth_scope.endswith("/.default") else f"{oauth_scope}/.default"
            fetch = self._token_source(app_id, authority, self._password, [scope])
            credentials = CachedAppCredentials(app_id, self._tenant, oauth_scope, fetch)
            self._cache[key] = credentials
        await credentials.ensure_fresh()
        return credentials
