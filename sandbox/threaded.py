"""The sandbox server on a real loopback port in a thread of its own (standins/servers.py), with
its test controls: for the tests and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sandbox.seed import Seeded, seed
from sandbox.server import SANDBOX_KEY, SandboxApi, create_app
from sandbox.settings import SandboxSettings
from sandbox.store import Store
from standins.servers import ThreadedServer, serve_in_thread


@dataclass
class RunningSandbox:
    server: ThreadedServer
    settings: SandboxSettings
    seeded: Seeded

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v2"

    @property
    def api(self) -> SandboxApi:
        return self.server.app[SANDBOX_KEY]

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
        self.server.stop()


def start_sandbox(db: Path, **overrides: Any) -> RunningSandbox:
    settings = SandboxSettings(db=str(db), host="127.0.0.1", port=0, **overrides)
    store = Store(settings.db)
    seeded = seed(store, settings)
    return RunningSandbox(serve_in_thread(create_app(settings, store), "sandbox"), settings, seeded)
