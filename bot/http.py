"""The bot's HTTP routes: `POST /api/messages`, `GET /healthz`, `GET /readyz`.

A request to /api/messages goes through, in this order: the token (401 before its body is
read), the body (415, 400), the token against the activity (401), then the turn, logged as
one line (`bot.activity_log`). When the bot cannot get its own token for the Bot Connector it
cannot reply: a card action is answered with a card saying so, a message with a 503.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web
from botbuilder.schema import Activity
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from bot import activity_log
from bot.adapter import RetryingCloudAdapter, activity_from_json
from bot.auth_bridge import authenticated_request
from bot.credentials import OutboundTokenError
from bot.inbound_auth import AuthError, BotFrameworkAuth, KeysUnavailable, ValidToken
from bot.logs import event
from bot.settings import Settings
from bot.storage.base import Storage
from bot.teams import CARD_ACTION, TeamsBot, card_invoke_response, tenant_of
from bot.tenancy import Tenancy
from cards.elements import Card, card, heading, text
from contextsms import ContextSMSClient, ContextSMSError

log = logging.getLogger("bot.http")

MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Services:
    settings: Settings
    client: ContextSMSClient
    adapter: RetryingCloudAdapter
    teams_bot: TeamsBot
    auth: BotFrameworkAuth | None  # None in local development: requests are not checked
    http: httpx.AsyncClient
    storage: Storage
    tenancy: Tenancy


SERVICES = web.AppKey("services", Services)


class _Ref(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)


class InboundActivity(BaseModel):
    """What every activity must carry for the bot to answer it, checked before any work."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)
    type: str = Field(min_length=1)
    conversation: _Ref
    service_url: str = Field(min_length=1)
    id: str | None = None
    name: str | None = None
    channel_id: str | None = None


def make_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICES] = services
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)

    async def link_single_organization(_: web.Application) -> None:
        # A deployment for one organization names its tenant and enterprise in settings
        # (both or neither): linked at start, recorded in the audit trail when it changes.
        account = services.settings.contextsms
        if account.tenant_id and account.enterprise_id:
            await services.tenancy.link_from_settings(account.tenant_id, account.enterprise_id)

    async def close(_: web.Application) -> None:
        await services.teams_bot.aclose()  # cards still being finished get a few seconds
        await services.adapter.aclose()
        await services.client.aclose()
        await services.http.aclose()
        await services.storage.aclose()

    app.on_startup.append(link_single_organization)
    app.on_cleanup.append(close)
    return app


def _refused(reason: str, status: int = 401) -> web.Response:
    event(log, "refused", {"reason": reason, "status": status}, logging.WARNING)
    return web.json_response({"error": "unauthorized"}, status=status)


async def messages(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    token: ValidToken | None = None
    if services.auth is not None:
        try:
            token = await services.auth.validate(request.headers.get("Authorization"))
        except AuthError as exc:
            return _refused(str(exc))
        except KeysUnavailable:
            event(log, "refused", {"reason": "signing keys unavailable", "status": 503},
                  logging.WARNING)  # fmt: skip
            return web.json_response(
                {"error": "cannot check tokens right now"}, status=503, headers={"Retry-After": "5"}
            )
    if "application/json" not in request.headers.get("Content-Type", ""):
        return web.json_response({"error": "expected application/json"}, status=415)
    try:
        body = await request.json()
        envelope = InboundActivity.model_validate(body)
        activity = activity_from_json(body)
    except (ValueError, RecursionError, ValidationError):
        return web.json_response({"error": "not an activity"}, status=400)
    if token is not None:
        assert services.auth is not None
        try:
            services.auth.check_activity(token, envelope.service_url, envelope.channel_id)
        except AuthError as exc:
            return _refused(str(exc))
    tenant = tenant_of(activity)
    with activity_log.begin(
        envelope.type, activity_id=envelope.id, conversation_id=envelope.conversation.id,
        tenant_id=tenant, name=envelope.name,
    ) as record:  # fmt: skip
        response = await _turn(services, token, activity, record)
        record.status = response.status
        return response


async def _turn(
    services: Services, token: ValidToken | None, activity: Activity,
    record: activity_log.ActivityRecord,
) -> web.Response:  # fmt: skip
    adapter = services.adapter
    try:
        invoke = await adapter.process_activity(
            authenticated_request(token, adapter.bot_framework_authentication),
            activity,
            services.teams_bot.on_turn,
        )
    except OutboundTokenError:
        # Logged once per outage where it happened; nothing can be posted until it ends.
        record.outcome = "no-connector-token"
        if activity.type == "invoke" and activity.name == CARD_ACTION:
            return _invoke_answer(card_invoke_response(unavailable_card()))
        return web.json_response(
            {"error": "the bot cannot reply right now"}, status=503, headers={"Retry-After": "30"}
        )
    except Exception:
        log.exception("an activity failed outside its turn")
        record.outcome = "failed"
        return web.json_response({"error": "internal error"}, status=500)
    if invoke is None:
        return web.Response(status=201)
    return _invoke_answer(invoke)


def _invoke_answer(invoke: Any) -> web.Response:
    payload: Any = invoke.body.serialize() if hasattr(invoke.body, "serialize") else invoke.body
    return web.json_response(payload, status=invoke.status)


def unavailable_card() -> Card:
    """The bot cannot get its token for the Bot Connector: it says so, and claims nothing
    about what was or was not done."""
    return card([
        heading("I can't answer right now", "attention"),
        text("I can't reach the Microsoft service that carries my replies. Try again in a few "
             "minutes."),
    ])  # fmt: skip


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        await services.client.ensure_logged_in(deadline=3)
    except ContextSMSError as exc:
        return web.json_response(
            {"status": "not ready", "reason": f"ContextSMS: {type(exc).__name__}"}, status=503
        )
    return web.json_response({"status": "ready"})
