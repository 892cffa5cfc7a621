"""The sandbox server on a real loopback port, in a thread with its own event loop, so that
tests on any event loop talk to it over real HTTP."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from sandbox.seed import Seeded, seed
from sandbox.server import SANDBOX_KEY, SandboxApi, create_app
from sandbox.settings import SandboxSettings
from sandbox.store import Store


@dataclass
class RunningSandbox:
    base_url: str
    settings: SandboxSettings
    seeded: Seeded
    app: web.Application
    _loop: asyncio.AbstractEventLoop
    _runner: web.AppRunner
    _thread: threading.Thread

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v2"

    @property
    def api(self) -> SandboxApi:
        return self.app[SANDBOX_KEY]

    @property
    def store(self) -> Store:
        return self.api.store

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.base_url}/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "stats")
        return result

    def reset(self) -> None:
        self.control("PUT", "faults", {})
        self.control("POST", "stats/reset")

    def faults(self, **plan: Any) -> None:
        self.control("PUT", "faults", plan)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def start_sandbox(db: Path, **overrides: Any) -> RunningSandbox:
    settings = SandboxSettings(db=str(db), host="127.0.0.1", port=0, **overrides)
    store = Store(settings.db)
    seeded = seed(store, settings)
    app = create_app(settings, store)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sandbox", daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None)

    async def serve() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    base_url = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    return RunningSandbox(base_url, settings, seeded, app, loop, runner, thread)
