"""The client against the sandbox over real HTTP: the going-live path and every error code."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from contextsms import (
    BadRequest,
    ContextSMSClient,
    DuplicateMapping,
    NotFound,
    PermissionDenied,
    Unauthorized,
)
from contextsms.models import CspCreate, Enterprise, EnterpriseCreate, MappingCreate, MappingUpdate
from sandbox.threaded import RunningSandbox, start_sandbox
from tests.conftest import fresh_number, make_client


async def test_going_live_path(client: ContextSMSClient, sandbox: RunningSandbox) -> None:
    login = await client.login()
    assert login.roles == ["CSP_BUSINESS"]
    assert login.expiration_time_in_utc is not None
    assert login.expiration_time_in_utc > datetime.now(UTC)

    number = fresh_number()
    enterprise = await client.create_enterprise(
        EnterpriseCreate(
            name="Sunshine Dental Clinic",
            contact="Dr. Maria Rodriguez",
            number=number,
            email="maria@sunshinedental.com",
        )
    )
    assert enterprise.enterprise_id.startswith("E")
    assert enterprise.created_date is not None
    assert enterprise.created_date.tzinfo is not None
    assert abs(enterprise.created_date - datetime.now(UTC)) < timedelta(minutes=1)

    mapping = await client.add_mapping(
        enterprise.enterprise_id,
        MappingCreate(phone_number=number, messaging_app_id="teams-channel-id-12345", name="FD"),
    )
    assert mapping.id.startswith("NTMAP")
    assert (mapping.phone_number, mapping.messaging_app_id) == (number, "teams-channel-id-12345")

    listed = await client.list_mappings(enterprise.enterprise_id)
    assert [m.id for m in listed] == [mapping.id]
    fetched = await client.get_enterprise(enterprise.enterprise_id)
    assert fetched.name == "Sunshine Dental Clinic"
    assert enterprise.enterprise_id in [e.enterprise_id for e in await client.list_enterprises()]


async def test_remap_unmap_and_lookup(client: ContextSMSClient, enterprise: Enterprise) -> None:
    number = fresh_number()
    eid = enterprise.enterprise_id
    mapping = await client.add_mapping(
        eid, MappingCreate(phone_number=number, messaging_app_id="19:a@thread.tacv2")
    )
    moved = await client.update_mapping(
        mapping.id, MappingUpdate(messaging_app_id="19:b@thread.tacv2")
    )
    assert moved.messaging_app_id == "19:b@thread.tacv2"
    assert moved.phone_number == number
    found = await client.find_mapping_by_app_id("19:b@thread.tacv2")
    assert found is not None and found.id == mapping.id
    assert await client.find_mapping_by_app_id("19:nobody@thread.tacv2") is None
    assert mapping.id in [m.id for m in await client.list_csp_mappings()]

    assert await client.delete_mapping(mapping.id) == f"Deleted mapping {mapping.id}"
    assert await client.list_mappings(eid) == []
    with pytest.raises(NotFound, match="Mapping not found"):
        await client.delete_mapping(mapping.id)


async def test_delete_enterprise_frees_its_numbers(
    client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:c")
    )
    text = await client.delete_enterprise(enterprise.enterprise_id)
    assert text == f"Deleted enterprise {enterprise.enterprise_id}"
    with pytest.raises(NotFound, match="Enterprise not found"):
        await client.get_enterprise(enterprise.enterprise_id)
    other = await client.create_enterprise(
        EnterpriseCreate(name="Next", contact="N", number=fresh_number(), email="n@example.com")
    )
    again = await client.add_mapping(
        other.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:d")
    )
    assert again.phone_number == number


async def test_duplicate_mapping_anywhere_is_409(
    client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    eid = enterprise.enterprise_id
    await client.add_mapping(eid, MappingCreate(phone_number=number, messaging_app_id="19:x"))
    with pytest.raises(DuplicateMapping, match="already mapped in this enterprise") as same:
        await client.add_mapping(eid, MappingCreate(phone_number=number, messaging_app_id="19:y"))
    assert same.value.status == 409
    other = await client.create_enterprise(
        EnterpriseCreate(name="Other", contact="O", number=fresh_number(), email="o@example.com")
    )
    with pytest.raises(DuplicateMapping, match="already mapped to another enterprise"):
        await client.add_mapping(
            other.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:z")
        )


async def test_bad_request_names_the_field(client: ContextSMSClient) -> None:
    with pytest.raises(BadRequest, match="Invalid field 'email'") as caught:
        await client.create_enterprise(
            EnterpriseCreate(name="N", contact="C", number=fresh_number(), email="not-an-email")
        )
    assert caught.value.status == 400
    assert caught.value.code == "BAD_REQUEST"


async def test_server_rejects_a_number_that_is_not_e164(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    # The typed client refuses it before sending; a raw request shows the server's own check.
    token = await client.tokens.token()
    response = httpx.post(
        f"{sandbox.api_url}/mapping/add/{enterprise.enterprise_id}",
        headers={"Authorization": f"Bearer {token}"},
        json={"phoneNumber": "5559876543", "messagingAppType": "Teams", "messagingAppId": "19:q"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid field 'phoneNumber': expected an E.164 number such as +15551234567",
        "code": "BAD_REQUEST",
    }
    missing = httpx.post(
        f"{sandbox.api_url}/mapping/add/{enterprise.enterprise_id}",
        headers={"Authorization": f"Bearer {token}"},
        json={"messagingAppType": "Teams", "messagingAppId": "19:q"},
    )
    assert missing.json() == {
        "error": "Missing required field 'phoneNumber'",
        "code": "BAD_REQUEST",
    }
    assert await client.list_mappings(enterprise.enterprise_id) == []


async def test_wrong_password_is_unauthorized(sandbox: RunningSandbox) -> None:
    async with make_client(sandbox, password=SecretStr("wrong")) as api:
        with pytest.raises(Unauthorized, match="Invalid username or password"):
            await api.list_enterprises()


async def test_not_found(client: ContextSMSClient) -> None:
    with pytest.raises(NotFound, match="Enterprise not found") as caught:
        await client.get_enterprise("E9999999")
    assert caught.value.status == 404
    with pytest.raises(NotFound):
        await client.update_mapping("NTMAP9999999", MappingUpdate(name="x"))


async def test_an_id_cannot_reach_another_path(client: ContextSMSClient) -> None:
    # A forged id with slashes stays one path segment: it is looked up, not routed.
    with pytest.raises(NotFound):
        await client.get_enterprise("../../csp/enterprises/CSP0000003")


async def test_csp_business_account_is_scoped_to_its_csp(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    mapping = await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:own")
    )
    sandbox.store.ensure_csp("CSP0000777", name="Rival CSP")
    sandbox.store.ensure_account("rival@example.com", "rival-pass", "CSP_BUSINESS", "CSP0000777")
    async with make_client(
        sandbox, username="rival@example.com", password=SecretStr("rival-pass"), csp_id="CSP0000777"
    ) as rival:
        with pytest.raises(PermissionDenied) as denied:
            await rival.get_enterprise(enterprise.enterprise_id)
        assert denied.value.status == 403
        with pytest.raises(PermissionDenied):
            await rival.list_mappings(enterprise.enterprise_id)
        with pytest.raises(PermissionDenied):
            await rival.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:stolen"))
        with pytest.raises(PermissionDenied):
            await rival.delete_mapping(mapping.id)
        with pytest.raises(PermissionDenied, match="create enterprises"):
            await rival.create_enterprise(
                EnterpriseCreate(name="X", contact="X", number=fresh_number(), email="x@x.io"),
                csp_id=sandbox.seeded.csp_id,
            )
        with pytest.raises(PermissionDenied):
            await rival.list_csp_mappings(sandbox.seeded.csp_id)
        assert await rival.find_mapping_by_app_id("19:own") is None
        assert await rival.list_csp_mappings() == []
        with pytest.raises(NotFound, match="CSP not found"):
            await rival.list_enterprises("CSP0000999")
    unchanged = await client.list_mappings(enterprise.enterprise_id)
    assert [(m.id, m.messaging_app_id) for m in unchanged] == [(mapping.id, "19:own")]


async def test_only_partners_create_csps(sandbox: RunningSandbox, client: ContextSMSClient) -> None:
    new_csp = CspCreate(
        email="admin@csp.com", name="Example CSP", house_number="700 S", street_name="1st ST",
        city="Austin", state_code="TX", zip="78704", country="USA", location_id="844849",
        sub_account_id="109733", authorizing_person_name="CSP Admin",
    )  # fmt: skip
    with pytest.raises(PermissionDenied, match="create CSPs"):
        await client.create_csp(new_csp)
    sandbox.store.ensure_account("partner@example.com", "partner-pass", "CSP_PARTNER", None)
    async with make_client(
        sandbox, username="partner@example.com", password=SecretStr("partner-pass")
    ) as partner:
        csp = await partner.create_csp(new_csp)
        assert csp.csp_id.startswith("CSP")
        assert (csp.name, csp.carrier, csp.city) == ("Example CSP", "BANDWIDTH", "Austin")
        assert await partner.list_enterprises(csp.csp_id) == []


async def test_csp_config_brands_a_number_without_login(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:b")
    )
    # A client with a wrong password still reads branding: the endpoint is public.
    async with make_client(sandbox, password=SecretStr("wrong")) as anonymous:
        config = await anonymous.get_csp_config(number)
        assert (config.product_name, config.color) == ("ContextSMS", "#0F6CBD")
        unknown = await anonymous.get_csp_config(fresh_number())
        assert (unknown.product_name, unknown.color) == ("ContextSMS", "#000000")
        with pytest.raises(BadRequest, match="phoneNumber"):
            await anonymous.get_csp_config("12")
    assert sandbox.stats()["logins"] <= 1


async def test_newer_reference_answers_are_understood(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    newer = start_sandbox(tmp_path / "newer.db", newer_reference=True)
    try:
        async with make_client(newer) as api:
            eid = newer.seeded.enterprise_id
            number = fresh_number()
            raw = httpx.post(
                f"{newer.api_url}/mapping/add/{eid}",
                headers={"Authorization": f"Bearer {await api.tokens.token()}"},
                json={"phoneNumber": number, "messagingAppType": "Teams", "messagingAppId": "19:n"},
            )
            assert raw.status_code == 201
            assert raw.json()["mmsEnabled"] is False
            mapping = await api.add_mapping(
                eid, MappingCreate(phone_number=fresh_number(), messaging_app_id="19:n2")
            )
            assert mapping.messaging_app_id == "19:n2"
            assert not hasattr(mapping, "mms_enabled")
            enterprise = await api.get_enterprise(eid)
            assert enterprise.enterprise_id == eid
            assert len(await api.list_mappings(eid)) == 2
    finally:
        newer.stop()


async def test_concurrent_adds_of_one_number_give_one_success(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    results = await asyncio.gather(
        *(
            client.add_mapping(
                enterprise.enterprise_id,
                MappingCreate(phone_number=number, messaging_app_id=f"19:chan{i}"),
            )
            for i in range(2)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, DuplicateMapping) for r in results) == 1
    assert len(await client.list_mappings(enterprise.enterprise_id)) == 1
