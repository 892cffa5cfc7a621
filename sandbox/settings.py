"""Settings of the sandbox ContextSMS server (environment variables SANDBOX_*)."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SANDBOX_", extra="ignore", hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    db: str = "var/sandbox.db"
    # The seeded demo data: the CSP id, account and password of the vendor's examples, so the
    # document's curl commands work as written once the host is changed.
    csp_id: str = Field(default="CSP0000003", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    username: str = Field(default="you@company.com", min_length=1)
    password: SecretStr = SecretStr("YourStrongPassword!")
    enterprise_name: str = "Demo Enterprise"
    # Seeded besides: an enterprise of the same CSP whose subscription is canceled (to see a
    # refusal), a second CSP with a brand of its own, its CSP_BUSINESS account and an
    # enterprise of it, and a partner account that may act on every CSP.
    unpaid_enterprise_name: str = "Unpaid Demo Co"
    second_csp_id: str = Field(default="CSP9000001", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    second_username: str = Field(default="reseller@northwind.example", min_length=1)
    second_password: SecretStr = SecretStr("NorthwindSandbox!")
    partner_username: str = Field(default="partner@sandbox.example", min_length=1)
    partner_password: SecretStr = SecretStr("PartnerSandbox!")
    access_token_ttl_seconds: float = Field(default=3600, ge=1)
    refresh_token_ttl_seconds: float = Field(default=86400, ge=1)
    stripe_webhook_secret: SecretStr = SecretStr("whsec_sandbox_local_only")
    stripe_tolerance_seconds: int = Field(default=300, ge=1)
    # Answer as the vendor's newer published reference does: 201 on every create and extra
    # fields in answers, to prove clients ignore what they do not know.
    newer_reference: bool = False
    # Fault injection, off unless set.
    fault_latency_ms: int = Field(default=0, ge=0, le=600_000)
    fault_error_rate: float = Field(default=0.0, ge=0, le=1)
    fault_seed: int | None = None


class SandboxSettingsError(SystemExit):
    """Raised at start-up; as a SystemExit it ends the process with the message, no trace."""


def load_sandbox_settings(**overrides: object) -> SandboxSettings:
    try:
        return SandboxSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            f"  SANDBOX_{str(error['loc'][0]).upper()} "
            + ("is missing" if error["type"] == "missing" else f"is invalid: {error['msg']}")
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise SandboxSettingsError(
            "Configuration error (set these environment variables):\n" + "\n".join(problems)
        ) from None
