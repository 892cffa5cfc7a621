"""aiohttp apps on real loopback ports, each in a thread with its own event loop.

A thread of its own matters: the code under test may block its own loop (botbuilder does),
and a stand-in on that loop would then never answer.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass

from aiohttp import web


@dataclass
class ThreadedServer:
    base_url: str
    app: web.Application
    _loop: asyncio.AbstractEventLoop
    _runner: web.AppRunner
    _thread: threading.Thread

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def serve_in_thread(
    app: web.Application, name: str = "stand-in", ssl_context: ssl.SSLContext | None = None
) -> ThreadedServer:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None)

    async def serve() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"{'https' if ssl_context else 'http'}://{host}:{port}"

    base_url = asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    return ThreadedServer(base_url, app, loop, runner, thread)
