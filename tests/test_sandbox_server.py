"""The sandbox as a server: its start command, persistence, Stripe webhooks, its logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from contextsms import BadRequest, ContextSMSClient
from contextsms.models import MappingCreate
from sandbox.threaded import RunningSandbox, start_sandbox
from tests.conftest import fresh_number, make_client

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    port = free_port()
    env = {**os.environ, "SANDBOX_PORT": str(port), "SANDBOX_DB": str(tmp_path / "s.db")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    banner = ""
    for _ in range(40):  # up to the banner's last line, the database's
        banner += process.stdout.readline()
        if "database:" in banner:
            break
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sandbox/stats")
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield process, port, banner
    process.terminate()
    process.wait(10)


def test_start_command_seeds_prints_ids_and_serves_the_going_live_path(
    sandbox_process: tuple[subprocess.Popen[str], int, str],
) -> None:
    process, port, banner = sandbox_process
    assert "CSP id:        CSP0000003" in banner
    assert "account:       you@company.com" in banner
    assert "enterprise id: E0000001 (Demo Enterprise)" in banner
    assert "admin@example.com: subscription active" in banner
    assert "unpaid:        E0000002 (Unpaid Demo Co)" in banner
    assert "second CSP:    CSP9000001 (brand Northwind Connect)" in banner
    assert "NorthwindSandbox!" not in banner and "PartnerSandbox!" not in banner
    assert "YourStrongPassword" not in banner

    result = subprocess.run(
        ["bash", str(ROOT / "scripts/going-live.sh")],
        env={**os.environ, "BASE": f"http://127.0.0.1:{port}/api/v2"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    login = json.loads(lines[1])
    assert login["roles"] == ["CSP_BUSINESS"] and login["services"] == ["Teams"]
    enterprise = json.loads(lines[3])
    # The next enterprise after the three seeded ones.
    assert enterprise["enterpriseId"] == "E0000004" and enterprise["deleted"] is False
    assert isinstance(enterprise["createdDate"], int)
    mapping = json.loads(lines[5])
    assert mapping["numberToMessageAppMapId"] == "NTMAP0000001"
    assert mapping["messagingAppId"] == "teams-channel-id-12345" and mapping["name"] == "FrontDesk"
    verified = json.loads(lines[7])
    assert [m["phoneNumber"] for m in verified] == ["+15559876543"]

    process.terminate()
    process.wait(10)
    assert process.stdout is not None
    log = process.stdout.read()
    assert "POST /api/v2/mapping/add/E0000004 200" in log
    assert "eyJ" not in log and "YourStrongPassword" not in log


async def test_nothing_is_lost_on_restart(tmp_path: Path) -> None:
    db = tmp_path / "persist.db"
    first = start_sandbox(db)
    number = fresh_number()
    try:
        async with make_client(first) as api:
            mapping = await api.add_mapping(
                first.seeded.enterprise_id,
                MappingCreate(phone_number=number, messaging_app_id="19:p"),
            )
            token = await api.tokens.token()
    finally:
        first.stop()
    second = start_sandbox(db)
    try:
        assert second.seeded.enterprise_id == first.seeded.enterprise_id  # seeded once
        response = httpx.get(
            f"{second.api_url}/numbertomessageappmapping/enterprise/{second.seeded.enterprise_id}",
            headers={"Authorization": f"Bearer {token}"},  # the old token still works
        )
        assert response.status_code == 200
        assert [m["numberToMessageAppMapId"] for m in response.json()] == [mapping.id]
    finally:
        second.stop()


async def test_the_demo_data_is_seeded_once_and_keeps_what_changed(tmp_path: Path) -> None:
    db = tmp_path / "seeded.db"
    first = start_sandbox(db)
    try:
        seeded = first.seeded
        async with make_client(first) as api:
            # The demo enterprise pays, the unpaid one does not; each CSP brands its own.
            assert (await api.check_payment(seeded.email)).paid is True
            unpaid = await api.check_payment(seeded.unpaid_email)
            assert (unpaid.paid, unpaid.subscription_status) == (False, "canceled")
            assert (await api.check_payment(seeded.second_email)).paid is True
            demo = await api.get_enterprise(seeded.enterprise_id)
            assert demo.number is not None
            assert (await api.get_csp_config(demo.number)).product_name == "ContextSMS"
            # A cancellation tried in the demo (Stripe's webhook) must survive a restart.
            event: dict[str, object] = {
                "id": "evt_demo_cancel", "object": "event",
                "type": "customer.subscription.deleted",
                "data": {"object": {"id": f"sub_seed_{seeded.email}", "status": "canceled"}},
            }  # fmt: skip
            await api.send_stripe_event(*signed(first, event))
        second_account = make_client(
            first, username=seeded.second_username, password=first.settings.second_password,
            csp_id=seeded.second_csp_id,
        )  # fmt: skip
        async with second_account as northwind:
            [only] = await northwind.list_enterprises(seeded.second_csp_id)
            assert only.enterprise_id == seeded.second_enterprise_id and only.number is not None
            brand = await northwind.get_csp_config(only.number)
            assert (brand.product_name, brand.color) == ("Northwind Connect", "#107C10")
            assert brand.logo is not None and brand.logo.startswith("https://")
        partner = make_client(
            first, username=seeded.partner_username, password=first.settings.partner_password
        )
        async with partner as api:  # acts on both CSPs
            assert await api.list_enterprises(seeded.second_csp_id)
            assert len(await api.list_enterprises(seeded.csp_id)) == 2
    finally:
        first.stop()
    second = start_sandbox(db)
    try:
        assert second.seeded == first.seeded  # the same ids, nothing made twice
        async with make_client(second) as api:
            assert len(await api.list_enterprises(seeded.csp_id)) == 2
            assert (await api.check_payment(seeded.email)).subscription_status == "canceled"
    finally:
        second.stop()


def stripe_hmac(timestamp: int, payload: bytes, secret: str) -> str:
    """Stripe's scheme v1: HMAC-SHA256 of "{timestamp}.{payload}" with the signing secret."""
    signed_payload = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest()


def signed(
    sandbox: RunningSandbox, event: dict[str, object], at: int | None = None
) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    timestamp = at if at is not None else int(time.time())
    secret = sandbox.settings.stripe_webhook_secret.get_secret_value()
    return payload, f"t={timestamp},v1={stripe_hmac(timestamp, payload, secret)}"


def subscription_event(event_id: str, status: str, email: str) -> dict[str, object]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2023-10-16",
        "type": "customer.subscription.updated",
        "data": {"object": {"id": f"sub_{email}", "status": status, "customer": f"cus_{email}"}},
        "livemode": False,
    }


async def test_stripe_webhook_updates_payment_state(
    sandbox: RunningSandbox, client: ContextSMSClient
) -> None:
    email = f"buyer{fresh_number()[1:]}@example.com"
    assert (await client.check_payment(email)).paid is False
    customer: dict[str, object] = {
        "id": "evt_c1" + email, "object": "event", "type": "customer.created",
        "data": {"object": {"id": f"cus_{email}", "email": email}},
    }  # fmt: skip
    ack = await client.send_stripe_event(*signed(sandbox, customer))
    assert (ack.status, ack.processed) == ("received", True)
    ack = await client.send_stripe_event(
        *signed(sandbox, subscription_event("evt_s1" + email, "active", email))
    )
    assert ack.processed is True
    status = await client.check_payment(email)
    assert (status.paid, status.subscription_status) == (True, "active")

    await client.send_stripe_event(
        *signed(sandbox, subscription_event("evt_s2" + email, "canceled", email))
    )
    # A replay of the old "active" event is acknowledged but not applied again.
    replay = await client.send_stripe_event(
        *signed(sandbox, subscription_event("evt_s1" + email, "active", email))
    )
    assert replay.processed is False
    status = await client.check_payment(email)
    assert (status.paid, status.subscription_status) == (False, "canceled")


async def test_stripe_webhook_refuses_bad_signatures(
    sandbox: RunningSandbox, client: ContextSMSClient
) -> None:
    email = f"forger{fresh_number()[1:]}@example.com"
    event = subscription_event("evt_forged" + email, "active", email)
    payload, header = signed(sandbox, event)
    tampered = payload.replace(b"active", b"trialing")
    with pytest.raises(BadRequest, match="Invalid Stripe signature"):
        await client.send_stripe_event(tampered, header)
    stale_payload, stale_header = signed(sandbox, event, at=int(time.time()) - 301)
    with pytest.raises(BadRequest, match="Invalid Stripe signature"):
        await client.send_stripe_event(stale_payload, stale_header)
    other_secret = stripe_hmac(int(time.time()), payload, "whsec_someone_else")
    with pytest.raises(BadRequest, match="Invalid Stripe signature"):
        await client.send_stripe_event(payload, f"t={int(time.time())},v1={other_secret}")
    response = httpx.post(f"{sandbox.api_url}/stripe/webhook", content=payload)
    assert response.status_code == 400
    assert response.json()["error"] == "Missing Stripe-Signature header"
    assert (await client.check_payment(email)).paid is False
    # The event was never recorded, so the genuine delivery is still processed.
    assert (await client.send_stripe_event(payload, header)).processed is True


async def test_client_logs_one_line_per_call_and_no_secret(
    sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    async with make_client(sandbox, password=SecretStr("YourStrongPassword!")) as api:
        await api.list_enterprises()
        token = await api.tokens.token()
    lines = [r.getMessage() for r in caplog.records if r.name == "contextsms.client"]
    assert len(lines) == 2
    assert lines[0].startswith("contextsms POST /auth/login status=200 duration_ms=")
    assert lines[1].startswith(
        f"contextsms GET /csp/enterprises/{sandbox.seeded.csp_id} status=200"
    )
    assert all("request_id=req-" in line for line in lines)
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in everything
    assert "YourStrongPassword!" not in everything
    assert "YourStrongPassword!" not in repr(api)
