"""The CloudAdapter, with connector calls retried when Teams throttles or a gateway fails,
and its connector clients reused.

Teams limits how fast a bot may post (7 messages a second and 60 in 30 s per conversation,
and per tenant): every attempt of every send and update first waits for the `SendLimiter`.
Teams still answers 429 at times (or 412 for some concurrent updates), and gateways 502 or 504.
Those calls are repeated with exponential backoff and jitter, honouring Retry-After. Each call
is logged once, when it ends: what it was, its HTTP status, how many retries it took.

`post_card` posts a card as a new message where no activity asked (a notice), through the
same limiter and retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    Attachment,
    ConversationAccount,
    ConversationReference,
    ResourceResponse,
)
from botframework.connector.auth import (
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from msrest.exceptions import HttpOperationError

from bot import activity_log
from bot.credentials import CachedAppCredentials
from bot.logs import event
from bot.throttle import SendLimiter
from cards.elements import Card
from contextsms.retry import RetryPolicy, parse_retry_after

log = logging.getLogger("bot.adapter")

RETRY_CONNECTOR_STATUSES = frozenset({412, 429, 502, 504})
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
NOT_IN_ROSTER = "BotNotInConversationRoster"  # Teams' code when the bot was removed


class NotInConversation(Exception):
    """Teams refuses the post: the bot is no longer in that conversation (it was removed)."""


def card_activity(card: Card) -> Activity:
    return MessageFactory.attachment(Attachment(content_type=CARD_CONTENT_TYPE, content=card))


def conversation_tenant(conversation: ConversationAccount | None) -> str | None:
    """The raw `conversation.tenantId`: botbuilder has no field of that name (its `tenant_id`
    is read from "tenantID"), so the value sits among the conversation's additional
    properties."""
    if conversation is None:
        return None
    extra = getattr(conversation, "additional_properties", None)
    raw = conversation.tenant_id or (extra.get("tenantId") if isinstance(extra, dict) else None)
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def channel_of(conversation_id: str | None) -> str | None:
    """A channel message's conversation is its thread ("<channel>;messageid=<id>"); the
    channel is where the bot posts later, and what Teams' limits count."""
    return conversation_id.split(";messageid=", 1)[0] if conversation_id else None


def _error_code(exc: HttpOperationError) -> str | None:
    """The connector's `{"error": {"code": ...}}`, as msrest deserialized it or as sent."""
    error = getattr(getattr(exc, "error", None), "error", None)
    code = getattr(error, "code", None)
    if isinstance(code, str):
        return code
    response: Any = getattr(exc, "response", None)
    text = getattr(response, "text", None)
    try:
        body = json.loads(text() if callable(text) else text or "")
    except (TypeError, ValueError):
        return None
    found = body.get("error", {}).get("code") if isinstance(body, dict) else None
    return found if isinstance(found, str) else None


def _status_of(exc: HttpOperationError) -> tuple[int | None, str | None]:
    response: Any = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    headers = getattr(response, "headers", None) or {}
    return (int(status) if status else None), headers.get("Retry-After")


class RetryingCloudAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(
        self, *args: Any, retry: RetryPolicy | None = None, limiter: SendLimiter | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.retry = retry or RetryPolicy(max_retries=4, base_delay=0.5, max_delay=8.0)
        self.limiter = limiter or SendLimiter()

    async def _with_retries(self, what: str, activity: Activity, call: Any) -> Any:
        attempt = 0
        started = time.perf_counter()
        status: int | str | None = None
        error: str | None = None
        result: Any = None
        try:
            while True:
                conversation = activity.conversation
                await self.limiter.acquire(
                    conversation_tenant(conversation), channel_of(conversation and conversation.id)
                )
                try:
                    result = await call()
                    status = "2xx"  # the connector client keeps the exact one to itself
                    return result
                except HttpOperationError as exc:
                    status, retry_after = _status_of(exc)
                    if status not in RETRY_CONNECTOR_STATUSES or attempt >= self.retry.max_retries:
                        raise
                    attempt += 1
                    delay = parse_retry_after(retry_after)
                    if delay is None:
                        delay = self.retry.backoff(attempt)
                    await asyncio.sleep(delay)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            _log_call(what, activity, result, status, attempt, error, started)

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses: list[ResourceResponse] = []
        for activity in activities:
            if activity.type in _NOT_SENT:  # kept for the HTTP answer, or not sent at all
                responses.extend(await super().send_activities(context, [activity]))
                continue
            # One at a time, so that a retry never posts an earlier activity twice.
            sent = await self._with_retries(
                "send", activity,
                lambda a=activity: super(RetryingCloudAdapter, self).send_activities(context, [a]),
            )  # fmt: skip
            responses.extend(sent)
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> Any:
        return await self._with_retries(
            "update", activity,
            lambda: super(RetryingCloudAdapter, self).update_activity(context, activity),
        )  # fmt: skip

    async def post_card(self, reference: dict[str, Any], card: Card, app_id: str | None) -> None:
        """Post `card` as a new message in the conversation of a stored `reference` (the
        plain dict `bot.teams.reference_of` made); raises NotInConversation when Teams says
        the bot was removed from it, the connector's error for any other refusal."""
        where = ConversationReference().deserialize(reference)
        where.activity_id = None  # a new message, not a reply to the one it was kept from

        tenant = conversation_tenant(where.conversation)

        async def post(context: TurnContext) -> None:
            activity = TurnContext.apply_conversation_reference(card_activity(card), where)
            activity.reply_to_id = None
            if tenant:  # Teams wants the tenant of a message no activity asked for
                activity.channel_data = {"tenant": {"id": tenant}}
            await self.send_activities(context, [activity])

        try:
            await self.continue_raising(where, post, app_id=app_id)
        except HttpOperationError as exc:
            if _status_of(exc)[0] == 403 and _error_code(exc) == NOT_IN_ROSTER:
                raise NotInConversation from exc
            raise

    async def continue_raising(
        self, reference: ConversationReference, work: Callable[[TurnContext], Awaitable[None]],
        *, app_id: str | None = None, claims: ClaimsIdentity | None = None,
        audience: str | None = None,
    ) -> None:  # fmt: skip
        """Run `work` in the conversation of `reference`, as the bot (`claims` of the turn
        that asked, else the bot's `app_id`), and raise what it raises. The adapter's pipeline
        would hand it to on_turn_error, which tells the conversation that something went
        wrong: no one there asked for this."""
        failed: list[Exception] = []

        async def run(context: TurnContext) -> None:
            try:
                await work(context)
            except Exception as exc:
                failed.append(exc)

        if claims is not None:
            await self.continue_conversation_with_claims(claims, reference, audience, run)
        else:
            await self.continue_conversation(reference, run, bot_app_id=app_id)
        if failed:
            raise failed[0]


_NOT_SENT = frozenset({"invokeResponse", "delay", "trace"})


def _log_call(what: str, activity: Activity, result: Any, status: int | str | None,
              retries: int, error: str | None, started: float) -> None:  # fmt: skip
    """One line per connector call; counts the reply on the current activity's record."""
    if isinstance(result, list):
        sent_id = result[0].id if result and isinstance(result[0], ResourceResponse) else None
    else:
        sent_id = activity.id
    record = activity_log.current()
    if record is not None and error is None:
        record.replies += 1
    conversation = activity.conversation.id if activity.conversation else None
    event(log, "connector", {
        "call": what, "status": status, "retries": retries, "error": error,
        "activity": sent_id, "in_reply_to": record.activity_id if record else None,
        "conversation": activity_log.short_hash(conversation),
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }, logging.INFO if error is None else logging.WARNING)  # fmt: skip


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
