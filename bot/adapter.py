"""The CloudAdapter, with connector calls retried when Teams throttles or a gateway fails,
and its connector clients reused.

Teams limits how fast a bot may post (about 7 messages a second per conversation, and per
tenant); it answers 429 (or 412 for some concurrent updates), and gateways 502 or 504. Those
calls are repeated with exponential backoff and jitter, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ResourceResponse
from botframework.connector.auth import (
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from msrest.exceptions import HttpOperationError

from bot.credentials import CachedAppCredentials
from contextsms.retry import RetryPolicy, parse_retry_after

log = logging.getLogger("bot.adapter")

RETRY_CONNECTOR_STATUSES = frozenset({412, 429, 502, 504})


def _status_of(exc: HttpOperationError) -> tuple[int | None, str | None]:
    response: Any = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    headers = getattr(response, "headers", None) or {}
    return (int(status) if status else None), headers.get("Retry-After")


class RetryingCloudAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(self, *args: Any, retry: RetryPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry = retry or RetryPolicy(max_retries=4, base_delay=0.5, max_delay=8.0)

    async def _with_retries(self, what: str, call: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await call()
            except HttpOperationError as exc:
                status, retry_after = _status_of(exc)
                attempt += 1
                if status not in RETRY_CONNECTOR_STATUSES or attempt > self.retry.max_retries:
                    raise
                delay = parse_retry_after(retry_after)
                if delay is None:
                    delay = self.retry.backoff(attempt)
                log.warning(
                    "connector %s answered %s; retry %d in %.1fs", what, status, attempt, delay
                )
                await asyncio.sleep(delay)

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses: list[ResourceResponse] = []
        for activity in activities:
            # One at a time, so that a retry never posts an earlier activity twice.
            sent = await self._with_retries(
                "send",
                lambda a=activity: super(RetryingCloudAdapter, self).send_activities(context, [a]),
            )
            responses.extend(sent)
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> Any:
        return await self._with_retries(
            "update", lambda: super(RetryingCloudAdapter, self).update_activity(context, activity)
        )


class CachingBotFrameworkAuthentication(BotFrameworkAuthentication):  # type: ignore[misc]
    """Reuses connector and user-token clients instead of building them for every activity.

    botbuilder builds both per activity, and each builds an msrest configuration whose retry
    policy setup alone costs about 6 ms of CPU (measured with cProfile under `make bench`): a
    third of a message's work. A client is kept per app id, service URL and audience (a short
    list in Teams); its credentials are still made fresh, off the event loop, on every use.
    """

    def __init__(self, inner: BotFrameworkAuthentication, max_clients: int = 64) -> None:
        self._inner = inner
        self._max = max_clients
        self._connectors: OrderedDict[tuple[str | None, str, str | None], Any] = OrderedDict()
        self._token_clients: dict[str | None, UserTokenClient] = {}

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        app_id = _app_id(claims_identity)
        return _CachingConnectorFactory(
            self._inner.create_connector_factory(claims_identity), self, app_id
        )

    async def _connector(
        self, inner: ConnectorFactory, app_id: str | None, service_url: str, audience: str | None
    ) -> Any:
        key = (app_id, service_url, audience)
        client = self._connectors.get(key)
        if client is None:
            client = await inner.create(service_url, audience)
            self._connectors[key] = client
            while len(self._connectors) > self._max:
                self._connectors.popitem(last=False)
        else:
            self._connectors.move_to_end(key)
            credentials = client.config.credentials
            if isinstance(credentials, CachedAppCredentials):
                await credentials.ensure_fresh()
        return client

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = _app_id(claims_identity)
        client = self._token_clients.get(app_id)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._token_clients[app_id] = client
        return client

    async def authenticate_request(self, activity: Activity, auth_header: str) -> Any:
        return await self._inner.authenticate_request(activity, auth_header)

    async def authenticate_streaming_request(self, auth_header: str, channel_id: str) -> Any:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id)

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


class _CachingConnectorFactory(ConnectorFactory):  # type: ignore[misc]
    def __init__(
        self, inner: ConnectorFactory, owner: CachingBotFrameworkAuthentication, app_id: str | None
    ) -> None:
        self._inner = inner
        self._owner = owner
        self._app_id = app_id

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        return await self._owner._connector(self._inner, self._app_id, service_url, audience)


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    claims = claims_identity.claims or {}
    value = claims.get(AuthenticationConstants.AUDIENCE_CLAIM) or claims.get(
        AuthenticationConstants.APP_ID_CLAIM
    )
    return str(value) if value else None
