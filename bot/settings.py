"""The deployment's settings, from environment variables and an optional `.env` file."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from contextsms.client import PRODUCTION_BASE_URL, ClientOptions
from contextsms.retry import RetryPolicy
from contextsms.settings_errors import settings_error


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
