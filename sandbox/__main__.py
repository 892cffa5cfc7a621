"""`python -m sandbox`: seed the database on first start, print the ids, serve."""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from sandbox.seed import seed
from sandbox.server import create_app
from sandbox.settings import load_sandbox_settings
from sandbox.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["serve", "seed"], default="serve")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_sandbox_settings()
    store = Store(settings.db)
    seeded = seed(store, settings)
    base = f"http://{settings.host}:{settings.port}/api/v2"
    print(
        f"ContextSMS sandbox {'seeded' if args.command == 'seed' else 'on ' + base}\n"
        f"  CSP id:        {seeded.csp_id}\n"
        f"  account:       {seeded.username} (CSP_BUSINESS; password from SANDBOX_PASSWORD)\n"
        f"  enterprise id: {seeded.enterprise_id} ({seeded.enterprise_name})\n"
        f"                 {seeded.email}: subscription active\n"
        f"  unpaid:        {seeded.unpaid_enterprise_id} ({seeded.unpaid_enterprise_name})\n"
        f"                 {seeded.unpaid_email}: subscription canceled, maps refused\n"
        f"  second CSP:    {seeded.second_csp_id} (brand {seeded.second_product})\n"
        f"                 account {seeded.second_username} (CSP_BUSINESS; password from "
        "SANDBOX_SECOND_PASSWORD)\n"
        f"                 enterprise {seeded.second_enterprise_id} "
        f"({seeded.second_enterprise_name}), {seeded.second_email}: subscription active\n"
        f"  partner:       {seeded.partner_username} (CSP_PARTNER, acts on every CSP; password "
        "from SANDBOX_PARTNER_PASSWORD)\n"
        f"  database:      {settings.db}",
        flush=True,
    )
    if args.command == "seed":
        store.close()
        return 0
    web.run_app(
        create_app(settings, store),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
