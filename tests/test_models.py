"""Typed bodies: epoch milliseconds, unknown fields, secrets hidden."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contextsms.models import Enterprise, Mapping, MappingCreate, MappingUpdate

epoch_ms = st.integers(min_value=0, max_value=4_102_444_800_000)  # up to 2100


@given(created=epoch_ms, updated=epoch_ms)
def test_enterprise_round_trip_keeps_epoch_millis(created: int, updated: int) -> None:
    wire = {
        "enterpriseId": "E0000090", "name": "Sunshine", "contact": "Dr. M",
        "number": "+15559876543", "email": "m@example.com", "deleted": False,
        "createdDate": created, "updateDate": updated,
    }  # fmt: skip
    enterprise = Enterprise.model_validate(wire)
    assert enterprise.created_date is not None and enterprise.created_date.tzinfo is UTC
    assert enterprise.created_date == datetime.fromtimestamp(created / 1000, UTC)
    assert enterprise.to_wire() == wire


def test_vendor_example_date() -> None:
    enterprise = Enterprise.model_validate(
        {"enterpriseId": "E0000090", "name": "S", "createdDate": 1698446777442}
    )
    assert enterprise.created_date == datetime(2023, 10, 27, 22, 46, 17, 442000, tzinfo=UTC)


@given(
    phone=st.from_regex(r"\+1555[0-9]{7}", fullmatch=True),
    app=st.text(min_size=1, max_size=40),
    name=st.none() | st.text(max_size=30),
)
def test_mapping_round_trip(phone: str, app: str, name: str | None) -> None:
    create = MappingCreate(phone_number=phone, messaging_app_id=app, name=name)
    wire = create.to_wire()
    assert wire["messagingAppType"] == "Teams"
    assert MappingCreate.model_validate(wire) == create
    answer = Mapping.model_validate({**wire, "numberToMessageAppMapId": "NTMAP1", "extra": 1})
    assert (answer.phone_number, answer.messaging_app_id, answer.name) == (phone, app, name)


def test_unknown_response_fields_are_ignored() -> None:
    mapping = Mapping.model_validate(
        {
            "numberToMessageAppMapId": "NTMAP0000123", "phoneNumber": "+12223334444",
            "messagingAppType": "Teams", "messagingAppId": "x", "name": "FrontDesk",
            "mmsEnabled": True, "mappingFeatures": ["MMS"],
        }
    )  # fmt: skip
    assert mapping.id == "NTMAP0000123"
    assert "mmsEnabled" not in mapping.to_wire()


def test_requests_refuse_numbers_not_in_e164() -> None:
    with pytest.raises(ValidationError, match=r"E\.164"):
        MappingCreate(phone_number="555-987-6543", messaging_app_id="x")
    assert MappingUpdate(name="Reception").to_wire() == {"name": "Reception"}
