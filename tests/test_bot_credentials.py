"""The bot's own token, through msal as in production, from an HTTPS stand-in of Entra
(msal refuses a plain-http authority) whose certificate a throwaway CA signed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.credentials import CachedCredentialsFactory, OutboundTokenError, msal_token_source
from standins.botframework import Identity
from standins.servers import serve_in_thread
from standins.tls import make_ca

APP_ID = "11111111-2222-3333-4444-555555555555"
SCOPE = "https://api.botframework.com"


@pytest.fixture
def entra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Identity]:
    ca = make_ca(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.ca_file))  # msal's requests trusts it
    stand_in = Identity(ssl_context=ca.server_context)
    yield stand_in
    stand_in.server.stop()


def test_msal_fetches_the_token_over_https(entra: Identity) -> None:
    # The authority is the setting's (a stand-in here, a sovereign cloud's in production):
    # msal does not ask the public cloud about it, which cannot be reached from here.
    fetch = msal_token_source(
        APP_ID, f"{entra.server.base_url}/tenant", SecretStr("bot-password"),
        [f"{SCOPE}/.default"],
    )  # fmt: skip
    answer = fetch()
    assert answer["access_token"] == "outbound-1"
    assert fetch()["access_token"] == "outbound-1"  # msal's own cache: no second request
    assert entra.token_requests == 1

    wrong = msal_token_source(
        APP_ID, f"{entra.server.base_url}/tenant", SecretStr("not-it"),
        [f"{SCOPE}/.default"],
    )()  # fmt: skip
    assert "access_token" not in wrong and wrong["error"] == "invalid_client"


async def test_the_factory_hands_out_fresh_cached_credentials(entra: Identity) -> None:
    factory = CachedCredentialsFactory(
        APP_ID, SecretStr("bot-password"), "tenant", login_authority=entra.server.base_url,
    )  # fmt: skip
    # botbuilder names the public cloud's login; the bot's own setting decides.
    login = "https://login.microsoftonline.com/"
    first = await factory.create_credentials(APP_ID, SCOPE, login, True)
    again = await factory.create_credentials(APP_ID, SCOPE, login, True)
    assert first is again
    assert first.get_access_token() == "outbound-1"
    assert entra.token_requests == 1
    with pytest.raises(PermissionError):
        await factory.create_credentials("another-app", SCOPE, login, True)


async def test_a_refused_secret_is_a_clear_error_without_the_secret(entra: Identity) -> None:
    factory = CachedCredentialsFactory(
        APP_ID, SecretStr("the-wrong-secret"), "tenant", login_authority=entra.server.base_url,
    )  # fmt: skip
    with pytest.raises(OutboundTokenError, match="invalid_client") as caught:
        await factory.create_credentials(APP_ID, SCOPE, "https://login.microsoftonline.com/", True)
    assert "the-wrong-secret" not in str(caught.value)


@pytest.fixture
def app_service_identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """App Service's managed identity endpoint (IDENTITY_ENDPOINT, X-IDENTITY-HEADER), as
    msal calls it for a user-assigned identity; `state["status"]` makes it fail."""
    state: dict[str, Any] = {"requests": [], "status": 200}

    async def token(request: web.Request) -> web.Response:
        state["requests"].append(dict(request.query))
        if request.headers.get("X-IDENTITY-HEADER") != "identity-secret":
            return web.json_response({"statusCode": 401, "message": "no header"}, status=401)
        if state["status"] != 200:
            return web.json_response({"statusCode": state["status"], "message": "down"},
                                     status=state["status"])  # fmt: skip
        return web.json_response({
            "access_token": f"msi-{len(state['requests'])}", "token_type": "Bearer",
            "expires_on": str(int(time.time()) + 3600), "resource": request.query["resource"],
        })  # fmt: skip

    app = web.Application()
    app.router.add_get("/msi/token", token)
    server = serve_in_thread(app, "managed-identity")
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{server.base_url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-secret")
    yield state
    server.stop()


async def test_a_managed_identity_token_is_cached_and_its_outage_logged_once(
    app_service_identity: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    factory = CachedCredentialsFactory(APP_ID, None, "tenant", managed_identity=True)
    login = "https://login.microsoftonline.com/"
    credentials = await factory.create_credentials(APP_ID, SCOPE, login, True)
    assert credentials.get_access_token() == "msi-1"
    assert await factory.create_credentials(APP_ID, SCOPE, login, True) is credentials
    [asked] = app_service_identity["requests"]
    assert asked["resource"] == SCOPE and asked["client_id"] == APP_ID

    app_service_identity["status"] = 500
    other_scope = "https://api.botframework.us"
    for _ in range(3):
        with pytest.raises(OutboundTokenError):
            await factory.create_credentials(APP_ID, other_scope, login, True)
    outages = [r for r in caplog.records if "cannot get the bot's token" in r.getMessage()]
    assert len(outages) == 1 and not any(r.exc_info for r in caplog.records)
