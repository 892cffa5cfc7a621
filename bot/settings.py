"""The deployment's settings, from environment variables and an optional `.env` file.

Two classes, composed: the ContextSMS account (`CONTEXTSMS_*`) and the bot. Each field is
read from the variable of its own name (pydantic-settings matches names case-insensitively),
so the bot's fields carry the names Azure Bot Service documents (`MicrosoftAppId`, ...).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contextsms.client import PRODUCTION_BASE_URL, ClientOptions, ContextSMSClient
from contextsms.retry import RetryPolicy
from contextsms.settings_errors import SettingsError, settings_error

log = logging.getLogger("bot.settings")

BOT_FRAMEWORK_OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
ENTRA_LOGIN_AUTHORITY = "https://login.microsoftonline.com"


class AppType(StrEnum):
    MULTI_TENANT = "MultiTenant"
    SINGLE_TENANT = "SingleTenant"
    USER_ASSIGNED_MSI = "UserAssignedMSI"


# Entra tenant and object ids, as Teams sends them.
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class PaymentCheckFailure(StrEnum):
    ALLOW = "allow"
    REFUSE = "refuse"


class StorageKind(StrEnum):
    SQLITE = "sqlite"
    AZURE_TABLE = "azure_table"


class LogFormat(StrEnum):
    PLAIN = "plain"  # one readable line per record
    JSON = "json"  # one JSON object per line, for log collectors


_SOURCES = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
)


class ContextSMSSettings(BaseSettings):
    """The ContextSMS account the bot acts with, and how its client calls the API."""

    model_config = SettingsConfigDict(**_SOURCES, env_prefix="CONTEXTSMS_")

    base_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(PRODUCTION_BASE_URL),
        description="ContextSMS API base URL, ending in /api/v2.",
    )
    auth_base_url: AnyHttpUrl | None = Field(
        default=None,
        description="Base URL for /auth/login and /auth/getaccesstoken; defaults to base_url.",
    )
    username: str = Field(min_length=1, description="ContextSMS account (a CSP_BUSINESS user).")
    password: SecretStr = Field(description="Password of that account.")
    csp_id: str = Field(min_length=1, description="The CSP the account belongs to.")
    # A deployment for a single organization names its tenant and enterprise together: that
    # link is made at start. No other setting links a tenant (operators' setup codes do).
    enterprise_id: str | None = Field(
        default=None, description="The enterprise of the single organization this serves."
    )
    tenant_id: str | None = Field(
        default=None, description="The Entra tenant of that organization."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_base_seconds: float = Field(default=0.2, gt=0, le=10)
    backoff_max_seconds: float = Field(default=5.0, gt=0, le=120)
    token_renew_margin_seconds: float = Field(default=60.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _single_organization(self) -> ContextSMSSettings:
        if self.tenant_id and not _GUID.match(self.tenant_id.strip()):
            raise ValueError("CONTEXTSMS_TENANT_ID is not an Entra tenant id (a GUID)")
        if bool(self.enterprise_id) != bool(self.tenant_id):
            raise ValueError(
                "CONTEXTSMS_ENTERPRISE_ID and CONTEXTSMS_TENANT_ID go together: set both to "
                "link one organization at start, or neither (operators link them with setup "
                "codes)"
            )
        return self

    def client_options(self) -> ClientOptions:
        return ClientOptions(
            timeout=self.timeout_seconds,
            connect_timeout=self.connect_timeout_seconds,
            retry=RetryPolicy(
                max_retries=self.max_retries,
                base_delay=self.backoff_base_seconds,
                max_delay=self.backoff_max_seconds,
            ),
            renew_margin=self.token_renew_margin_seconds,
        )

    def client(self) -> ContextSMSClient:
        """The API client these settings describe (one per process: it pools connections)."""
        base_url, auth_url = self.api_urls()
        return ContextSMSClient(
            base_url=base_url,
            auth_base_url=auth_url,
            username=self.username,
            password=self.password,
            csp_id=self.csp_id,
            options=self.client_options(),
        )

    def api_urls(self) -> tuple[str, str]:
        base = str(self.base_url).rstrip("/")
        auth = str(self.auth_base_url).rstrip("/") if self.auth_base_url else base
        return base, auth


class BotSettings(BaseSettings):
    """The bot: its Azure Bot identity (Azure's variable names), where inbound tokens come
    from, where it listens, and how it talks."""

    model_config = SettingsConfigDict(**_SOURCES)

    MicrosoftAppId: str | None = None
    MicrosoftAppPassword: SecretStr | None = None
    MicrosoftAppType: AppType = AppType.MULTI_TENANT
    MicrosoftAppTenantId: str | None = None
    to_bot_from_channel_openid_metadata_url: AnyHttpUrl = AnyHttpUrl(BOT_FRAMEWORK_OPENID_METADATA)
    to_bot_from_channel_token_issuer: str = BOT_FRAMEWORK_ISSUER
    # Sovereign clouds (US Government, China) log in elsewhere.
    bot_login_authority: AnyHttpUrl = AnyHttpUrl(ENTRA_LOGIN_AUTHORITY)
    bot_local_dev: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=3978, ge=1, le=65535)
    bot_default_region: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")
    bot_product_name: str = Field(default="ContextSMS", min_length=1)
    bot_card_signing_key: SecretStr | None = None
    # Teams waits 5 s for a card action and 15 s for a message: answer within these, with a
    # "working on it" card when ContextSMS is slower, and update it when the work is done.
    bot_action_budget_seconds: float = Field(default=4.0, gt=0, le=4.5)
    bot_message_budget_seconds: float = Field(default=12.0, gt=0, le=14)
    bot_log_format: LogFormat = LogFormat.PLAIN

    # -- many organizations ---------------------------------------------------------------
    # The reseller's operators: "tenantId:objectId" pairs, comma-separated (the trusted tenant
    # and from.aadObjectId of an activity).
    bot_operators: str = ""
    bot_setup_code_ttl_hours: float = Field(default=72.0, gt=0, le=24 * 30)
    # Where team ownership is read (Microsoft Graph; national clouds have their own).
    bot_graph_url: AnyHttpUrl = AnyHttpUrl("https://graph.microsoft.com")
    bot_role_cache_seconds: float = Field(default=300.0, ge=0, le=3600)
    # A linked enterprise's CSP brand (name, logo, colour), read again after this long.
    bot_brand_cache_seconds: float = Field(default=600.0, ge=0, le=86400)
    # Maps and moves need the enterprise's subscription to be active (the platform bills it
    # too): checked before each, its answer kept this long; when the check itself fails,
    # `allow` lets the change through (logged) and `refuse` refuses it.
    bot_payment_check: bool = True
    bot_payment_check_failure: PaymentCheckFailure = PaymentCheckFailure.ALLOW
    bot_payment_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Bulk mapping: at most this many numbers in one list, this many API changes at a time.
    bot_bulk_max_rows: int = Field(default=500, ge=1, le=5000)
    bot_bulk_concurrency: int = Field(default=4, ge=1, le=16)
    # Storage of links, setup codes, audit trail, conversation references: SQLite (one file,
    # the default) or Azure Table storage (several instances), by connection string or by
    # account URL with the app's managed identity.
    bot_storage: StorageKind = StorageKind.SQLITE
    bot_storage_path: str = "var/bot.db"
    bot_table_connection_string: SecretStr | None = None
    bot_table_account_url: AnyHttpUrl | None = None
    bot_table_prefix: str = Field(default="contextsms", pattern=r"^[A-Za-z][A-Za-z0-9]{0,20}$")

    @model_validator(mode="after")
    def _credentials(self) -> BotSettings:
        if self.bot_local_dev:
            return self
        if not self.MicrosoftAppId:
            raise ValueError(
                "MicrosoftAppId is missing (set it, or BOT_LOCAL_DEV=true for a local run "
                "without Bot Framework authentication)"
            )
        if self.MicrosoftAppType is not AppType.USER_ASSIGNED_MSI and not self.MicrosoftAppPassword:
            raise ValueError("MicrosoftAppPassword is missing")
        if self.MicrosoftAppType is not AppType.MULTI_TENANT and not self.MicrosoftAppTenantId:
            raise ValueError(
                f"MicrosoftAppTenantId is missing (needed for {self.MicrosoftAppType})"
            )
        return self

    @property
    def authenticated_app_id(self) -> str | None:
        """The app id inbound tokens must name and outbound tokens are fetched for; None in
        local development, where neither happens."""
        return None if self.bot_local_dev else self.MicrosoftAppId

    @model_validator(mode="after")
    def _storage(self) -> BotSettings:
        if self.bot_storage is StorageKind.AZURE_TABLE and not (
            self.bot_table_connection_string or self.bot_table_account_url
        ):
            raise ValueError(
                "BOT_STORAGE=azure_table needs BOT_TABLE_CONNECTION_STRING or "
                "BOT_TABLE_ACCOUNT_URL (with the app's managed identity)"
            )
        return self

    @field_validator("bot_operators")
    @classmethod
    def _operator_pairs(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            tenant, _, user = item.partition(":")
            if not _GUID.match(tenant.strip()) or not _GUID.match(user.strip()):
                raise ValueError(
                    "each operator is tenantId:objectId (two GUIDs), separated by commas"
                )
        return value

    def operators(self) -> frozenset[tuple[str, str]]:
        """(tenant id, Entra object id) of each operator, lower-cased as Entra ids compare."""
        pairs = (item.partition(":") for item in self.bot_operators.split(",") if item.strip())
        return frozenset((t.strip().lower(), u.strip().lower()) for t, _, u in pairs)


@dataclass(frozen=True)
class Settings:
    contextsms: ContextSMSSettings
    bot: BotSettings

    def signing_key(self) -> bytes:
        """Key of the card action signatures: set, or derived from a secret we already have,
        so that cards stay valid across restarts and instances."""
        if self.bot.bot_card_signing_key is not None:
            return self.bot.bot_card_signing_key.get_secret_value().encode()
        seed = self.contextsms.password.get_secret_value()
        return hashlib.sha256(f"contextsms-teams card actions\n{seed}".encode()).digest()


def load_settings(
    contextsms: dict[str, Any] | None = None, bot: dict[str, Any] | None = None
) -> Settings:
    """Read the settings (the environment and .env, under the values given); a missing or
    invalid one stops the start with a message naming it, for both classes at once."""
    errors: list[str] = []
    loaded: list[BaseSettings] = []
    classes: list[tuple[type[BaseSettings], dict[str, Any] | None]] = [
        (ContextSMSSettings, contextsms), (BotSettings, bot),
    ]  # fmt: skip
    for cls, given in classes:
        try:
            loaded.append(cls(**(given or {})))
        except ValidationError as exc:
            message = str(settings_error(exc, cls))
            errors.extend(line for line in message.splitlines() if line.startswith("  "))
    if errors:
        raise SettingsError(
            "Configuration error (set these environment variables or put them in .env):\n"
            + "\n".join(errors)
        )
    account, bot_settings = loaded
    assert isinstance(account, ContextSMSSettings) and isinstance(bot_settings, BotSettings)
    return Settings(account, bot_settings)
