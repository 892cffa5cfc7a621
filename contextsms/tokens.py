"""Access tokens: log in on first use, renew before expiry, and share one renewal.

Every caller that finds the token stale joins the same renewal task, so a burst of calls with an
expired token costs one refresh. The task is shielded: a caller whose deadline passes stops
waiting without cancelling the renewal the others are waiting for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from contextsms.errors import Unauthorized
from contextsms.models import TokenResponse

log = logging.getLogger("contextsms.tokens")

LoginFn = Callable[[], Awaitable[TokenResponse]]
RefreshFn = Callable[[str], Awaitable[TokenResponse]]


class TokenManager:
    def __init__(
        self,
        login: LoginFn,
        refresh: RefreshFn,
        *,
        renew_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._login = login
        self._refresh = refresh
        self._renew_margin = renew_margin
        self._clock = clock
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._renew_at = 0.0
        self._task: asyncio.Task[str] | None = None

    async def token(self, timeout: float | None = None) -> str:
        """A token that is valid now, renewing it first when it is due."""
        if self._access is not None and self._clock() < self._renew_at:
            return self._access
        return await self._join_renewal(timeout)

    async def rejected(self, token: str, timeout: float | None = None) -> str:
        """The server answered 401 to `token`: renew it, unless another caller already has."""
        if self._task is not None and not self._task.done():
            return await self._join_renewal(timeout)
        if self._access is not None and self._access != token:
            return self._access
        self._renew_at = 0.0
        return await self._join_renewal(timeout)

    def forget(self) -> None:
        self._access = None
        self._refresh_token = None
        self._renew_at = 0.0

    async def _join_renewal(self, timeout: float | None) -> str:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._renew())
            # Retrieve the outcome even when every waiter gave up, so asyncio never reports
            # an exception that was never retrieved.
            self._task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.wait_for(asyncio.shield(self._task), timeout)

    async def _renew(self) -> str:
        answer: TokenResponse | None = None
        if self._refresh_token is not None:
            try:
                answer = await self._refresh(self._refresh_token)
            except Unauthorized:
                log.info("refresh token refused; logging in again")
        if answer is None:
            answer = await self._login()
        self._store(answer)
        assert self._access is not None
        return self._access

    def _store(self, answer: TokenResponse) -> None:
        now = self._clock()
        self._access = answer.access_token.get_secret_value()
        if answer.refresh_token is not None:
            self._refresh_token = answer.refresh_token.get_secret_value()
        if answer.expiration_time_in_utc is None:
            # Unknown lifetime: keep the token until the server refuses it.
            self._renew_at = float("inf")
            return
        expires = answer.expiration_time_in_utc.timestamp()
        lifetime = max(0.0, expires - now)
        # Renew a little early, but never so early that a short-lived token is renewed on
        # every call.
        self._renew_at = expires - min(self._renew_margin, lifetime / 10)
