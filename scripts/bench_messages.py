"""Messages per second through the whole bot: JWT validation, the turn, a ContextSMS call and
the reply to the connector, with a token endpoint that takes 200 ms (as Entra's can).

    .venv/bin/python scripts/bench_messages.py [--messages 300] [--concurrency 10]

Everything runs on loopback: the sandbox, stand-ins of the Bot Framework identity endpoints, of
the Bot Connector and of Microsoft Graph with its per-tenant Entra (standins/), and the bot's app
from `create_app`, its storage a SQLite file. The messages come from the owner of a team of a
tenant linked to the sandbox's enterprise. It compares the
bot's cached credentials with credentials built anew for every activity, as botbuilder's stock
factory does (and with new connector clients for every activity, as botbuilder does).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from botframework.connector.auth import AppCredentials
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import SERVICES, create_app
from bot.credentials import CachedAppCredentials, CachedCredentialsFactory
from bot.graph import MsalTenantTokens
from bot.settings import load_settings
from sandbox.threaded import start_sandbox
from standins.botframework import Connector, Identity
from standins.graph import GraphStandIn, Member
from standins.tls import make_ca

APP_ID = "11111111-2222-3333-4444-555555555555"
TENANTS = [f"7e7e7e7e-0000-4000-8000-{i:012d}" for i in range(1, 17)]
CHANNELS = [f"19:channel-{i}@thread.tacv2" for i in range(64)]  # channel i: tenant i % 16
TENANT = TENANTS[0]
OWNER = Member("a1e0a1e0-0000-4000-8000-0000000000a1", "Alex", ("owner",))


class StockLikeFactory(CachedCredentialsFactory):
    """New credentials, and so a new token, for every activity, fetched on the event loop."""

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:  # fmt: skip
        fetch = self._token_source(app_id, "authority", self._password, [oauth_scope])
        credentials = CachedAppCredentials(app_id, "botframework.com", oauth_scope, fetch)
        credentials.get_access_token()  # synchronous, as msal is in the stock factory
        return credentials


async def run(factory_cls: type[CachedCredentialsFactory], messages: int, concurrency: int,
              text: str, tmp: Path) -> dict[str, float]:  # fmt: skip
    name = factory_cls.__name__
    sandbox = start_sandbox(tmp / f"{name}.db")
    identity, connector = Identity(), Connector()
    ca_dir = tmp / f"{name}-ca"
    ca_dir.mkdir()
    ca = make_ca(ca_dir)
    graph = GraphStandIn(ssl_context=ca.server_context)
    for i, channel in enumerate(CHANNELS):
        graph.set_team(connector.group_of(channel), TENANTS[i % len(TENANTS)], [OWNER])
    settings = load_settings(
        contextsms={"base_url": sandbox.api_url, "username": sandbox.settings.username,
                    "password": sandbox.settings.password, "csp_id": sandbox.seeded.csp_id,
                    "enterprise_id": sandbox.seeded.enterprise_id, "tenant_id": TENANT},
        bot={"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": "bot-password",
             "to_bot_from_channel_openid_metadata_url": identity.metadata_url,
             "bot_storage_path": str(tmp / f"{name}-bot.db"), "bot_graph_url": graph.base_url},
    )  # fmt: skip
    factory = factory_cls(
        APP_ID, settings.bot.MicrosoftAppPassword, token_source=identity.token_source()
    )
    app = await create_app(
        settings, credentials_factory=factory,
        graph_tokens=MsalTenantTokens(
            APP_ID, SecretStr("bot-password"), graph.base_url, verify=str(ca.ca_file)
        ),
        http=httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca.ca_file)),
    )  # fmt: skip
    if factory_cls is StockLikeFactory:
        # Stock botbuilder also builds new connector clients for every activity.
        adapter = app[SERVICES].adapter
        adapter.bot_framework_authentication = adapter.bot_framework_authentication._inner
    for tenant in TENANTS[1:]:  # the first is linked by the settings
        await app[SERVICES].tenancy.link_from_settings(tenant, sandbox.seeded.enterprise_id)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    token = identity.sign(identity.claims(APP_ID, connector.url))

    def activity(i: int) -> dict[str, Any]:
        channel, tenant = CHANNELS[i % len(CHANNELS)], TENANTS[i % len(TENANTS)]
        return {
            "type": "message", "channelId": "msteams", "serviceUrl": connector.url,
            "from": {"id": "29:a", "name": OWNER.display_name, "aadObjectId": OWNER.user_id},
            "recipient": {"id": "28:bot"}, "text": f"<at>Bot</at> {text}",
            "conversation": {"id": channel, "conversationType": "channel", "tenantId": tenant},
            "channelData": {"teamsChannelId": channel, "channel": {"id": channel},
                            "team": {"id": channel}, "tenant": {"id": tenant}},
        }  # fmt: skip

    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(messages):
        queue.put_nowait(i)
    async with httpx.AsyncClient(timeout=60) as http:
        # One warm-up message: log in to ContextSMS, fetch the signing keys.
        await http.post(f"http://{host}:{port}/api/messages", json=activity(0),
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                response = await http.post(
                    f"http://{host}:{port}/api/messages", json=activity(i),
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
                assert response.status_code == 201, response.text
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    await runner.cleanup()
    for server in (identity.server, connector.server):
        server.stop()
    graph.stop()
    sandbox.stop()
    refused = [c for c in connector.cards() if "Numbers in" not in str(c)]
    if text == "status" and refused:  # figures of refusals would measure the wrong thing
        raise SystemExit(f"{len(refused)} answers were not the channel's numbers: {refused[0]}")
    latencies.sort()
    return {
        "messages/s": messages / elapsed,
        "p50 ms": statistics.median(latencies) * 1000,
        "p95 ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "token fetches": identity.token_requests,
        "replies": len(connector.received),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--text", default="status", help="the command each message carries")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, cls in (("cached credentials (ours)", CachedCredentialsFactory),
                          ("new credentials per activity", StockLikeFactory)):  # fmt: skip
            count = (
                args.messages if cls is CachedCredentialsFactory else max(20, args.messages // 10)
            )
            figures = asyncio.run(run(cls, count, args.concurrency, args.text, Path(tmp)))
            shown = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in figures.items())  # fmt: skip
            print(
                f"{name:30} {count} messages '{args.text}', concurrency {args.concurrency}: {shown}"
            )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the benchmark process (bot, sandbox and stand-ins together): {rss:.0f} MB")


if __name__ == "__main__":
    main()
