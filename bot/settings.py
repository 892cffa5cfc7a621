"""The deployment's settings, from environment variables and an optional `.env` file."""

from __future__ import annotations

import hashlib
import logging
from enum import StrEnum

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contextsms.client import PRODUCTION_BASE_URL, ClientOptions
from contextsms.retry import RetryPolicy
from contextsms.settings_errors import settings_error

log = logging.getLogger("bot.settings")

BOT_FRAMEWORK_OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"


class AppType(StrEnum):
    MULTI_TENANT = "MultiTenant"
    SINGLE_TENANT = "SingleTenant"
    USER_ASSIGNED_MSI = "UserAssignedMSI"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONTEXTSMS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

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
    enterprise_id: str | None = Field(
        default=None, description="The enterprise this deployment acts on."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_base_seconds: float = Field(default=0.2, gt=0, le=10)
    backoff_max_seconds: float = Field(default=5.0, gt=0, le=120)
    token_renew_margin_seconds: float = Field(default=60.0, ge=0, le=3600)

    # -- the bot (Azure Bot names where Azure has one) ------------------------------------
    app_id: str | None = Field(default=None, validation_alias="MicrosoftAppId")
    app_password: SecretStr | None = Field(default=None, validation_alias="MicrosoftAppPassword")
    app_type: AppType = Field(default=AppType.MULTI_TENANT, validation_alias="MicrosoftAppType")
    app_tenant_id: str | None = Field(default=None, validation_alias="MicrosoftAppTenantId")
    openid_metadata_url: AnyHttpUrl = Field(
        default=AnyHttpUrl(BOT_FRAMEWORK_OPENID_METADATA),
        validation_alias="TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL",
    )
    token_issuer: str = Field(
        default=BOT_FRAMEWORK_ISSUER, validation_alias="TO_BOT_FROM_CHANNEL_TOKEN_ISSUER"
    )
    local_dev: bool = Field(default=False, validation_alias="BOT_LOCAL_DEV")
    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=3978, ge=1, le=65535, validation_alias="PORT")
    default_region: str = Field(
        default="US", pattern=r"^[A-Za-z]{2}$", validation_alias="BOT_DEFAULT_REGION"
    )
    product_name: str = Field(
        default="ContextSMS", min_length=1, validation_alias="BOT_PRODUCT_NAME"
    )
    card_signing_key: SecretStr | None = Field(
        default=None, validation_alias="BOT_CARD_SIGNING_KEY"
    )
    # Teams waits 5 s for a card action and 15 s for a message: answer within these, with a
    # "working on it" card when ContextSMS is slower, and update it when the work is done.
    action_budget_seconds: float = Field(
        default=4.0, gt=0, le=4.5, validation_alias="BOT_ACTION_BUDGET_SECONDS"
    )
    message_budget_seconds: float = Field(
        default=12.0, gt=0, le=14, validation_alias="BOT_MESSAGE_BUDGET_SECONDS"
    )

    @model_validator(mode="after")
    def _credentials(self) -> Settings:
        if self.local_dev:
            return self
        if not self.app_id:
            raise ValueError(
                "MicrosoftAppId is missing (set it, or BOT_LOCAL_DEV=true for a local run "
                "without Bot Framework authentication)"
            )
        if self.app_type is not AppType.USER_ASSIGNED_MSI and self.app_password is None:
            raise ValueError("MicrosoftAppPassword is missing")
        if self.app_type is not AppType.MULTI_TENANT and not self.app_tenant_id:
            raise ValueError(f"MicrosoftAppTenantId is missing (needed for {self.app_type})")
        return self

    def signing_key(self) -> bytes:
        """Key of the card action signatures: set, or derived from a secret we already have,
        so that cards stay valid across restarts and instances."""
        if self.card_signing_key is not None:
            return self.card_signing_key.get_secret_value().encode()
        seed = self.password.get_secret_value()
        return hashlib.sha256(f"contextsms-teams card actions\n{seed}".encode()).digest()

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

    def api_urls(self) -> tuple[str, str]:
        base = str(self.base_url).rstrip("/")
        auth = str(self.auth_base_url).rstrip("/") if self.auth_base_url else base
        return base, auth


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a missing or invalid one stops the start with a message naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise settings_error(exc, Settings) from None
