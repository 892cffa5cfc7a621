""" "Serve then fail" faults: the change is applied and the answer is an error, on every write."""

from __future__ import annotations

import httpx
import pytest

from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number
from tests.test_sandbox_limits import token


@pytest.fixture
def auth(sandbox: RunningSandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sandbox)}"}


def add(sandbox: RunningSandbox, auth: dict[str, str], channel: str) -> dict[str, str]:
    response = httpx.post(
        f"{sandbox.api_url}/mapping/add/{sandbox.seeded.enterprise_id}",
        json={"phoneNumber": fresh_number(), "messagingAppType": "Teams",
              "messagingAppId": channel},
        headers=auth,
    )  # fmt: skip
    response.raise_for_status()
    mapping: dict[str, str] = response.json()
    return mapping


def listed(sandbox: RunningSandbox, auth: dict[str, str]) -> dict[str, str]:
    """Mapping id to channel, as the platform now holds them."""
    response = httpx.get(
        f"{sandbox.api_url}/numbertomessageappmapping/enterprise/{sandbox.seeded.enterprise_id}",
        headers=auth,
    )
    return {m["numberToMessageAppMapId"]: m["messagingAppId"] for m in response.json()}


def test_an_add_served_then_failed_is_applied(
    sandbox: RunningSandbox, auth: dict[str, str]
) -> None:
    sandbox.faults(script=[{"method": "POST", "path_prefix": "/api/v2/mapping/add",
                            "status": 500, "after_handler": True}])  # fmt: skip
    number = fresh_number()
    response = httpx.post(
        f"{sandbox.api_url}/mapping/add/{sandbox.seeded.enterprise_id}",
        json={"phoneNumber": number, "messagingAppType": "Teams", "messagingAppId": "19:a"},
        headers=auth,
    )
    assert response.status_code == 500
    assert response.json()["error"] == "Internal server error"
    mine = [m for m in httpx.get(
        f"{sandbox.api_url}/numbertomessageappmapping/enterprise/{sandbox.seeded.enterprise_id}",
        headers=auth,
    ).json() if m["phoneNumber"] == number]  # fmt: skip
    assert [m["messagingAppId"] for m in mine] == ["19:a"]


def test_an_update_served_then_failed_is_applied(
    sandbox: RunningSandbox, auth: dict[str, str]
) -> None:
    mapping = add(sandbox, auth, "19:before")
    map_id = mapping["numberToMessageAppMapId"]
    sandbox.faults(script=[{"method": "PUT", "path_prefix": "/api/v2/mapping/",
                            "status": 500, "after_handler": True}])  # fmt: skip
    response = httpx.put(
        f"{sandbox.api_url}/mapping/{map_id}", json={"messagingAppId": "19:after"}, headers=auth
    )
    assert response.status_code == 500
    assert listed(sandbox, auth)[map_id] == "19:after"


def test_a_delete_served_then_failed_is_applied(
    sandbox: RunningSandbox, auth: dict[str, str]
) -> None:
    map_id = add(sandbox, auth, "19:gone")["numberToMessageAppMapId"]
    sandbox.faults(script=[{"method": "DELETE", "path_prefix": "/api/v2/mapping/",
                            "status": 503, "after_handler": True}])  # fmt: skip
    response = httpx.delete(f"{sandbox.api_url}/mapping/{map_id}", headers=auth)
    assert response.status_code == 503
    assert map_id not in listed(sandbox, auth)


def test_a_fault_for_one_method_leaves_the_others_alone(
    sandbox: RunningSandbox, auth: dict[str, str]
) -> None:
    map_id = add(sandbox, auth, "19:kept")["numberToMessageAppMapId"]
    sandbox.faults(script=[{"method": "DELETE", "path_prefix": "/api/v2/mapping/",
                            "status": 500, "after_handler": True}])  # fmt: skip
    response = httpx.put(
        f"{sandbox.api_url}/mapping/{map_id}", json={"messagingAppId": "19:moved"}, headers=auth
    )
    assert response.status_code == 200
    assert httpx.get(f"{sandbox.base_url}/_sandbox/faults").json()["script"] != []


def test_served_then_delayed_answers_the_served_result_once(
    sandbox: RunningSandbox, auth: dict[str, str]
) -> None:
    sandbox.faults(script=[{"path_prefix": "/api/v2/mapping/add", "delay_ms": 50,
                            "after_handler": True}])  # fmt: skip
    number = fresh_number()
    response = httpx.post(
        f"{sandbox.api_url}/mapping/add/{sandbox.seeded.enterprise_id}",
        json={"phoneNumber": number, "messagingAppType": "Teams", "messagingAppId": "19:d"},
        headers=auth,
    )
    # The add that was served is the answer, not a second attempt's duplicate.
    assert response.status_code == 200, response.text
    assert response.json()["phoneNumber"] == number
