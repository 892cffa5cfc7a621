"""The bot's own token, through msal as in production, from an HTTPS stand-in of Entra
(msal refuses a plain-http authority) whose certificate a throwaway CA signed."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.credentials import CachedCredentialsFactory, OutboundTokenError, msal_token_source
from standins.botframework import Identity
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
    fetch = msal_token_source(
        APP_ID, f"{entra.server.base_url}/tenant", SecretStr("bot-password"),
        [f"{SCOPE}/.default"], instance_discovery=False,
    )  # fmt: skip
    answer = fetch()
    assert answer["access_token"] == "outbound-1"
    assert fetch()["access_token"] == "outbound-1"  # msal's own cache: no second request
    assert entra.token_requests == 1

    wrong = msal_token_source(
        APP_ID, f"{entra.server.base_url}/tenant", SecretStr("not-it"),
        [f"{SCOPE}/.default"], instance_discovery=False,
    )()  # fmt: skip
    assert "access_token" not in wrong and wrong["error"] == "invalid_client"


async def test_the_factory_hands_out_fresh_cached_credentials(entra: Identity) -> None:
    factory = CachedCredentialsFactory(
        APP_ID, SecretStr("bot-password"), "tenant", login_authority=entra.server.base_url,
        token_source=functools.partial(msal_token_source, instance_discovery=False),
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
        token_source=functools.partial(msal_token_source, instance_discovery=False),
    )  # fmt: skip
    with pytest.raises(OutboundTokenError, match="invalid_client") as caught:
        await factory.create_credentials(APP_ID, SCOPE, "https://login.microsoftonline.com/", True)
    assert "the-wrong-secret" not in str(caught.value)
