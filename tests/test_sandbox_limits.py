"""The sandbox holds under hostile input and load: deep JSON, login floods, bad fault plans."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from sandbox.threaded import RunningSandbox
from tests.test_sandbox_server import stripe_hmac

DEEP_LIST = b"[" * 100_000
DEEP_OBJECT = b'{"a":' * 40_000  # under the 256 KB body limit
CONFIG = {"phoneNumber": "+15559876543"}


def token(sandbox: RunningSandbox) -> str:
    response = httpx.post(
        f"{sandbox.api_url}/auth/login",
        json={
            "username": sandbox.settings.username,
            "password": sandbox.settings.password.get_secret_value(),
        },
    )
    response.raise_for_status()
    return str(response.json()["accessToken"])


def body_routes(sandbox: RunningSandbox) -> list[tuple[str, str]]:
    """Every route that reads a body, with ids that exist where one is needed."""
    api, enterprise = sandbox.api_url, sandbox.seeded.enterprise_id
    return [
        ("POST", f"{api}/auth/login"),
        ("POST", f"{api}/auth/getaccesstoken"),
        ("POST", f"{api}/csp"),
        ("POST", f"{api}/enterprise/{sandbox.seeded.csp_id}"),
        ("POST", f"{api}/mapping/add/{enterprise}"),
        ("POST", f"{api}/mapping/messagingAppId"),
        ("PUT", f"{api}/mapping/NTMAP9999999"),
        ("POST", f"{api}/stripe/check-payment"),
        ("PUT", f"{sandbox.base_url}/_sandbox/faults"),
        ("POST", f"{sandbox.base_url}/_sandbox/revoke-tokens"),
    ]


@pytest.mark.parametrize("payload", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
def test_deeply_nested_json_is_a_bad_request_on_every_route_with_a_body(
    sandbox: RunningSandbox, payload: bytes
) -> None:
    headers = {"Authorization": f"Bearer {token(sandbox)}", "Content-Type": "application/json"}
    for method, url in body_routes(sandbox):
        response = httpx.request(method, url, content=payload, headers=headers)
        assert response.status_code == 400, (method, url, response.text[:200])
        assert response.json() == {
            "error": "Malformed JSON body: nested too deeply",
            "code": "BAD_REQUEST",
        }, (method, url)
    # Nothing was changed by any of them: the tokens still work, the plan is the default.
    assert httpx.get(
        f"{sandbox.api_url}/csp/enterprises/{sandbox.seeded.csp_id}", headers=headers
    ).is_success
    assert httpx.get(f"{sandbox.base_url}/_sandbox/faults").json()["script"] == []


def test_deeply_nested_json_in_a_signed_webhook_is_a_bad_request(sandbox: RunningSandbox) -> None:
    secret = sandbox.settings.stripe_webhook_secret.get_secret_value()
    for payload in (DEEP_LIST, DEEP_OBJECT, b'{"id":"evt_deep","data":' + DEEP_OBJECT):
        stamp = int(time.time())
        response = httpx.post(
            f"{sandbox.api_url}/stripe/webhook",
            content=payload,
            headers={
                "Stripe-Signature": f"t={stamp},v1={stripe_hmac(stamp, payload, secret)}",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 400, response.text[:200]
        assert response.json()["code"] == "BAD_REQUEST"


async def timed_login(api: httpx.AsyncClient, username: str, password: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = await api.post("/auth/login", json={"username": username, "password": password})
    return response.status_code, time.perf_counter() - started


async def test_logins_do_not_stall_other_requests(sandbox: RunningSandbox) -> None:
    username = sandbox.settings.username
    password = sandbox.settings.password.get_secret_value()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with (
        httpx.AsyncClient(base_url=sandbox.api_url, limits=limits, timeout=60) as api,
        httpx.AsyncClient(base_url=sandbox.api_url, timeout=60) as other,
    ):
        # Connections opened beforehand, so that the 40 logins reach the server at once, and
        # the cheap request goes on a connection of its own (a busy pool would time httpx).
        await asyncio.gather(*(api.get("/csp/getcspconfig", params=CONFIG) for _ in range(40)))
        await other.get("/csp/getcspconfig", params=CONFIG)
        started = time.perf_counter()
        logins = [asyncio.create_task(timed_login(api, username, password)) for _ in range(40)]
        await asyncio.sleep(0.1)  # the logins are in the server's hands
        sent = time.perf_counter()
        cheap = await other.get("/csp/getcspconfig", params=CONFIG)
        cheap_took = time.perf_counter() - sent
        results = await asyncio.gather(*logins)
        logins_took = time.perf_counter() - started
    assert cheap.status_code == 200
    assert [status for status, _ in results] == [200] * 40
    # Hashing 40 passwords takes a second or more here; a request that needs no hashing is
    # not held up by them (when the loop hashed, it waited a quarter of that or more).
    assert cheap_took < logins_took / 8, (cheap_took, logins_took)


async def test_unknown_users_take_as_long_to_refuse_as_wrong_passwords(
    sandbox: RunningSandbox,
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.api_url, timeout=30) as api:
        await timed_login(api, "nobody@example.com", "wrong")  # warm-up
        unknown, wrong = [], []
        for _ in range(9):
            status, took = await timed_login(api, "nobody@example.com", "wrong")
            assert status == 401
            unknown.append(took)
            status, took = await timed_login(api, sandbox.settings.username, "wrong")
            assert status == 401
            wrong.append(took)
    # Comparable, not equal: a timing that tells them apart would tell who has an account.
    assert statistics.median(unknown) >= statistics.median(wrong) / 2, (unknown, wrong)


@pytest.mark.parametrize(
    ("plan", "named"),
    [
        ({"script": [{"path_prefix": "/api/v2/csp", "status": 200}]}, "script.0.status"),
        ({"script": [{"status": 503}, {"status": 499}]}, "script.1.status"),
        ({"script": [{"status": 600}]}, "script.0.status"),
        ({"error_rate": 0.5, "error_statuses": [500, 299]}, "error_statuses.1"),
        ({"error_rate": 0.5, "error_statuses": []}, "error_statuses"),
        ({"script": [{"status": 500, "retry_after": "1\r\nX-Evil: 1"}]}, "script.0.retry_after"),
        ({"script": [{"stauts": 500}]}, "script.0.stauts"),
        ({"latency_ms": -1}, "latency_ms"),
    ],
)
def test_an_invalid_fault_plan_is_refused_naming_what_is_wrong_and_changes_nothing(
    sandbox: RunningSandbox, plan: dict[str, object], named: str
) -> None:
    current = {"latency_ms": 0, "script": [{"path_prefix": "/api/v2/nothing-here", "status": 503}]}
    sandbox.faults(**current)
    before = httpx.get(f"{sandbox.base_url}/_sandbox/faults").json()

    response = httpx.put(f"{sandbox.base_url}/_sandbox/faults", json=plan)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "BAD_REQUEST"
    assert body["error"].startswith("Invalid fault plan: ") and named in body["error"], body
    assert httpx.get(f"{sandbox.base_url}/_sandbox/faults").json() == before
    # And the sandbox still answers: nothing was armed that breaks later requests.
    config = httpx.get(
        f"{sandbox.api_url}/csp/getcspconfig", params={"phoneNumber": "+15559876543"}
    )
    assert config.status_code == 200


def test_every_real_error_status_can_be_scripted(sandbox: RunningSandbox) -> None:
    for status in (400, 418, 429, 451, 500, 502, 503, 504, 511):
        sandbox.faults(script=[{"path_prefix": "/api/v2/csp/getcspconfig", "status": status}])
        response = httpx.get(
            f"{sandbox.api_url}/csp/getcspconfig", params={"phoneNumber": "+15559876543"}
        )
        assert response.status_code == status
        assert "error" in response.json()
