"""The bridge from our inbound validation to botbuilder: what `CloudAdapter.process_activity`
needs to know about a request that `bot.inbound_auth` accepted (its claims, and where the
bot's replies go with which audience)."""

from __future__ import annotations

from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
)

from bot.inbound_auth import ValidToken


def authenticated_request(
    token: ValidToken | None, framework_auth: BotFrameworkAuthentication
) -> AuthenticateRequestResult:
    """`token` None: local development, where requests are not authenticated."""
    if token is None:
        claims = ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)
    else:
        claims = ClaimsIdentity(token.claims, True)
    result = AuthenticateRequestResult()
    result.claims_identity = claims
    result.audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    result.caller_id = None
    result.connector_factory = framework_auth.create_connector_factory(claims)
    return result
