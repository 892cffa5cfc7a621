"""The sandbox's test controls under /_sandbox (stats, faults, forced token expiry) and the
middleware that injects the faults. Part of the sandbox only, never of the contract."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from sandbox.auth import TokenIssuer
from sandbox.faults import FaultPlan, Faults, InvalidPlan, ScriptedFault, parse_plan
from sandbox.wire import Handler, bad_request, read_object, server_error_body

CONTROLS = "/_sandbox"


@dataclass
class Stats:
    logins: int = 0
    refreshes: int = 0
    rejected_tokens: int = 0
    requests: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "logins": self.logins,
            "refreshes": self.refreshes,
            "rejectedTokens": self.rejected_tokens,
            "requests": dict(self.requests),
        }


class Controls:
    def __init__(self, tokens: TokenIssuer, default_plan: FaultPlan) -> None:
        self.tokens = tokens
        self.default_path_prefix = default_plan.path_prefix
        self.faults = Faults(default_plan)
        self.stats = Stats()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{CONTROLS}/stats", self.get_stats),
            web.post(f"{CONTROLS}/stats/reset", self.reset_stats),
            web.get(f"{CONTROLS}/faults", self.get_faults),
            web.put(f"{CONTROLS}/faults", self.put_faults),
            web.post(f"{CONTROLS}/revoke-tokens", self.revoke_tokens),
        ]

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_json())

    async def reset_stats(self, request: web.Request) -> web.Response:
        self.stats = Stats()
        return web.json_response(self.stats.as_json())

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults.plan.model_dump())

    async def put_faults(self, request: web.Request) -> web.Response:
        try:
            plan = parse_plan(await read_object(request))
        except InvalidPlan as exc:
            raise bad_request(f"Invalid fault plan: {exc}") from None
        if not plan.path_prefix:
            plan.path_prefix = self.default_path_prefix
        self.faults.set(plan)
        return web.json_response(plan.model_dump())

    async def revoke_tokens(self, request: web.Request) -> web.Response:
        body = await read_object(request) if request.can_read_body else {}
        refresh = body.get("refresh") is True
        self.tokens.expire_issued(refresh=refresh)
        return web.json_response({"access": True, "refresh": refresh})

    @web.middleware
    async def inject_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self.faults.take(request.method, request.path)
        if fault is None:
            return await handler(request)
        served = await handler(request) if fault.after_handler else None
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.status is not None:
            return fault_response(request, fault, fault.status)
        return served if served is not None else await handler(request)


def fault_response(request: web.Request, fault: ScriptedFault, status: int) -> web.Response:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
    reason = HTTPStatus(status).phrase
    if fault.html:
        page = f"<html><body><h1>{status} {reason}</h1></body></html>"
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)
    message = "Internal server error" if status == 500 else reason
    return web.json_response(server_error_body(request, message), status=status, headers=headers)
