"""Typed request and response bodies of the ContextSMS API.

Responses ignore fields they do not know (the vendor's newer reference adds some), and epoch
milliseconds become timezone-aware datetimes. Tokens are SecretStr so that no repr or log line
can show them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
)
from pydantic.alias_generators import to_camel

from contextsms.phone import E164_HINT, is_e164


def _from_epoch_millis(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected epoch milliseconds")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return value


def _to_epoch_millis(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def _require_aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


EpochMillis = Annotated[
    datetime,
    BeforeValidator(_from_epoch_millis),
    AfterValidator(_require_aware),
    PlainSerializer(_to_epoch_millis, return_type=int),
]


def _check_e164(value: str) -> str:
    if not is_e164(value):
        raise ValueError(f"expected {E164_HINT}")
    return value


E164 = Annotated[str, AfterValidator(_check_e164)]


class ApiModel(BaseModel):
    """Base of every body: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TokenResponse(ApiModel):
    """Answer of /auth/login and /auth/getaccesstoken."""

    username: str
    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expiration_time_in_utc: datetime | None = Field(default=None, alias="expirationTimeInUTC")
    roles: list[str] = []
    tenant_id: str | None = None
    services: list[str] = []


class CspCreate(ApiModel):
    email: str
    name: str
    carrier: str = "BANDWIDTH"
    house_number: str
    street_name: str
    city: str
    state_code: str
    zip: str
    country: str
    location_id: str
    sub_account_id: str
    authorizing_person_name: str


class Csp(ApiModel):
    csp_id: str
    email: str | None = None
    name: str | None = None
    carrier: str | None = None
    house_number: str | None = None
    street_name: str | None = None
    city: str | None = None
    state_code: str | None = None
    zip: str | None = None
    country: str | None = None
    location_id: str | None = None
    sub_account_id: str | None = None
    authorizing_person_name: str | None = None


class CspConfig(ApiModel):
    """White-label branding of the CSP that serves a phone number."""

    product_name: str
    favicon: str | None = None
    logo: str | None = None
    color: str | None = None


class EnterpriseCreate(ApiModel):
    name: str
    contact: str
    number: E164
    email: str


class Enterprise(ApiModel):
    enterprise_id: str
    name: str
    contact: str | None = None
    number: str | None = None
    email: str | None = None
    deleted: bool = False
    created_date: EpochMillis | None = None
    update_date: EpochMillis | None = None


class MappingCreate(ApiModel):
    phone_number: E164
    messaging_app_type: str = "Teams"
    messaging_app_id: str = Field(min_length=1)
    name: str | None = None


class MappingUpdate(ApiModel):
    """Partial update: only the fields that are set are sent."""

    messaging_app_id: str | None = Field(default=None, min_length=1)
    phone_number: E164 | None = None
    name: str | None = None


class Mapping(ApiModel):
    id: str = Field(alias="numberToMessageAppMapId")
    phone_number: str
    messaging_app_type: str
    messaging_app_id: str
    name: str | None = None
    enterprise_id: str | None = None
    created_date: EpochMillis | None = None
    update_date: EpochMillis | None = None


class PaymentStatus(ApiModel):
    email: str
    paid: bool
    subscription_status: str | None = None


class WebhookAck(ApiModel):
    status: str
    processed: bool
