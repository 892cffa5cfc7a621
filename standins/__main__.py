"""`python -m standins`: Microsoft's side of a Teams bot in a process of its own, for the
benchmark (a bot started as in production, with every Microsoft endpoint local).

- over HTTPS, one host (msal insists on HTTPS): the Bot Framework's OpenID metadata and signing
  keys, Entra's token endpoint of the bot's own tenant (botframework.com) and of each customer
  tenant, and Microsoft Graph's team members (`--owner` owns every team of each `--tenant`);
- over HTTP: the Bot Connector, counting replies without keeping them
  (`GET /_standin/counts`; `POST /_standin/counts {"expect": words}` starts afresh).

It prints one JSON line: the URLs, the CA file to trust, and an inbound token signed for
`--app-id` and the connector (valid `--token-hours`), which a load generator may send.

    python -m standins --tls-dir var/bench/tls --app-id APP --owner USER --tenant T [--tenant T2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from aiohttp import web

from standins.botframework import Connector, Identity
from standins.graph import GraphStandIn, Member
from standins.tls import make_ca

BOT_TENANT = "botframework.com"  # the multi-tenant bot's own Entra tenant


def merged(*apps: web.Application) -> web.Application:
    """One app serving the routes of each, the first app's first (its routes win)."""
    app = web.Application()
    for part in apps:
        for route in part.router.routes():
            info = route.resource.get_info() if route.resource is not None else {}
            path = info.get("formatter") or info.get("path")
            if path is not None and route.method != "HEAD":
                app.router.add_route(route.method, path, route.handler)
    return app


async def serve(args: argparse.Namespace) -> None:
    args.tls_dir.mkdir(parents=True, exist_ok=True)
    ca = make_ca(args.tls_dir)
    identity = Identity(ssl_context=ca.server_context, entra_tenant=BOT_TENANT, start=False)
    owner = Member(args.owner, "Owner", ("owner",))
    graph = GraphStandIn(
        ssl_context=ca.server_context, client_secret=args.client_secret, start=False,
        members_of_any_team={tenant.lower(): [owner] for tenant in args.tenant},
    )  # fmt: skip
    connector = Connector(keep=False, start=False)
    runners = []
    for app, context in ((merged(identity.app(), graph.app()), ca.server_context),
                         (connector.app(), None)):  # fmt: skip
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
        runners.append(runner)
    https_port, http_port = (runner.addresses[0][1] for runner in runners)
    identity.base_url = graph.base_url = f"https://127.0.0.1:{https_port}"
    connector.base_url = f"http://127.0.0.1:{http_port}"
    token = identity.sign(
        identity.claims(args.app_id, connector.url, exp=int(time.time() + args.token_hours * 3600))
    )
    print(json.dumps({
        "metadata_url": identity.metadata_url, "login_authority": identity.base_url,
        "graph_url": graph.base_url, "connector_url": connector.url,
        "ca_file": str(ca.ca_file.resolve()), "token": token,
    }), flush=True)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m standins", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--tls-dir", type=Path, required=True, help="where the CA is written")
    parser.add_argument("--app-id", required=True, help="the bot's app id (inbound audience)")
    parser.add_argument("--owner", required=True, help="Entra object id owning every team")
    parser.add_argument("--tenant", action="append", default=[], help="a customer tenant")
    parser.add_argument(
        "--client-secret", default="bot-password",
        help="the secret the Graph tenants' token endpoint accepts",
    )  # fmt: skip
    parser.add_argument("--token-hours", type=float, default=4.0)
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
