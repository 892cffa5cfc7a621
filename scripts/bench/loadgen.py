"""The load generator, a process of its own: `concurrency` clients, each sending its next
request as soon as the last is answered, for `seconds`; then one JSON line of figures.

    python -m scripts.bench.loadgen PLAN.json

A request counts as served only if answered 2xx (and, for a card action, with a card): a fast
error is not a result. The `map` scenario sends pairs: `map <new number>` in a channel, then a
click on the Unmap confirmation of that mapping (its id looked up in ContextSMS by the load
generator, as the card the bot posted would hold it), so the enterprise does not grow.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import BaseModel, SecretStr

from bot.actions import ActionSigner, CardVerb
from contextsms.client import ContextSMSClient
from scripts.bench.layout import card_action, message, place

CARD = "application/vnd.microsoft.card.adaptive"


class Account(BaseModel):
    base_url: str
    username: str
    password: str
    csp_id: str


class Plan(BaseModel):
    url: str
    token: str
    scenario: str  # help, status, map, card; or echo (any text)
    concurrency: int
    seconds: float
    service_url: str
    enterprise: str = ""
    card_key: str = ""  # the bot's BOT_CARD_SIGNING_KEY
    first_place: int = 0  # where in the layout this phase starts
    first_number: int = 0  # map: numbers +1555NNNNNNN from this one
    account: Account | None = None  # map: to look the new mapping's id up


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)  # of served requests, seconds
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    messages: int = 0  # messages served (each should have its reply at the connector)
    first_error: str | None = None

    def failed(self, why: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = why[:500]


def percentile(ordered: list[float], share: float) -> float:
    """The smallest value with at least `share` of the values at or under it."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share + 0.999999) - 1))]


class Load:
    def __init__(self, plan: Plan, http: aiohttp.ClientSession) -> None:
        self.plan = plan
        self.http = http
        self.figures = Figures()
        self.counter = itertools.count()
        self.signer = ActionSigner(plan.card_key.encode()) if plan.card_key else None
        self.headers = {"Authorization": f"Bearer {plan.token}",
                        "Content-Type": "application/json"}  # fmt: skip
        self.client: ContextSMSClient | None = None
        if plan.account is not None:
            self.client = ContextSMSClient(
                base_url=plan.account.base_url, username=plan.account.username,
                password=SecretStr(plan.account.password), csp_id=plan.account.csp_id,
            )  # fmt: skip

    async def post(self, activity: dict[str, Any], card_says: str | None = None) -> bool:
        """One request, timed; True if served. `card_says`: a card action, whose answer must
        be a card with these words."""
        started = time.perf_counter()
        figures = self.figures
        try:
            async with self.http.post(
                self.plan.url, data=json.dumps(activity).encode(), headers=self.headers
            ) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            figures.statuses[type(exc).__name__] += 1
            figures.failed(f"{type(exc).__name__}: {exc}")
            return False
        elapsed = time.perf_counter() - started
        figures.statuses[str(status)] += 1
        if not 200 <= status < 300:
            figures.failed(f"HTTP {status}: {body[:300]!r}")
            return False
        if card_says is not None:
            answer = json.loads(body) if body else {}
            if (answer.get("statusCode") != 200 or answer.get("type") != CARD
                    or card_says not in json.dumps(answer.get("value"))):  # fmt: skip
                figures.failed(f"card action answered {body[:300]!r}")
                return False
        else:
            figures.messages += 1
        figures.latencies.append(elapsed)
        return True

    async def one(self) -> None:
        i = next(self.counter)
        plan = self.plan
        where = place(plan.first_place + i)
        match plan.scenario:
            case "card":
                assert self.signer is not None
                await self.post(
                    card_action(where, self.signer, CardVerb.STATUS, plan.enterprise,
                                plan.service_url), card_says="Numbers in",
                )  # fmt: skip
            case "map":
                await self.pair(where, f"+1555{plan.first_number + i:07d}")
            case "echo":
                await self.post(message(where, "help", plan.service_url))
            case text:
                await self.post(message(where, text, plan.service_url))

    async def pair(self, where: Any, number: str) -> None:
        assert self.signer is not None and self.client is not None
        if not await self.post(message(where, f"map {number} Bench desk", self.plan.service_url)):
            return
        mapping = await self.client.find_mapping_by_app_id(where.channel)
        if mapping is None:
            self.figures.failed(f"no mapping in {where.channel} after map")
            return
        await self.post(
            card_action(where, self.signer, CardVerb.UNMAP_CONFIRM, self.plan.enterprise,
                        self.plan.service_url, mapping.id), card_says="Number unmapped",
        )  # fmt: skip

    async def worker(self, until: float) -> None:
        while time.perf_counter() < until:
            await self.one()


async def run(plan: Plan) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=plan.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        load = Load(plan, http)
        started = time.perf_counter()
        until = started + plan.seconds
        await asyncio.gather(*(load.worker(until) for _ in range(plan.concurrency)))
        elapsed = time.perf_counter() - started
        if load.client is not None:
            await load.client.aclose()
    figures = load.figures
    ordered = sorted(figures.latencies)
    served = len(ordered)
    return {
        "requests": served + figures.errors, "served": served, "errors": figures.errors,
        "messages": figures.messages,
        "elapsed": elapsed, "places_used": next(load.counter),
        "rps": served / elapsed if elapsed else 0.0,
        "p50_ms": percentile(ordered, 0.50) * 1000, "p95_ms": percentile(ordered, 0.95) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
        "statuses": dict(figures.statuses), "first_error": figures.first_error,
    }  # fmt: skip


def main() -> None:
    plan = Plan.model_validate_json(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(run(plan))), flush=True)


if __name__ == "__main__":
    main()
