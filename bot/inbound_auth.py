"""Inbound authentication: every request to /api/messages carries a Bot Framework JWT.

We validate it ourselves rather than through botbuilder's validator: that one fetches the
OpenID metadata with a blocking call on the event loop, raises (an HTTP 500) instead of
refusing on several bad tokens, and never refreshes its keys when Microsoft rotates them.
The rules are the Bot Connector's: RS256 signed by a key from the OpenID metadata's JWKS whose
endorsements include the channel, issuer and audience as configured (one audience: this
bot), expiry with five minutes of clock skew, and a `serviceurl` claim equal to the
activity's serviceUrl.

It runs in two steps, so that the body of an anonymous request is never read: `validate` the
token from the header alone, then, once the body is parsed, `check_activity` against it.

The Bot Connector sends the same token with every activity for about an hour, and checking its
RS256 signature costs more CPU than the rest of a `help` message: a token that passed is kept
until it expires (with the same clock skew), keyed by the SHA-256 of the whole token, its
signature included, so a token changed in any byte is checked afresh. At most MAX_CACHED are
kept, the oldest dropped first.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm

from contextsms.retry import RetryPolicy

log = logging.getLogger("bot.auth")

CLOCK_SKEW_SECONDS = 300
KEYS_MAX_AGE_SECONDS = 24 * 3600
MAX_CACHED = 10_000  # validated tokens kept; the Bot Connector uses a handful at a time
# After a failed fetch of the keys: try again within seconds, backing off to half a minute.
FETCH_RETRY = RetryPolicy(max_retries=0, base_delay=1.0, max_delay=30.0)


class AuthError(Exception):
    """The request is not from the Bot Connector; the reason goes to the log, not the caller."""


class KeysUnavailable(Exception):
    """The Bot Framework's signing keys could not be fetched yet: no token can be checked."""


@dataclass(frozen=True)
class ValidToken:
    """A token signed by the Bot Framework for this bot; not yet checked against an activity."""

    claims: dict[str, Any]
    endorsements: tuple[str, ...]


@dataclass
class _Keys:
    by_kid: dict[str, tuple[Any, tuple[str, ...]]] = field(default_factory=dict)
    fetched_at: float = float("-inf")  # of the last successful fetch
    failures: int = 0  # failed fetches since then
    retry_at: float = float("-inf")  # no fetch before this after a failure


class BotFrameworkAuth:
    def __init__(
        self,
        *,
        app_id: str,
        metadata_url: str,
        issuer: str,
        http: httpx.AsyncClient,
        refresh_interval: float = 300.0,
        fetch_retry: RetryPolicy = FETCH_RETRY,
    ) -> None:
        """`refresh_interval`: the least time between fetches forced by tokens naming an
        unknown key (anyone can send those). `fetch_retry`: backoff after a failed fetch."""
        self.app_id = app_id
        self.metadata_url = metadata_url
        self.issuer = issuer
        self._http = http
        self._refresh_interval = refresh_interval
        self._fetch_retry = fetch_retry
        self._keys = _Keys()
        self._lock = asyncio.Lock()
        # SHA-256 of a token -> the token's claims, and when it stops being accepted.
        self._valid: OrderedDict[bytes, tuple[ValidToken, float]] = OrderedDict()

    async def validate(self, header: str | None) -> ValidToken:
        """The token of an Authorization header, signed and meant for this bot; AuthError if
        not, KeysUnavailable if the keys to check it could not be had."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("no bearer token")
        token = token.strip()
        digest = hashlib.sha256(token.encode()).digest()
        kept = self._valid.get(digest)
        if kept is not None:
            if time.time() < kept[1]:
                return kept[0]
            del self._valid[digest]
        valid = await self._check(token)
        self._keep(digest, valid)
        return valid

    def _keep(self, digest: bytes, valid: ValidToken) -> None:
        expires = valid.claims.get("exp")
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            return  # "exp" is required, so this is never; kept out of the cache all the same
        self._valid[digest] = (valid, expires + CLOCK_SKEW_SECONDS)
        while len(self._valid) > MAX_CACHED:
            self._valid.popitem(last=False)

    async def _check(self, token: str) -> ValidToken:
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
        # PyJWT accepts a list that contains us; the Bot Connector's tokens name one audience,
        # and everything downstream reads the app id from it.
        if claims.get("aud") != self.app_id:
            raise AuthError("audience is not this bot alone")
        return ValidToken(claims, endorsements)

    def check_activity(
        self, token: ValidToken, service_url: str | None, channel_id: str | None
    ) -> None:
        """AuthError unless the token was issued for this activity's channel and service."""
        if token.endorsements and channel_id not in token.endorsements:
            raise AuthError(f"key not endorsed for channel {channel_id!r}")
        claimed = token.claims.get("serviceurl")
        if not isinstance(claimed, str) or _url(claimed) != _url(service_url or ""):
            raise AuthError("serviceurl claim does not match the activity")

    async def _key(self, kid: str) -> tuple[Any, tuple[str, ...]]:
        if self._usable(kid) and not self._due(kid):
            return self._keys.by_kid[kid]
        async with self._lock:
            if self._due(kid):
                await self._refresh()
            keys = self._keys
            if kid in keys.by_kid:
                return keys.by_kid[kid]
            if not keys.by_kid:
                raise KeysUnavailable("the Bot Framework signing keys could not be fetched")
            raise AuthError("token signed by an unknown key")

    def _usable(self, kid: str) -> bool:
        return kid in self._keys.by_kid

    def _due(self, kid: str) -> bool:
        """Whether to fetch the keys now, for a token naming `kid`."""
        keys, now = self._keys, time.monotonic()
        if keys.failures:
            # The last fetch failed: try again on the backoff schedule, whatever the key.
            return now >= keys.retry_at
        if now - keys.fetched_at > KEYS_MAX_AGE_SECONDS:
            return True
        # An unknown key id may be a rotation, or anyone's forgery: at most one fetch per
        # interval for those.
        return kid not in keys.by_kid and now - keys.fetched_at >= self._refresh_interval

    async def _refresh(self) -> None:
        """Fetch the OpenID metadata and its JWKS (Microsoft rotates its signing keys)."""
        try:
            metadata = (await self._http.get(self.metadata_url)).raise_for_status().json()
            jwks = (await self._http.get(metadata["jwks_uri"])).raise_for_status().json()
            by_kid: dict[str, tuple[Any, tuple[str, ...]]] = {}
            for jwk in jwks.get("keys", []):
                if jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
                    continue
                endorsements = tuple(jwk.get("endorsements") or ())
                by_kid[jwk["kid"]] = (RSAAlgorithm.from_jwk(json.dumps(jwk)), endorsements)
        except (httpx.HTTPError, KeyError, ValueError, TypeError, AttributeError) as exc:
            # Keep the keys we had (last known good) and try again soon.
            keys = self._keys
            keys.failures += 1
            delay = self._fetch_retry.backoff(keys.failures)
            keys.retry_at = time.monotonic() + delay
            log.error(
                "could not fetch the Bot Framework signing keys (%s, failure %d); "
                "%d keys kept, next try in %.1f s",
                type(exc).__name__, keys.failures, len(keys.by_kid), delay,
            )  # fmt: skip
            return
        if self._keys.failures:
            log.info("Bot Framework signing keys fetched again after %d failures",
                     self._keys.failures)  # fmt: skip
        self._keys = _Keys(by_kid, time.monotonic())
        log.info("loaded %d Bot Framework signing keys", len(by_kid))


def _url(value: str) -> str:
    return value.strip().rstrip("/").lower()
