"""Retries, deadlines and the add-after-timeout case, with faults injected at the sandbox."""

from __future__ import annotations

import time

import pytest

from contextsms import (
    ClientOptions,
    ContextSMSClient,
    DeadlineExceeded,
    RateLimited,
    RetryPolicy,
    ServerError,
    TransportError,
)
from contextsms.models import Enterprise, MappingCreate
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number, make_client

ADD = "/api/v2/mapping/add"
LIST = "/api/v2/numbertomessageappmapping"


def added(sandbox: RunningSandbox) -> int:
    return int(sandbox.stats()["requests"].get("POST /api/v2/mapping/add/{enterpriseId}", 0))


async def test_reads_are_retried_through_503s(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[{"path_prefix": LIST, "status": 503}] * 3)
    assert await client.list_mappings(enterprise.enterprise_id) == []
    served = sandbox.stats()["requests"]
    assert served["GET /api/v2/numbertomessageappmapping/enterprise/{enterpriseId}"] == 4


async def test_random_500s_and_503s_are_absorbed(
    sandbox: RunningSandbox, enterprise: Enterprise
) -> None:
    options = ClientOptions(retry=RetryPolicy(max_retries=6, base_delay=0.01))
    async with make_client(sandbox, options) as api:
        await api.ensure_logged_in()
        sandbox.faults(error_rate=0.3, seed=7)
        for _ in range(20):
            await api.get_enterprise(enterprise.enterprise_id)
    served = sandbox.stats()["requests"]["GET /api/v2/enterprise/getenterprise/{enterpriseId}"]
    assert served > 20  # some answers were failures, and each was retried


async def test_exhausted_retries_report_the_request_id(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[{"path_prefix": LIST, "status": 500}] * 4)
    with pytest.raises(ServerError, match="Internal server error") as caught:
        await client.list_mappings(enterprise.enterprise_id)
    assert caught.value.status == 500
    assert caught.value.request_id is not None and caught.value.request_id.startswith("req-")
    assert caught.value.timestamp is not None


async def test_html_502_from_a_proxy_is_a_clear_error(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[{"path_prefix": LIST, "status": 502, "html": True}] * 4)
    with pytest.raises(ServerError, match="502 Bad Gateway without a JSON error body") as caught:
        await client.list_mappings(enterprise.enterprise_id)
    assert "<html>" not in str(caught.value)


async def test_retry_after_is_honoured(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[{"path_prefix": LIST, "status": 429, "retry_after": "1"}])
    started = time.monotonic()
    await client.list_mappings(enterprise.enterprise_id)
    assert time.monotonic() - started >= 1.0


async def test_retry_after_beyond_the_deadline_fails_at_once(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[{"path_prefix": LIST, "status": 429, "retry_after": "30"}])
    started = time.monotonic()
    with pytest.raises(RateLimited):
        await client.list_mappings(enterprise.enterprise_id, deadline=2)
    assert time.monotonic() - started < 1.0


async def test_deadline_bounds_the_whole_call(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(latency_ms=3000, path_prefix=LIST)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as caught:
        await client.list_mappings(enterprise.enterprise_id, deadline=0.25)
    assert time.monotonic() - started < 1.5
    assert caught.value.outcome_unknown is False  # a read changes nothing


async def test_add_after_a_lost_answer_returns_the_mapping_once(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    sandbox.faults(script=[{"path_prefix": ADD, "status": 500, "after_handler": True}])
    mapping = await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:lost")
    )
    assert (mapping.phone_number, mapping.messaging_app_id) == (number, "19:lost")
    assert added(sandbox) == 1  # looked up, not added again
    listed = await client.list_mappings(enterprise.enterprise_id)
    assert [m.id for m in listed] == [mapping.id]


async def test_add_after_a_timeout_is_not_a_false_duplicate(
    sandbox: RunningSandbox, enterprise: Enterprise
) -> None:
    number = fresh_number()
    options = ClientOptions(timeout=0.3, retry=RetryPolicy(max_retries=2, base_delay=0.02))
    async with make_client(sandbox, options) as api:
        sandbox.faults(script=[{"path_prefix": ADD, "delay_ms": 800, "after_handler": True}])
        mapping = await api.add_mapping(
            enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:t")
        )
        assert mapping.phone_number == number
        assert len(await api.list_mappings(enterprise.enterprise_id)) == 1


async def test_add_refused_before_processing_is_added_again(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    number = fresh_number()
    sandbox.faults(script=[{"path_prefix": ADD, "status": 503}] * 2)
    mapping = await client.add_mapping(
        enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id="19:r")
    )
    assert mapping.phone_number == number
    assert added(sandbox) == 3
    assert len(await client.list_mappings(enterprise.enterprise_id)) == 1


async def test_add_whose_deadline_passes_says_the_outcome_is_unknown(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    sandbox.faults(script=[{"path_prefix": ADD, "delay_ms": 600, "after_handler": True}])
    with pytest.raises(DeadlineExceeded) as caught:
        await client.add_mapping(
            enterprise.enterprise_id,
            MappingCreate(phone_number=fresh_number(), messaging_app_id="19:u"),
            deadline=0.3,
        )
    assert caught.value.outcome_unknown is True


async def test_delete_whose_answer_was_lost_still_succeeds(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    mapping = await client.add_mapping(
        enterprise.enterprise_id,
        MappingCreate(phone_number=fresh_number(), messaging_app_id="19:d"),
    )
    sandbox.faults(script=[{"path_prefix": "/api/v2/mapping/", "method": "DELETE",
                            "status": 502, "after_handler": True}])  # fmt: skip
    assert await client.delete_mapping(mapping.id) == f"Deleted mapping {mapping.id}"
    assert await client.list_mappings(enterprise.enterprise_id) == []


async def test_unreachable_server_is_a_transport_error() -> None:
    options = ClientOptions(timeout=1, retry=RetryPolicy(max_retries=2, base_delay=0.01))
    from pydantic import SecretStr

    async with ContextSMSClient(
        base_url="http://127.0.0.1:9/api/v2", username="u", password=SecretStr("p"),
        csp_id="CSP1", options=options,
    ) as api:  # fmt: skip
        with pytest.raises(TransportError, match="ConnectError"):
            await api.list_enterprises()
