"""Stripe events out of order: the newest event by its `created` time decides the status."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from contextsms import ContextSMSClient
from sandbox.threaded import RunningSandbox, start_sandbox
from tests.conftest import fresh_number, make_client
from tests.test_sandbox_server import signed


def event(event_id: str, kind: str, status: str, email: str, created: int) -> dict[str, object]:
    return {
        "id": event_id, "object": "event", "type": f"customer.subscription.{kind}",
        "created": created,
        "data": {"object": {"id": f"sub_{email}", "status": status, "customer": f"cus_{email}",
                            "metadata": {"email": email}}},
    }  # fmt: skip


async def test_an_older_update_after_a_deletion_leaves_the_subscription_canceled(
    sandbox: RunningSandbox, client: ContextSMSClient
) -> None:
    email = f"late{fresh_number()[1:]}@example.com"
    now = int(time.time())
    first = await client.send_stripe_event(
        *signed(sandbox, event("evt_new" + email, "created", "active", email, now - 60))
    )
    assert first.processed is True
    assert (await client.check_payment(email)).paid is True

    await client.send_stripe_event(
        *signed(sandbox, event("evt_del" + email, "deleted", "canceled", email, now))
    )
    late = await client.send_stripe_event(
        *signed(sandbox, event("evt_upd" + email, "updated", "active", email, now - 30))
    )
    assert late.status == "received" and late.processed is False
    status = await client.check_payment(email)
    assert (status.paid, status.subscription_status) == (False, "canceled")

    # It was recorded: a redelivery of it is a replay, still not applied.
    again = await client.send_stripe_event(
        *signed(sandbox, event("evt_upd" + email, "updated", "active", email, now - 30))
    )
    assert again.processed is False
    # A newer event still applies.
    newer = await client.send_stripe_event(
        *signed(sandbox, event("evt_re" + email, "updated", "active", email, now + 1))
    )
    assert newer.processed is True
    assert (await client.check_payment(email)).subscription_status == "active"


async def test_events_in_order_apply_in_order(
    sandbox: RunningSandbox, client: ContextSMSClient
) -> None:
    email = f"ordered{fresh_number()[1:]}@example.com"
    now = int(time.time())
    for index, status in enumerate(["trialing", "active", "past_due"]):
        ack = await client.send_stripe_event(
            *signed(sandbox, event(f"evt_{index}{email}", "updated", status, email, now + index))
        )
        assert ack.processed is True
    assert (await client.check_payment(email)).subscription_status == "past_due"


def test_a_created_time_that_is_not_a_number_is_a_bad_request(sandbox: RunningSandbox) -> None:
    email = f"odd{fresh_number()[1:]}@example.com"
    bad = event("evt_odd" + email, "updated", "active", email, 0)
    bad["created"] = "yesterday"
    payload, header = signed(sandbox, bad)
    response = httpx.post(
        f"{sandbox.api_url}/stripe/webhook", content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {
        "error": "Field 'created' must be a whole number of seconds",
        "code": "BAD_REQUEST",
    }


async def test_a_database_made_before_event_times_were_kept_still_works(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:
        old.execute(
            "CREATE TABLE subscriptions (subscription_id TEXT PRIMARY KEY, customer_id TEXT,"
            " email TEXT, status TEXT NOT NULL, updated INTEGER NOT NULL)"
        )
        old.execute(
            "INSERT INTO subscriptions VALUES ('sub_old@example.com', NULL,"
            " 'old@example.com', 'active', 1)"
        )
    running = start_sandbox(db)
    try:
        async with make_client(running) as api:
            assert (await api.check_payment("old@example.com")).paid is True
            now = int(time.time())
            email = "old@example.com"
            await api.send_stripe_event(
                *signed(running, event("evt_d" + email, "deleted", "canceled", email, now))
            )
            late = await api.send_stripe_event(
                *signed(running, event("evt_u" + email, "updated", "active", email, now - 5))
            )
            assert late.processed is False
            assert (await api.check_payment(email)).subscription_status == "canceled"
    finally:
        running.stop()
