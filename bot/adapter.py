"""The CloudAdapter, with connector calls retried when Teams throttles or a gateway fails,
and its connector clients reused.

Replies, updates and posts go to the Bot Connector without msrest: the activity is written
with `json` (msrest took 1.2 ms of CPU to serialize a 4 KB card, `json` 0.05 ms) and posted on
one pooled aiohttp session with the bot's cached token, instead of through `requests` in a
thread pool. Inbound activities are read the same way (`activity_from_json`). botbuilder still
routes the turn and gives TurnContext and TeamsInfo; its TurnContext deep-copies every
activity sent (a whole card), ours copies the activity alone (the card is never changed after).

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
from copy import copy
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote

import aiohttp
import botbuilder.schema as schema
from botbuilder.core import BotAdapter, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ConversationAccount,
    ConversationReference,
    DeliveryModes,
    ResourceResponse,
)
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from msrest.serialization import Model

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


class ConnectorError(Exception):
    """The Bot Connector refused a call: its HTTP status, Retry-After and error code."""

    def __init__(self, status: int, retry_after: str | None, code: str | None) -> None:
        super().__init__(f"the Bot Connector answered {status} ({code})")
        self.status = status
        self.retry_after = retry_after
        self.code = code


def _error_code(body: bytes) -> str | None:
    """The connector's `{"error": {"code": ...}}`."""
    try:
        found = json.loads(body or b"null")
    except ValueError:
        return None
    error = found.get("error") if isinstance(found, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


# -- activities as JSON, without msrest ------------------------------------------------------


def activity_json(activity: Activity) -> bytes:
    """The activity as the Bot Connector reads it (Teams' activity schema), by `json`."""
    return json.dumps(activity, default=_plain, ensure_ascii=False).encode()


def _plain(value: object) -> object:
    """One level of a Bot Framework model as a dict of its JSON names; `json` walks the rest
    (a card is a plain dict already). Properties the model does not name (a conversation's
    tenantId) are kept, as Teams sent them."""
    if isinstance(value, Model):
        found: dict[str, object] = {}
        for name, spec in value._attribute_map.items():
            item = getattr(value, name, None)
            if item is not None:
                found[spec["key"]] = item
        extra = getattr(value, "additional_properties", None)
        if isinstance(extra, dict):
            for key, item in extra.items():
                found.setdefault(key, item)
        return found
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise TypeError(f"{type(value).__name__} is not JSON")


_SCHEMA: dict[str, type[Model]] = {
    name: kind
    for name, kind in vars(schema).items()
    if isinstance(kind, type) and issubclass(kind, Model)
}


def activity_from_json(body: object) -> Activity:
    """The activity of an inbound request's parsed JSON, as botbuilder's types; ValueError
    when a field has the wrong shape (a conversation that is not an object, a list that is
    not a list). msrest's deserializer did this at a third of a `help` message's CPU."""
    found = _model(Activity, body)
    assert isinstance(found, Activity)
    return found


@cache
def _fields_of(name: str) -> dict[str, tuple[str, str]]:
    kind = _SCHEMA[name]
    return {spec["key"]: (attr, spec["type"]) for attr, spec in kind._attribute_map.items()}


def _fields(kind: type[Model]) -> dict[str, tuple[str, str]]:
    return _fields_of(kind.__name__)


def _model(kind: type[Model], data: object) -> Model:
    if not isinstance(data, dict):
        raise ValueError(f"{kind.__name__} is not an object")
    fields = _fields(kind)
    given: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            extra[key] = value
        elif value is not None:
            given[field[0]] = _value(field[1], value)
    found = kind(**given)
    if extra and hasattr(found, "additional_properties"):
        found.additional_properties = extra
    return found


def _value(kind: str, value: object) -> Any:
    if kind == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):  # bool too; msrest made text of them
            return str(value)
        raise ValueError("text expected")
    if kind in ("object", "bytearray"):
        return value
    if kind[0] == "[":
        if not isinstance(value, list):
            raise ValueError("list expected")
        return [None if item is None else _value(kind[1:-1], item) for item in value]
    if kind[0] == "{":
        if not isinstance(value, dict):
            raise ValueError("object expected")
        return {k: None if v is None else _value(kind[1:-1], v) for k, v in value.items()}
    if kind == "iso-8601":
        if not isinstance(value, str):
            raise ValueError("time expected")
        return datetime.fromisoformat(value)  # ValueError if not a time
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError("true or false expected")
    if kind in ("int", "float"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise ValueError("number expected")
    model = _SCHEMA.get(kind)
    if model is None:
        return value
    return _model(model, value)


class _TurnContext(TurnContext):  # type: ignore[misc]
    """botbuilder's TurnContext, but an activity sent is copied, not deep-copied: a deep copy
    of a card costs as much as writing it, and the bot never changes a card once made."""

    async def send_activities(self, activities: list[Activity]) -> list[ResourceResponse]:
        reference = TurnContext.get_conversation_reference(self.activity)
        output: list[Activity] = []
        sent_non_trace = False
        for original in activities:
            activity = TurnContext.apply_conversation_reference(copy(original), reference)
            activity.type = activity.type or ActivityTypes.message
            sent_non_trace = sent_non_trace or activity.type != ActivityTypes.trace
            activity.input_hint = activity.input_hint or "acceptingInput"
            activity.id = None
            output.append(activity)

        async def logic() -> list[ResourceResponse]:
            if self.activity.delivery_mode == DeliveryModes.expect_replies:
                for activity in output:
                    self.buffered_reply_activities.append(activity)
                    if activity.type == ActivityTypes.invoke_response:
                        self.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = activity
                responses = [ResourceResponse() for _ in output]
            else:
                responses = await self.adapter.send_activities(self, output)
            if sent_non_trace:
                self.responded = True
            return responses

        result: list[ResourceResponse] = await self._emit(self._on_send_activities, output, logic())
        return result


async def _bearer(context: TurnContext) -> str | None:
    """The bot's token for the connector call of this turn, from its cached credentials; None
    without an app id (local development)."""
    client = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    credentials = getattr(getattr(client, "config", None), "credentials", None)
    if isinstance(credentials, CachedAppCredentials):
        await credentials.ensure_fresh()
        return str(credentials.get_access_token())
    if isinstance(credentials, AppCredentials) and credentials.microsoft_app_id:
        return str(await asyncio.to_thread(credentials.get_access_token))
    return None


def _service_url(context: TurnContext, activity: Activity) -> str:
    client = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    base = getattr(getattr(client, "config", None), "base_url", None) or activity.service_url
    if not isinstance(base, str) or not base:
        raise ValueError("the activity names no service URL")
    return base.rstrip("/")


def _path(*parts: str) -> str:
    return "/".join(quote(part, safe="") for part in parts)


class RetryingCloudAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(
        self, *args: Any, retry: RetryPolicy | None = None, limiter: SendLimiter | None = None,
        timeout: float = 30.0, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.retry = retry or RetryPolicy(max_retries=4, base_delay=0.5, max_delay=8.0)
        self.limiter = limiter or SendLimiter()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop that serves the bot.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=True)
        return self._session

    async def aclose(self) -> None:
        """Close the connector session (at shutdown, after the last card was sent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _create_turn_context(
        self, activity: Activity, claims_identity: ClaimsIdentity, oauth_scope: str,
        connector_client: Any, user_token_client: UserTokenClient, logic: Any,
        connector_factory: ConnectorFactory,
    ) -> TurnContext:  # fmt: skip
        context = _TurnContext(self, activity)
        context.turn_state[self.BOT_IDENTITY_KEY] = claims_identity
        context.turn_state[self.BOT_CONNECTOR_CLIENT_KEY] = connector_client
        context.turn_state[self.USER_TOKEN_CLIENT_KEY] = user_token_client
        context.turn_state[self.BOT_CALLBACK_HANDLER_KEY] = logic
        context.turn_state[self.CONNECTOR_FACTORY_KEY] = connector_factory
        context.turn_state[self.BOT_OAUTH_SCOPE_KEY] = oauth_scope
        return context

    async def _call(
        self, context: TurnContext, method: str, path: str, activity: Activity
    ) -> tuple[int, dict[str, Any]]:
        """One call to the connector: its status and JSON answer, ConnectorError if refused."""
        url = f"{_service_url(context, activity)}/v3/conversations/{path}"
        headers = {"Content-Type": "application/json; charset=utf-8"}
        token = await _bearer(context)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self._http().request(
            method, url, data=activity_json(activity), headers=headers
        ) as response:
            body = await response.read()
            if not 200 <= response.status < 300:
                raise ConnectorError(
                    response.status, response.headers.get("Retry-After"), _error_code(body)
                )
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            answer = {}
        return response.status, answer if isinstance(answer, dict) else {}

    async def _with_retries(
        self, what: str, activity: Activity,
        call: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> dict[str, Any]:  # fmt: skip
        attempt = 0
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        answer: dict[str, Any] | None = None
        try:
            while True:
                conversation = activity.conversation
                await self.limiter.acquire(
                    conversation_tenant(conversation), channel_of(conversation and conversation.id)
                )
                try:
                    status, answer = await call()
                    return answer
                except ConnectorError as exc:
                    status = exc.status
                    if status not in RETRY_CONNECTOR_STATUSES or attempt >= self.retry.max_retries:
                        raise
                    attempt += 1
                    delay = parse_retry_after(exc.retry_after)
                    if delay is None:
                        delay = self.retry.backoff(attempt)
                    await asyncio.sleep(delay)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            _log_call(what, activity, answer, status, attempt, error, started)

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses: list[ResourceResponse] = []
        for activity in activities:
            if activity.type in _NOT_SENT:  # kept for the HTTP answer, or not sent at all
                responses.extend(await super().send_activities(context, [activity]))
                continue
            activity.id = None
            conversation = activity.conversation.id if activity.conversation else ""
            if activity.reply_to_id:
                path = _path(conversation, "activities", activity.reply_to_id)
            else:
                path = _path(conversation, "activities")
            # One at a time, so that a retry never posts an earlier activity twice.
            answer = await self._with_retries(
                "send", activity, self._poster(context, path, activity)
            )
            responses.append(ResourceResponse(id=answer.get("id") or ""))
        return responses

    def _poster(
        self, context: TurnContext, path: str, activity: Activity
    ) -> Callable[[], Awaitable[tuple[int, dict[str, Any]]]]:
        return lambda: self._call(context, "POST", path, activity)

    async def update_activity(self, context: TurnContext, activity: Activity) -> Any:
        conversation = activity.conversation.id if activity.conversation else ""
        path = _path(conversation, "activities", activity.id or "")
        answer = await self._with_retries(
            "update", activity, lambda: self._call(context, "PUT", path, activity)
        )
        found = answer.get("id")
        return ResourceResponse(id=found) if found else None

    async def post_card(self, reference: dict[str, Any], card: Card, app_id: str | None) -> None:
        """Post `card` as a new message in the conversation of a stored `reference` (the
        plain dict `bot.teams.reference_of` made); raises NotInConversation when Teams says
        the bot was removed from it, ConnectorError for any other refusal."""
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
        except ConnectorError as exc:
            if exc.status == 403 and exc.code == NOT_IN_ROSTER:
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


def _log_call(what: str, activity: Activity, answer: dict[str, Any] | None,
              status: int | None, retries: int, error: str | None,
              started: float) -> None:  # fmt: skip
    """One line per connector call; counts the reply on the current activity's record."""
    sent = answer.get("id") if answer else None
    sent_id = sent if isinstance(sent, str) else activity.id
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
