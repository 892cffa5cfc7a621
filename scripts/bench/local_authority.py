"""Runs a program with msal trusting a local Entra stand-in as it trusts Entra's own hosts.

Before msal uses an authority whose host is not on its list of Entra's hosts, it asks
login.microsoftonline.com about it ("instance discovery"): on an isolated machine that fails,
and Microsoft's answer for 127.0.0.1 would be no. The real hosts are on the list, so adding the
stand-in's host makes msal behave exactly as it does against Entra, and changes nothing else.

botbuilder's stock credentials (the echo bot) never turn discovery off. The bot's own
credentials should for a BOT_LOGIN_AUTHORITY that is not Entra's (as its Graph tokens do);
until they do, the bot runs under this too.

    python -m scripts.bench.local_authority HOST PROGRAM.py [ARGS...]
"""

from __future__ import annotations

import runpy
import sys

import msal.authority


def trust(host: str) -> None:
    """msal takes `host` (no port) for one of Entra's own."""
    known = msal.authority.WELL_KNOWN_AUTHORITY_HOSTS
    msal.authority.WELL_KNOWN_AUTHORITY_HOSTS = frozenset({*known, host})


def main() -> None:
    host, program, *args = sys.argv[1:]
    trust(host)
    sys.argv = [program, *args]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
