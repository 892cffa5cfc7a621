"""The composition root: `python app.py` builds the bot's services from the settings and
serves them on HOST:PORT (127.0.0.1:3978).

`create_app` receives the settings and, optionally, the clients, the storage and the source
of Graph tokens, so that tests build the whole app with local stand-ins. The routes are in
bot/http.py, the glue in bot/.

Two kinds of Entra tokens: the bot's own for the Bot Connector always comes from its home
tenant (`MicrosoftAppTenantId`, bot/credentials.py); its Graph tokens, which say who owns a
team, come from each customer's own tenant (the consent its team gave on install).
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
from bot.audit import Audit
from bot.branding import Brand, Branding
from bot.bulk import BulkMapper
from bot.credentials import CachedCredentialsFactory
from bot.enterprise_info import EnterpriseInfo
from bot.graph import GraphClient, GraphUnavailable, MsalTenantTokens, TenantTokens
from bot.handlers import MappingBot
from bot.http import SERVICES, Services, make_app
from bot.inbound_auth import BotFrameworkAuth
from bot.logs import configure
from bot.mappings import MappingService
from bot.operations import Operations
from bot.payment import PaymentGate
from bot.permissions import Permissions
from bot.proactive import ProactiveNotices
from bot.settings import AppType, BotSettings, Settings, load_settings
from bot.storage.base import Storage
from bot.storage.factory import open_storage
from bot.teams import TeamsBot, on_turn_error
from bot.tenancy import tenancy_from_settings
from bot.throttle import SendLimiter
from bot.turn import BotOptions
from contextsms import ContextSMSClient
from contextsms.settings_errors import SettingsError

__all__ = ["SERVICES", "build_services", "create_app", "main"]

log = logging.getLogger("bot.app")


class NoGraphTokens:
    """The Graph tokens of a bot without an app id (local development without
    `MicrosoftAppId`): none, so ownership cannot be told and every change is refused."""

    async def token(self, tenant_id: str) -> str:
        raise GraphUnavailable("no Graph token: the bot has no app id (MicrosoftAppId)")


def graph_tokens_for(bot: BotSettings) -> TenantTokens:
    """App-only Graph tokens for each customer tenant, with the bot's app registration's
    client credentials, from `BOT_LOGIN_AUTHORITY`/<tenant>. A CA to trust (a local
    stand-in's) comes the way requests takes it: REQUESTS_CA_BUNDLE."""
    if not bot.MicrosoftAppId:
        return NoGraphTokens()
    return MsalTenantTokens(
        bot.MicrosoftAppId, bot.MicrosoftAppPassword, str(bot.bot_login_authority)
    )


def build_services(
    settings: Settings,
    storage: Storage,
    *,
    client: ContextSMSClient | None = None,
    credentials_factory: ServiceClientCredentialsFactory | None = None,
    http: httpx.AsyncClient | None = None,
    inbound_auth: BotFrameworkAuth | None = None,
    graph_tokens: TenantTokens | None = None,
) -> Services:
    bot = settings.bot
    client = client or settings.contextsms.client()
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
        ),
        limiter=SendLimiter(),
    )
    adapter.on_turn_error = on_turn_error
    audit = Audit(storage)
    tenancy = tenancy_from_settings(settings, storage, audit)
    graph = GraphClient(
        base_url=str(bot.bot_graph_url), tokens=graph_tokens or graph_tokens_for(bot), http=http
    )
    permissions = Permissions(
        graph, storage, bot.operators(), cache_seconds=bot.bot_role_cache_seconds
    )
    region = bot.bot_default_region.upper()
    info = EnterpriseInfo(client, ttl=bot.bot_brand_cache_seconds)
    branding = Branding(
        client, info, Brand(product=bot.bot_product_name), ttl=bot.bot_brand_cache_seconds
    )
    payments = PaymentGate(
        client, info, enabled=bot.bot_payment_check, on_failure=bot.bot_payment_check_failure,
        ttl=bot.bot_payment_cache_seconds,
    )  # fmt: skip
    notices = ProactiveNotices(adapter, storage, tenancy, bot.authenticated_app_id)
    service = MappingService(client)
    mapping_bot = MappingBot(
        service,
        ActionSigner(settings.signing_key()),
        BotOptions(default_region=region, product=bot.bot_product_name),
        tenancy=tenancy,
        permissions=permissions,
        audit=audit,
        operations=Operations(client, tenancy, audit, region=region),
        branding=branding,
        payments=payments,
        notices=notices,
        bulk=BulkMapper(
            service,
            client,
            storage,
            payments,
            audit,
            notices,
            branding,
            concurrency=bot.bot_bulk_concurrency,
            max_rows=bot.bot_bulk_max_rows,
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
        storage,
        action_budget=bot.bot_action_budget_seconds,
        message_budget=bot.bot_message_budget_seconds,
    )
    return Services(settings, client, adapter, teams_bot, inbound_auth, http, storage, tenancy)


async def create_app(
    settings: Settings,
    *,
    client: ContextSMSClient | None = None,
    credentials_factory: ServiceClientCredentialsFactory | None = None,
    http: httpx.AsyncClient | None = None,
    inbound_auth: BotFrameworkAuth | None = None,
    storage: Storage | None = None,
    graph_tokens: TenantTokens | None = None,
) -> web.Application:
    """The whole app. The storage is opened here when not given (SQLite or Azure Table, from
    the settings); the app closes it, and every client, on cleanup."""
    storage = storage or await open_storage(settings.bot)
    return make_app(
        build_services(
            settings, storage, client=client, credentials_factory=credentials_factory,
            http=http, inbound_auth=inbound_auth, graph_tokens=graph_tokens,
        )
    )  # fmt: skip


def main() -> None:
    """Settings or storage that cannot be used stop the start with one message naming the
    setting (never its value), not a trace."""
    try:
        serve()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)


def serve() -> None:
    settings = load_settings()
    configure(settings.bot.bot_log_format)
    if settings.bot.bot_local_dev:
        log.warning(
            "LOCAL DEVELOPMENT MODE: requests to /api/messages are NOT authenticated. "
            "Never run this way where anything but a local emulator can reach the bot."
        )
    if not settings.contextsms.tenant_id:
        log.info(
            "no single organization in settings (CONTEXTSMS_TENANT_ID): tenants are linked by "
            "operators' setup codes"
        )
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
