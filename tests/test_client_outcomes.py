"""A failed change says whether it may have been applied, and the sandbox's state agrees.

`outcome_unknown` is what lets the bot say "nothing was changed" only when it knows. Each test
injects a fault at the sandbox ("serve then fail" when `after_handler`), checks the error the
client raises, then lists what the sandbox really holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from contextsms import (
    ApiError,
    ClientOptions,
    ContextSMSClient,
    ContextSMSError,
    DeadlineExceeded,
    DuplicateMapping,
    NotFound,
    RetryPolicy,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from contextsms.models import Enterprise, EnterpriseCreate, Mapping, MappingCreate, MappingUpdate
from sandbox.threaded import RunningSandbox
from tests.conftest import FAST_RETRIES, fresh_number, make_client

MAPPING = "/api/v2/mapping/"
ADD = "/api/v2/mapping/add"
LIST = "/api/v2/numbertomessageappmapping"
ENTERPRISE = "/api/v2/enterprise/"
ATTEMPTS = FAST_RETRIES.retry.max_retries + 1


def fault(method: str, prefix: str, status: int, *, served: bool = False) -> dict[str, Any]:
    return {"method": method, "path_prefix": prefix, "status": status, "after_handler": served}


async def channels(client: ContextSMSClient, enterprise: Enterprise) -> dict[str, str]:
    """The sandbox's real state: number -> channel."""
    listed = await client.list_mappings(enterprise.enterprise_id)
    return {m.phone_number: m.messaging_app_id for m in listed}


async def mapped(client: ContextSMSClient, enterprise: Enterprise, channel: str) -> Mapping:
    return await client.add_mapping(
        enterprise.enterprise_id,
        MappingCreate(phone_number=fresh_number(), messaging_app_id=channel),
    )


def unreachable_client(sandbox: RunningSandbox) -> ContextSMSClient:
    """Logs in at the sandbox, but sends everything else to a port where nothing listens."""
    options = ClientOptions(timeout=1, retry=RetryPolicy(max_retries=1, base_delay=0.01))
    return ContextSMSClient(
        base_url="http://127.0.0.1:9/api/v2", auth_base_url=sandbox.api_url,
        username=sandbox.settings.username, password=sandbox.settings.password,
        options=options,
    )  # fmt: skip


# -- update (PUT) ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_update_served_but_failing_every_retry_is_unknown_and_applied(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise, status: int
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    sandbox.faults(script=[fault("PUT", MAPPING, status, served=True)] * ATTEMPTS)
    with pytest.raises(ServerError) as caught:
        await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:after"))
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {mapping.phone_number: "19:after"}


async def test_update_failing_every_retry_unserved_is_still_unknown(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    # The client cannot tell a 500 that applied the change from one that did not.
    mapping = await mapped(client, enterprise, "19:before")
    sandbox.faults(script=[fault("PUT", MAPPING, 500)] * ATTEMPTS)
    with pytest.raises(ServerError) as caught:
        await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:after"))
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {mapping.phone_number: "19:before"}


@pytest.mark.parametrize("status", [400, 403, 404, 409])
async def test_update_refused_at_once_is_known_unchanged(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise, status: int
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    sandbox.faults(script=[fault("PUT", MAPPING, status)])
    with pytest.raises(ApiError) as caught:
        await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:after"))
    assert caught.value.status == status
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {mapping.phone_number: "19:before"}


async def test_update_throttled_on_every_retry_is_known_unchanged(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    sandbox.faults(script=[fault("PUT", MAPPING, 429)] * ATTEMPTS)
    with pytest.raises(ApiError) as caught:
        await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:after"))
    assert caught.value.status == 429
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {mapping.phone_number: "19:before"}


async def test_update_served_then_answered_503_is_unknown_and_applied(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    # A 503 can come from a gateway after the service behind it acted: it proves nothing.
    mapping = await mapped(client, enterprise, "19:before")
    sandbox.faults(script=[fault("PUT", MAPPING, 503, served=True)] * ATTEMPTS)
    with pytest.raises(ApiError) as caught:
        await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:after"))
    assert caught.value.status == 503
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {mapping.phone_number: "19:after"}


async def test_update_refused_by_the_server_itself_is_known_unchanged(
    client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    other = await mapped(client, enterprise, "19:other")
    with pytest.raises(DuplicateMapping) as caught:
        await client.update_mapping(mapping.id, MappingUpdate(phone_number=other.phone_number))
    assert caught.value.outcome_unknown is False
    with pytest.raises(NotFound) as missing:
        await client.update_mapping("NTMAP9999999", MappingUpdate(messaging_app_id="19:x"))
    assert missing.value.outcome_unknown is False
    assert await channels(client, enterprise) == {
        mapping.phone_number: "19:before",
        other.phone_number: "19:other",
    }


async def test_a_refusal_after_an_attempt_that_may_have_acted_stays_unknown(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    sandbox.faults(script=[fault("PUT", MAPPING, 500, served=True), fault("PUT", MAPPING, 403)])
    with pytest.raises(ApiError) as caught:
        await client.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:after"))
    assert caught.value.status == 403
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {mapping.phone_number: "19:after"}


async def test_update_whose_answer_outlasts_the_deadline_is_unknown_and_applied(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    sandbox.faults(script=[{"method": "PUT", "path_prefix": MAPPING, "delay_ms": 1500,
                            "after_handler": True}])  # fmt: skip
    with pytest.raises(DeadlineExceeded) as caught:
        await client.update_mapping(
            mapping.id, MappingUpdate(messaging_app_id="19:after"), deadline=0.4
        )
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {mapping.phone_number: "19:after"}


async def test_update_never_sent_is_known_unchanged(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    async with unreachable_client(sandbox) as offline:
        with pytest.raises(TransportError) as caught:
            await offline.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:x"))
    assert "ConnectError" in str(caught.value)
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {mapping.phone_number: "19:before"}


# -- delete ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_delete_served_but_failing_every_retry_is_unknown_and_applied(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise, status: int
) -> None:
    mapping = await mapped(client, enterprise, "19:gone")
    sandbox.faults(script=[fault("DELETE", MAPPING, status, served=True)] * ATTEMPTS)
    with pytest.raises(ServerError) as caught:
        await client.delete_mapping(mapping.id)
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {}


async def test_delete_failing_every_retry_unserved_is_still_unknown(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:kept")
    sandbox.faults(script=[fault("DELETE", MAPPING, 500)] * ATTEMPTS)
    with pytest.raises(ServerError) as caught:
        await client.delete_mapping(mapping.id)
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {mapping.phone_number: "19:kept"}


@pytest.mark.parametrize("status", [401, 403, 409])
async def test_delete_refused_at_once_is_known_unchanged(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise, status: int
) -> None:
    mapping = await mapped(client, enterprise, "19:kept")
    # A 401 renews the token and is sent again: two refusals make it final.
    sandbox.faults(script=[fault("DELETE", MAPPING, status)] * 2)
    with pytest.raises(ApiError) as caught:
        await client.delete_mapping(mapping.id)
    assert caught.value.status == status
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {mapping.phone_number: "19:kept"}


async def test_delete_of_a_missing_mapping_is_known(client: ContextSMSClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.delete_mapping("NTMAP9999999")
    assert caught.value.outcome_unknown is False


async def test_delete_whose_deadline_passed_before_sending_is_known_unchanged(
    client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:kept")
    with pytest.raises(DeadlineExceeded) as caught:
        await client.delete_mapping(mapping.id, deadline=0)
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {mapping.phone_number: "19:kept"}


async def test_delete_whose_login_outlasts_the_deadline_is_known_unchanged(
    sandbox: RunningSandbox, enterprise: Enterprise, client: ContextSMSClient
) -> None:
    mapping = await mapped(client, enterprise, "19:kept")
    async with ContextSMSClient(
        base_url=sandbox.api_url, username=sandbox.settings.username,
        password=sandbox.settings.password, options=FAST_RETRIES,
    ) as fresh:  # fmt: skip
        sandbox.faults(script=[{"path_prefix": "/api/v2/auth/login", "delay_ms": 1500}])
        with pytest.raises(DeadlineExceeded) as caught:
            await fresh.delete_mapping(mapping.id, deadline=0.3)
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {mapping.phone_number: "19:kept"}


async def test_delete_after_an_attempt_that_may_have_acted_finds_it_done(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await mapped(client, enterprise, "19:gone")
    sandbox.faults(script=[fault("DELETE", MAPPING, 500, served=True)])
    assert await client.delete_mapping(mapping.id) == f"Deleted mapping {mapping.id}"
    assert await channels(client, enterprise) == {}


# -- add (POST, looked up after a failure that may hide a success) ----------------------------


async def test_add_served_but_failing_whose_look_ups_fail_too_is_unknown_and_applied(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    sandbox.faults(
        script=[fault("POST", ADD, 500, served=True), *[fault("GET", LIST, 500)] * ATTEMPTS]
    )
    with pytest.raises(ServerError) as caught:
        await client.add_mapping(
            enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:a")
        )
    assert caught.value.outcome_unknown is True
    assert await channels(client, enterprise) == {number: "19:a"}


async def test_add_failing_whose_look_ups_show_it_absent_is_known_unchanged(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    sandbox.faults(script=[fault("POST", ADD, 500)] * ATTEMPTS)
    with pytest.raises(ServerError) as caught:
        await client.add_mapping(
            enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:a")
        )
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {}


@pytest.mark.parametrize("status", [429, 503])
async def test_add_refused_before_acting_on_every_retry_is_known_unchanged(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise, status: int
) -> None:
    sandbox.faults(script=[fault("POST", ADD, status)] * ATTEMPTS)
    with pytest.raises(ApiError) as caught:
        await client.add_mapping(
            enterprise.enterprise_id,
            MappingCreate(phone_number=fresh_number(), messaging_app_id="19:a"),
        )
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {}


async def test_add_of_a_number_mapped_elsewhere_is_known_unchanged(
    client: ContextSMSClient, enterprise: Enterprise
) -> None:
    first = await mapped(client, enterprise, "19:first")
    with pytest.raises(DuplicateMapping) as caught:
        await client.add_mapping(
            enterprise.enterprise_id,
            MappingCreate(phone_number=first.phone_number, messaging_app_id="19:second"),
        )
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {first.phone_number: "19:first"}


async def test_add_never_sent_is_known(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    async with unreachable_client(sandbox) as offline:
        with pytest.raises(TransportError) as caught:
            await offline.add_mapping(
                enterprise.enterprise_id,
                MappingCreate(phone_number=fresh_number(), messaging_app_id="19:a"),
            )
    assert "ConnectError" in str(caught.value)
    assert caught.value.outcome_unknown is False
    assert await channels(client, enterprise) == {}


# -- enterprises -----------------------------------------------------------------------------


async def test_create_enterprise_served_but_failing_is_unknown_and_applied(
    sandbox: RunningSandbox, client: ContextSMSClient
) -> None:
    before = {e.enterprise_id for e in await client.list_enterprises()}
    sandbox.faults(script=[fault("POST", ENTERPRISE, 500, served=True)])
    with pytest.raises(ServerError) as caught:
        await client.create_enterprise(
            EnterpriseCreate(name="Lost", contact="L", number=fresh_number(), email="l@x.com")
        )
    assert caught.value.outcome_unknown is True
    created = [e for e in await client.list_enterprises() if e.enterprise_id not in before]
    assert [e.name for e in created] == ["Lost"]  # created once, not repeated blindly


async def test_create_enterprise_refused_before_acting_is_sent_again_once(
    sandbox: RunningSandbox, client: ContextSMSClient
) -> None:
    before = {e.enterprise_id for e in await client.list_enterprises()}
    sandbox.faults(script=[fault("POST", ENTERPRISE, 429)])
    made = await client.create_enterprise(
        EnterpriseCreate(name="Again", contact="A", number=fresh_number(), email="a@x.com")
    )
    created = [e.enterprise_id for e in await client.list_enterprises()]
    assert [e for e in created if e not in before] == [made.enterprise_id]


async def test_delete_enterprise_served_but_failing_every_retry_is_unknown_and_applied(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[fault("DELETE", ENTERPRISE, 500, served=True)] * ATTEMPTS)
    with pytest.raises(ContextSMSError) as caught:
        await client.delete_enterprise(enterprise.enterprise_id)
    assert caught.value.outcome_unknown is True
    with pytest.raises(NotFound):
        await client.get_enterprise(enterprise.enterprise_id)


async def test_delete_enterprise_refused_is_known_unchanged(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[fault("DELETE", ENTERPRISE, 403)])
    with pytest.raises(ApiError) as caught:
        await client.delete_enterprise(enterprise.enterprise_id)
    assert caught.value.outcome_unknown is False
    assert (await client.get_enterprise(enterprise.enterprise_id)).name == enterprise.name


async def test_add_refused_for_a_revoked_token_is_renewed_and_added_once(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    await client.ensure_logged_in()
    sandbox.control("POST", "revoke-tokens")
    number = fresh_number()
    made = await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:a")
    )
    assert made.phone_number == number
    assert await channels(client, enterprise) == {number: "19:a"}


@pytest.fixture
async def garbling_proxy(sandbox: RunningSandbox) -> AsyncIterator[TestServer]:
    """A proxy in front of the sandbox that passes every request on, and answers the changes
    with a page of its own (200, HTML), as a misconfigured gateway does."""

    async def relay(request: web.Request) -> web.Response:
        async with httpx.AsyncClient() as upstream:
            answer = await upstream.request(
                request.method,
                f"{sandbox.base_url}{request.path_qs}",
                content=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )
        if request.method in ("POST", "PUT", "DELETE") and "/auth/" not in request.path:
            return web.Response(status=200, text="<html>OK</html>", content_type="text/html")
        return web.Response(
            status=answer.status_code, body=answer.content,
            content_type=answer.headers.get("Content-Type", "application/json").split(";")[0],
        )  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", relay)
    server = TestServer(app)
    await server.start_server()
    yield server
    await server.close()


async def test_a_change_answered_with_an_unreadable_success_is_unknown_and_applied(
    sandbox: RunningSandbox,
    client: ContextSMSClient,
    enterprise: Enterprise,
    garbling_proxy: TestServer,
) -> None:
    mapping = await mapped(client, enterprise, "19:before")
    async with make_client(sandbox, base_url=str(garbling_proxy.make_url("/api/v2"))) as proxied:
        with pytest.raises(UnexpectedResponse) as caught:
            await proxied.update_mapping(mapping.id, MappingUpdate(messaging_app_id="19:after"))
        assert caught.value.outcome_unknown is True
        assert await channels(client, enterprise) == {mapping.phone_number: "19:after"}
        # An add answered so is looked up, and found applied.
        number = fresh_number()
        added = await proxied.add_mapping(
            enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:a")
        )
        assert (added.phone_number, added.messaging_app_id) == (number, "19:a")
    assert (await channels(client, enterprise))[number] == "19:a"
