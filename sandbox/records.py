"""The sandbox's rows as typed records, in snake_case: the wire's camelCase lives in wire.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    csp_id: str | None


@dataclass(frozen=True)
class NewCsp:
    email: str
    name: str
    carrier: str
    house_number: str
    street_name: str
    city: str
    state_code: str
    zip: str
    country: str
    location_id: str
    sub_account_id: str
    authorizing_person_name: str


@dataclass(frozen=True)
class Csp:
    csp_id: str
    email: str | None
    name: str | None
    carrier: str | None
    house_number: str | None
    street_name: str | None
    city: str | None
    state_code: str | None
    zip: str | None
    country: str | None
    location_id: str | None
    sub_account_id: str | None
    authorizing_person_name: str | None
    product_name: str
    favicon: str | None
    logo: str | None
    color: str
    created_date: int


@dataclass(frozen=True)
class NewEnterprise:
    name: str
    contact: str
    number: str
    email: str


@dataclass(frozen=True)
class Enterprise:
    enterprise_id: str
    csp_id: str
    name: str
    contact: str
    number: str
    email: str
    deleted: bool
    created_date: int
    update_date: int

    def __post_init__(self) -> None:
        # SQLite has no booleans: the column holds 0 or 1.
        object.__setattr__(self, "deleted", bool(self.deleted))


@dataclass(frozen=True)
class NewMapping:
    phone_number: str
    messaging_app_type: str
    messaging_app_id: str
    name: str | None


@dataclass(frozen=True)
class Mapping:
    mapping_id: str
    enterprise_id: str
    phone_number: str
    messaging_app_type: str
    messaging_app_id: str
    name: str | None
    created_date: int
    update_date: int


# What a partial update may change; a name may be cleared (None).
MappingColumn = Literal["messaging_app_id", "phone_number", "name"]
MappingChanges = dict[MappingColumn, str | None]
