"""The CloudAdapter, with connector calls retried when Teams throttles or a gateway fails.

Teams limits how fast a bot may post (about 7 messages a second per conversation, and per
tenant); it answers 429 (or 412 for some concurrent updates), and gateways 502 or 504. Those
calls are repeated with exponential backoff and jitter, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ResourceResponse
from msrest.exceptions import HttpOperationError

from contextsms.retry import RetryPolicy, parse_retry_after

log = logging.getLogger("bot.adapter")

RETRY_CONNECTOR_STATUSES = frozenset({412, 429, 502, 504})


def _status_of(exc: HttpOperationError) -> tuple[int | None, str | None]:
    response: Any = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    headers = getattr(response, "headers", None) or {}
    return (int(status) if status else None), headers.get("Retry-After")


class RetryingCloudAdapter(CloudAdapter):  # type: ignore[misc]
    def __init__(self, *args: Any, retry: RetryPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry = retry or RetryPolicy(max_retries=4, base_delay=0.5, max_delay=8.0)

    async def _with_retries(self, what: str, call: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await call()
            except HttpOperationError as exc:
                status, retry_after = _status_of(exc)
                attempt += 1
                if status not in RETRY_CONNECTOR_STATUSES or attempt > self.retry.max_retries:
                    raise
                delay = parse_retry_after(retry_after)
                if delay is None:
                    delay = self.retry.backoff(attempt)
                log.warning(
                    "connector %s answered %s; retry %d in %.1fs", what, status, attempt, delay
                )
                await asyncio.sleep(delay)

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses: list[ResourceResponse] = []
        for activity in activities:
            # One at a time, so that a retry never posts an earlier activity twice.
            sent = await self._with_retries(
                "send",
                lambda a=activity: super(RetryingCloudAdapter, self).send_activities(context, [a]),
            )
            responses.extend(sent)
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> Any:
        return await self._with_retries(
            "update", lambda: super(RetryingCloudAdapter, self).update_activity(context, activity)
        )
