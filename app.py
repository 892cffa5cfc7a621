"""The bot's HTTP app: `python app.py` serves it on HOST:PORT (127.0.0.1:3978).

`create_app` receives the settings and, optionally, the clients, so that tests build the whole
app with local stand-ins.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import httpx
from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ServiceClientCredentialsFactory,
)

from bot.actions import ActionSigner
from bot.adapter import CachingBotFrameworkAuthentication, RetryingCloudAdapter
from bot.credentials import CachedCredentialsFactory
from bot.handlers import BotOptions, MappingBot
from bot.inbound_auth import AuthError, BotFrameworkAuth
from bot.mappings import MappingService
from bot.settings import AppType, Settings, load_settings
from bot.teams import TeamsBot
from contextsms import ContextSMSClient, ContextSMSError

log = logging.getLogger("bot.app")


@dataclass
class Services:
    settings: Settings
    client: ContextSMSClient
    adapter: RetryingCloudAdapter
    teams_bot: TeamsBot
    auth: BotFrameworkAuth | None
    http: httpx.AsyncClient


SERVICES = web.AppKey("services", Services)


def create_app(
    settings: Settings,
    *,
    client: ContextSMSClient | None = None,
    credentials_factory: ServiceClientCredentialsFactory | None = None,
    http: httpx.AsyncClient | None = None,
) -> web.Application:
    base_url, auth_url = settings.api_urls()
    client = client or ContextSMSClient(
        base_url=base_url,
        auth_base_url=auth_url,
        username=settings.username,
        password=settings.password,
        csp_id=settings.csp_id,
        options=settings.client_options(),
    )
    http = http or httpx.AsyncClient(timeout=10)
    credentials_factory = credentials_factory or CachedCredentialsFactory(
        None if settings.local_dev else settings.app_id,
        settings.app_password,
        settings.app_tenant_id if settings.app_type is AppType.SINGLE_TENANT else None,
        managed_identity=settings.app_type is AppType.USER_ASSIGNED_MSI,
    )
    configuration = SimpleNamespace(
        APP_ID=settings.app_id, APP_TYPE=str(settings.app_type), APP_TENANTID=settings.app_tenant_id
    )
    framework_auth = CachingBotFrameworkAuthentication(
        ConfigurationBotFrameworkAuthentication(
            configuration, credentials_factory=credentials_factory
        )
    )
    adapter = RetryingCloudAdapter(framework_auth)
    adapter.on_turn_error = _on_turn_error
    mapping_bot = MappingBot(
        MappingService(client),
        ActionSigner(settings.signing_key()),
        BotOptions(
            enterprise_id=settings.enterprise_id,
            default_region=settings.default_region.upper(),
            product=settings.product_name,
        ),
    )
    auth = None
    if not settings.local_dev:
        assert settings.app_id is not None
        auth = BotFrameworkAuth(
            app_id=settings.app_id,
            metadata_url=str(settings.openid_metadata_url),
            issuer=settings.token_issuer,
            http=http,
        )
    teams_bot = TeamsBot(
        mapping_bot,
        action_budget=settings.action_budget_seconds,
        message_budget=settings.message_budget_seconds,
    )
    services = Services(settings, client, adapter, teams_bot, auth, http)

    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES] = services
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)

    async def close(_: web.Application) -> None:
        await teams_bot.aclose()  # cards still being finished get a few seconds
        await client.aclose()
        await http.aclose()

    app.on_cleanup.append(close)
    return app


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    # The trace goes to the log; the user gets one short sentence.
    log.error("unhandled error in a turn", exc_info=error)
    await context.send_activity("Sorry, something went wrong. Nothing was changed.")


async def messages(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if "application/json" not in request.headers.get("Content-Type", ""):
        return web.json_response({"error": "expected application/json"}, status=415)
    try:
        body = await request.json()
        activity = Activity().deserialize(body)
    except Exception:
        return web.json_response({"error": "not an activity"}, status=400)
    if not isinstance(body, dict) or not activity.type:
        return web.json_response({"error": "not an activity"}, status=400)
    try:
        authenticated = await _authenticate(services, request, activity)
    except AuthError as exc:
        log.warning("refused a request to /api/messages: %s", exc)
        return web.json_response({"error": "unauthorized"}, status=401)
    invoke = await services.adapter.process_activity(
        authenticated, activity, services.teams_bot.on_turn
    )
    if invoke is None:
        return web.Response(status=201)
    payload: Any = invoke.body.serialize() if hasattr(invoke.body, "serialize") else invoke.body
    return web.json_response(payload, status=invoke.status)


async def _authenticate(
    services: Services, request: web.Request, activity: Activity
) -> AuthenticateRequestResult:
    if services.auth is None:
        claims = ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)
    else:
        found = await services.auth.authenticate(
            request.headers.get("Authorization"), activity.service_url, activity.channel_id
        )
        claims = ClaimsIdentity(found, True)
    result = AuthenticateRequestResult()
    result.claims_identity = claims
    result.audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    result.caller_id = None
    result.connector_factory = (
        services.adapter.bot_framework_authentication.create_connector_factory(claims)
    )
    return result


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


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs whole URLs at INFO; our client logs each call already, without query strings.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings()
    if settings.local_dev:
        log.warning(
            "LOCAL DEVELOPMENT MODE: requests to /api/messages are NOT authenticated. "
            "Never run this way where anything but a local emulator can reach the bot."
        )
    if not settings.enterprise_id:
        log.warning("CONTEXTSMS_ENTERPRISE_ID is not set: commands will say the bot is not set up")
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
