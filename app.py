"""The composition root: `python app.py` builds the bot's services from the settings and
serves them on HOST:PORT (127.0.0.1:3978).

`create_app` receives the settings and, optionally, the clients, so that tests build the whole
app with local stand-ins. The routes are in bot/http.py, the glue in bot/.
"""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import httpx
from aiohttp import web
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import ServiceClientCredentialsFactory

from bot.actions import ActionSigner
from bot.adapter import CachingBotFrameworkAuthentication, RetryingCloudAdapter
from bot.credentials import CachedCredentialsFactory
from bot.handlers import BotOptions, MappingBot
from bot.http import SERVICES, Services, make_app
from bot.inbound_auth import BotFrameworkAuth
from bot.logs import configure
from bot.mappings import MappingService
from bot.settings import AppType, Settings, load_settings
from bot.teams import TeamsBot, on_turn_error
from contextsms import ContextSMSClient

__all__ = ["SERVICES", "build_services", "create_app", "main"]

log = logging.getLogger("bot.app")


def build_services(
    settings: Settings,
    *,
    client: ContextSMSClient | None = None,
    credentials_factory: ServiceClientCredentialsFactory | None = None,
    http: httpx.AsyncClient | None = None,
    inbound_auth: BotFrameworkAuth | None = None,
) -> Services:
    account, bot = settings.contextsms, settings.bot
    base_url, auth_url = account.api_urls()
    client = client or ContextSMSClient(
        base_url=base_url,
        auth_base_url=auth_url,
        username=account.username,
        password=account.password,
        csp_id=account.csp_id,
        options=account.client_options(),
    )
    http = http or httpx.AsyncClient(timeout=10)
    credentials_factory = credentials_factory or CachedCredentialsFactory(
        bot.authenticated_app_id,
        bot.MicrosoftAppPassword,
        bot.MicrosoftAppTenantId if bot.MicrosoftAppType is AppType.SINGLE_TENANT else None,
        managed_identity=bot.MicrosoftAppType is AppType.USER_ASSIGNED_MSI,
        login_authority=str(bot.bot_login_authority),
    )
    configuration = SimpleNamespace(
        APP_ID=bot.MicrosoftAppId,
        APP_TYPE=str(bot.MicrosoftAppType),
        APP_TENANTID=bot.MicrosoftAppTenantId,
    )
    adapter = RetryingCloudAdapter(
        CachingBotFrameworkAuthentication(
            ConfigurationBotFrameworkAuthentication(
                configuration, credentials_factory=credentials_factory
            )
        )
    )
    adapter.on_turn_error = on_turn_error
    mapping_bot = MappingBot(
        MappingService(client),
        ActionSigner(settings.signing_key()),
        BotOptions(
            enterprise_id=account.enterprise_id,
            default_region=bot.bot_default_region.upper(),
            product=bot.bot_product_name,
        ),
    )
    app_id = bot.authenticated_app_id
    if inbound_auth is None and app_id is not None:
        inbound_auth = BotFrameworkAuth(
            app_id=app_id,
            metadata_url=str(bot.to_bot_from_channel_openid_metadata_url),
            issuer=bot.to_bot_from_channel_token_issuer,
            http=http,
        )
    teams_bot = TeamsBot(
        mapping_bot,
        action_budget=bot.bot_action_budget_seconds,
        message_budget=bot.bot_message_budget_seconds,
    )
    return Services(settings, client, adapter, teams_bot, inbound_auth, http)


def create_app(
    settings: Settings,
    *,
    client: ContextSMSClient | None = None,
    credentials_factory: ServiceClientCredentialsFactory | None = None,
    http: httpx.AsyncClient | None = None,
    inbound_auth: BotFrameworkAuth | None = None,
) -> web.Application:
    return make_app(
        build_services(
            settings, client=client, credentials_factory=credentials_factory, http=http,
            inbound_auth=inbound_auth,
        )
    )  # fmt: skip


def main() -> None:
    settings = load_settings()
    configure(settings.bot.bot_log_format)
    if settings.bot.bot_local_dev:
        log.warning(
            "LOCAL DEVELOPMENT MODE: requests to /api/messages are NOT authenticated. "
            "Never run this way where anything but a local emulator can reach the bot."
        )
    if not settings.contextsms.enterprise_id:
        log.warning("CONTEXTSMS_ENTERPRISE_ID is not set: commands will say the bot is not set up")
    web.run_app(
        create_app(settings),
        host=settings.bot.host,
        port=settings.bot.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
