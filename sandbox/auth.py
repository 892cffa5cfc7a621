"""Access and refresh tokens of the sandbox: signed JWTs (HS256) with a persisted key."""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from sandbox.records import Account

ACCESS = "access"
REFRESH = "refresh"


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    csp_id: str | None

    @property
    def is_partner(self) -> bool:
        """A platform partner account: may create CSPs and act on every CSP."""
        return self.role == "CSP_PARTNER"

    def may_act_on(self, csp_id: str) -> bool:
        return self.is_partner or self.csp_id == csp_id


class TokenError(Exception):
    pass


class TokenIssuer:
    def __init__(self, key: str, access_ttl: float, refresh_ttl: float) -> None:
        self._key = key
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        # Tokens issued before these instants are refused (fault injection: forced expiry).
        self.not_before_ms = {ACCESS: 0, REFRESH: 0}

    def issue(self, account: Account) -> dict[str, object]:
        now = time.time()
        # Expiry falls on a whole second so that `expirationTimeInUTC`, which the contract
        # writes to the second, is exactly when the token stops working.
        expires = math.ceil(now + self.access_ttl)
        common = {"sub": account.username, "role": account.role, "csp": account.csp_id,
                  "iat_ms": int(now * 1000)}  # fmt: skip
        access = jwt.encode(
            {**common, "typ": ACCESS, "exp": expires, "jti": secrets.token_hex(8)},
            self._key,
            algorithm="HS256",
        )
        refresh = jwt.encode(
            {**common, "typ": REFRESH, "exp": math.ceil(now + self.refresh_ttl),
             "jti": secrets.token_hex(8)},
            self._key,
            algorithm="HS256",
        )  # fmt: skip
        return {
            "username": account.username,
            "accessToken": access,
            "refreshToken": refresh,
            "expirationTimeInUTC": datetime.fromtimestamp(expires, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "roles": [account.role],
            "tenantId": account.csp_id,
            "services": ["Teams"],
        }

    def verify(self, token: str, kind: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.PyJWTError as exc:
            raise TokenError(type(exc).__name__) from None
        if claims.get("typ") != kind:
            raise TokenError("wrong token type")
        if int(claims.get("iat_ms", 0)) < self.not_before_ms[kind]:
            raise TokenError("revoked")
        return Principal(str(claims["sub"]), str(claims.get("role")), claims.get("csp"))

    def expire_issued(self, *, refresh: bool = False) -> None:
        """Make every access token issued so far (and refresh tokens too) stop working."""
        now_ms = int(time.time() * 1000) + 1
        self.not_before_ms[ACCESS] = now_ms
        if refresh:
            self.not_before_ms[REFRESH] = now_ms
