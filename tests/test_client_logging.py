"""What the client leaves behind per HTTP call: one log line, and its time in the API total."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from contextsms import ClientOptions, ContextSMSClient, RetryPolicy, ServerError, timing
from contextsms.models import Enterprise
from sandbox.threaded import RunningSandbox

LIST = "/api/v2/numbertomessageappmapping"
FORGED = "req-1\n2026-01-01 INFO contextsms forged line\x1b[2J"


def client_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "contextsms.client"]


async def test_one_line_per_http_call_retries_included(
    sandbox: RunningSandbox,
    client: ContextSMSClient,
    enterprise: Enterprise,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await client.ensure_logged_in()
    sandbox.faults(script=[{"path_prefix": LIST, "status": 503}])
    caplog.set_level("INFO", logger="contextsms.client")
    await client.list_mappings(enterprise.enterprise_id)
    path = f"/numbertomessageappmapping/enterprise/{enterprise.enterprise_id}"
    lines = client_lines(caplog)
    assert [line.split(" duration_ms=")[0] for line in lines] == [
        f"contextsms GET {path} status=503",
        f"contextsms GET {path} status=200",
    ]
    assert [line.split(" retry=")[1].split()[0] for line in lines] == ["0", "1"]
    assert all(" request_id=req-" in line for line in lines)


async def test_the_line_holds_no_query_string(
    client: ContextSMSClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="contextsms.client")
    await client.get_csp_config("+15557654321")
    (line,) = client_lines(caplog)
    assert line.startswith("contextsms GET /csp/getcspconfig status=200")
    assert "5557654321" not in caplog.text


async def test_api_time_adds_up_every_call_of_the_activity(
    sandbox: RunningSandbox, client: ContextSMSClient, enterprise: Enterprise
) -> None:
    await client.ensure_logged_in()
    await client.list_mappings(enterprise.enterprise_id)  # outside a scope: not counted
    sandbox.faults(
        script=[
            {"path_prefix": LIST, "status": 503, "delay_ms": 200},
            {"path_prefix": LIST, "delay_ms": 200},
        ]
    )
    with timing.measure() as spent:
        await client.list_mappings(enterprise.enterprise_id)
        await client.get_enterprise(enterprise.enterprise_id)
    assert spent.calls == 3  # the failed attempt, its retry, and the second call
    assert spent.total_ms >= 400


@pytest.fixture
async def hostile_vendor() -> AsyncIterator[TestServer]:
    """A vendor whose error answers carry control characters in their own words."""

    async def fail(request: web.Request) -> web.Response:
        body = {"error": "Internal\nERROR forged", "requestId": FORGED, "timestamp": FORGED}
        return web.Response(status=500, text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fail)
    server = TestServer(app)
    await server.start_server()
    yield server
    await server.close()


async def test_server_words_cannot_forge_a_log_line(
    hostile_vendor: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="contextsms.client")
    options = ClientOptions(retry=RetryPolicy(max_retries=1, base_delay=0.01))
    async with ContextSMSClient(
        base_url=str(hostile_vendor.make_url("/api/v2")), username="u",
        password=SecretStr("p"), options=options,
    ) as api:  # fmt: skip
        with pytest.raises(ServerError) as caught:
            await api.get_csp_config("+15557654321")
    lines = client_lines(caplog)
    assert len(lines) == 2
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert "request_id=req-1\\n2026-01-01 INFO contextsms forged line\\x1b[2J" in lines[0]
    error = caught.value
    assert "\n" not in str(error) and "\x1b" not in str(error)
    assert error.request_id is not None and "\n" not in error.request_id
    assert error.timestamp is not None and "\x1b" not in error.timestamp
