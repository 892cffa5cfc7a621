"""Inbound authentication: every request to /api/messages carries a Bot Framework JWT.

We validate it ourselves rather than through botbuilder's validator: that one fetches the
OpenID metadata with a blocking call on the event loop, raises (an HTTP 500) instead of
refusing on several bad tokens, and never refreshes its keys when Microsoft rotates them.
The rules are the Bot Connector's: RS256 signed by a key from the OpenID metadata's JWKS whose
endorsements include the channel, issuer and audience as configured, expiry with five minutes
of clock skew, and a `serviceurl` claim equal to the activity's serviceUrl.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger("bot.auth")

CLOCK_SKEW_SECONDS = 300
KEYS_MAX_AGE_SECONDS = 24 * 3600


class AuthError(Exception):
    """The request is not from the Bot Connector; the reason goes to the log, not the caller."""


@dataclass
class _Keys:
    by_kid: dict[str, tuple[Any, list[str]]] = field(default_factory=dict)
    fetched_at: float = float("-inf")


class BotFrameworkAuth:
    def __init__(
        self,
        *,
        app_id: str,
        metadata_url: str,
        issuer: str,
        http: httpx.AsyncClient,
        refresh_interval: float = 300.0,
    ) -> None:
        self.app_id = app_id
        self.metadata_url = metadata_url
        self.issuer = issuer
        self._http = http
        self._refresh_interval = refresh_interval
        self._keys = _Keys()
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def authenticate(
        self, header: str | None, service_url: str | None, channel_id: str | None
    ) -> dict[str, Any]:
        """The token's claims, or AuthError."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("no bearer token")
        token = token.strip()
        try:
            head = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if head.get("alg") != "RS256":
            raise AuthError(f"algorithm {head.get('alg')!r} refused")
        kid = head.get("kid")
        if not isinstance(kid, str):
            raise AuthError("token names no key")
        key, endorsements = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("wrong issuer") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token ({type(exc).__name__})") from None
        if endorsements and channel_id not in endorsements:
            raise AuthError(f"key not endorsed for channel {channel_id!r}")
        claimed = claims.get("serviceurl")
        if not isinstance(claimed, str) or _url(claimed) != _url(service_url or ""):
            raise AuthError("serviceurl claim does not match the activity")
        return claims

    async def _key(self, kid: str) -> tuple[Any, list[str]]:
        keys = self._keys
        stale = time.monotonic() - keys.fetched_at > KEYS_MAX_AGE_SECONDS
        if kid in keys.by_kid and not stale:
            return keys.by_kid[kid]
        async with self._lock:
            keys = self._keys
            recent = time.monotonic() - keys.fetched_at < self._refresh_interval
            if (kid not in keys.by_kid and not recent) or stale:
                await self._refresh()
            if kid not in self._keys.by_kid:
                raise AuthError("token signed by an unknown key")
            return self._keys.by_kid[kid]

    async def _refresh(self) -> None:
        """Fetch the OpenID metadata and its JWKS (Microsoft rotates its signing keys)."""
        self.fetches += 1
        try:
            metadata = (await self._http.get(self.metadata_url)).raise_for_status().json()
            jwks = (await self._http.get(metadata["jwks_uri"])).raise_for_status().json()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            # Keep the keys we had; try again on the next unknown key after the interval.
            log.error("could not fetch the Bot Framework signing keys: %s", type(exc).__name__)
            self._keys.fetched_at = time.monotonic()
            return
        by_kid: dict[str, tuple[Any, list[str]]] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
                continue
            endorsements = jwk.get("endorsements") or []
            by_kid[jwk["kid"]] = (RSAAlgorithm.from_jwk(json.dumps(jwk)), list(endorsements))
        self._keys = _Keys(by_kid, time.monotonic())
        log.info("loaded %d Bot Framework signing keys", len(by_kid))


def _url(value: str) -> str:
    return value.strip().rstrip("/").lower()
