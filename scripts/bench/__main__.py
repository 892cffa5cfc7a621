"""`python -m scripts.bench`: see scripts/bench/__init__.py. `--quick`: one concurrency, 2 s
phases, nothing written (a smoke run)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.audit import Audit
from bot.settings import load_settings
from bot.storage.factory import open_storage
from bot.tenancy import tenancy_from_settings
from sandbox.seed import Seeded, seed
from sandbox.settings import SandboxSettings, load_sandbox_settings
from sandbox.store import Store
from scripts.bench import report
from scripts.bench.layout import APP_ID, APP_PASSWORD, OWNER_ID, PLACES, TENANTS
from scripts.bench.loadgen import Account, Plan
from scripts.bench.procs import ROOT, Process, Processes, answers, free_port, listens, machine


@dataclass(frozen=True)
class Scenario:
    target: str  # ours, echo, bare
    name: str  # what the load sends (loadgen's scenario)
    label: str
    reply_says: str | None  # the words of each message's reply at the connector; None: none


SCENARIOS = (
    Scenario("ours", "help", "ours, help", "for Teams"),
    Scenario("ours", "status", "ours, status", "Numbers in"),
    Scenario("ours", "map", "ours, map + unmap", "Number mapped"),
    Scenario("ours", "card", "ours, card action status", None),
    Scenario("echo", "echo", "stock echo bot", "Echo: "),
    Scenario("bare", "echo", "bare aiohttp handler", None),
)


@dataclass
class Stack:
    processes: Processes
    targets: dict[str, tuple[Process, str]]  # name -> (process, /api/messages URL)
    standins: dict[str, str]
    seeded: Seeded
    sandbox: SandboxSettings
    card_key: str


def start_stack(tmp: Path, latency_ms: int) -> Stack:
    processes = Processes(tmp)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "BOT_"))}
    base_env["PYTHONPATH"] = str(ROOT)
    try:
        sandbox_port = free_port()
        sandbox_env = {**base_env, "SANDBOX_DB": str(tmp / "sandbox.db"),
                       "SANDBOX_PORT": str(sandbox_port),
                       "SANDBOX_FAULT_LATENCY_MS": str(latency_ms)}  # fmt: skip
        sandbox = load_sandbox_settings(db=str(tmp / "sandbox.db"), port=sandbox_port)
        store = Store(sandbox.db)
        seeded = seed(store, sandbox)
        store.close()
        process = processes.start("sandbox", ["-m", "sandbox"], sandbox_env)
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        processes.wait_until(process, answers(f"{sandbox_url}/_sandbox/stats"))

        tenants = [arg for tenant in TENANTS for arg in ("--tenant", tenant)]
        process = processes.start(
            "standins",
            ["-m", "standins", "--tls-dir", str(tmp / "tls"), "--app-id", APP_ID,
             "--owner", OWNER_ID, *tenants],
            base_env, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert process.popen.stdout is not None
        line = process.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"the stand-ins did not start:\n{process.tail()}")
        standins: dict[str, str] = json.loads(line)

        card_key = secrets.token_hex(32)
        account = {"base_url": f"{sandbox_url}/api/v2", "username": sandbox.username,
                   "password": sandbox.password.get_secret_value(), "csp_id": seeded.csp_id,
                   "enterprise_id": seeded.enterprise_id, "tenant_id": TENANTS[0]}  # fmt: skip
        bot_port = free_port()
        bot_env = {
            **base_env, **{f"CONTEXTSMS_{k.upper()}": v for k, v in account.items()},
            "MicrosoftAppId": APP_ID, "MicrosoftAppPassword": APP_PASSWORD,
            "MicrosoftAppType": "MultiTenant",
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": standins["metadata_url"],
            "BOT_LOGIN_AUTHORITY": standins["login_authority"],
            "BOT_GRAPH_URL": standins["graph_url"],
            "REQUESTS_CA_BUNDLE": standins["ca_file"], "SSL_CERT_FILE": standins["ca_file"],
            "BOT_STORAGE": "sqlite", "BOT_STORAGE_PATH": str(tmp / "bot.db"),
            "BOT_CARD_SIGNING_KEY": card_key, "HOST": "127.0.0.1", "PORT": str(bot_port),
        }  # fmt: skip
        asyncio.run(link_tenants(account, bot_env))
        process = processes.start("bot", [str(ROOT / "app.py")], bot_env)
        processes.wait_until(process, answers(f"http://127.0.0.1:{bot_port}/readyz"))
        targets = {"ours": (process, f"http://127.0.0.1:{bot_port}/api/messages")}

        echo_port = free_port()
        echo_env = {
            **base_env, "MicrosoftAppId": APP_ID, "MicrosoftAppPassword": APP_PASSWORD,
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": standins["metadata_url"],
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": f"{standins['login_authority']}/botframework.com",
            "REQUESTS_CA_BUNDLE": standins["ca_file"], "SSL_CERT_FILE": standins["ca_file"],
            "PORT": str(echo_port),
        }  # fmt: skip
        process = processes.start("echo", ["-m", "scripts.bench.echo_bot"], echo_env)
        processes.wait_until(process, listens(echo_port))
        targets["echo"] = (process, f"http://127.0.0.1:{echo_port}/api/messages")

        bare_port = free_port()
        process = processes.start(
            "bare", ["-m", "scripts.bench.bare", "--port", str(bare_port)], base_env
        )
        processes.wait_until(process, listens(bare_port))
        targets["bare"] = (process, f"http://127.0.0.1:{bare_port}/api/messages")
    except BaseException:
        processes.stop_all()
        raise
    return Stack(processes, targets, standins, seeded, sandbox, card_key)


async def link_tenants(account: dict[str, str], bot_env: dict[str, str]) -> None:
    """Every tenant of the load linked to the enterprise, as an operator's setup codes would
    (the first is the settings' single organization, linked by the bot at its start)."""
    settings = load_settings(
        contextsms={k: v for k, v in account.items()},
        bot={"MicrosoftAppId": APP_ID, "MicrosoftAppPassword": APP_PASSWORD,
             "bot_storage_path": bot_env["BOT_STORAGE_PATH"]},
    )  # fmt: skip
    storage = await open_storage(settings.bot)
    try:
        tenancy = tenancy_from_settings(settings, storage, Audit(storage))
        for tenant in TENANTS:
            await tenancy.link_from_settings(tenant, account["enterprise_id"])
    finally:
        await storage.aclose()


class Bench:
    def __init__(self, stack: Stack, tmp: Path, seconds: float) -> None:
        self.stack = stack
        self.tmp = tmp
        self.seconds = seconds
        self.next_place = 0
        self.next_number = 3_000_000
        self.connector = httpx.Client(base_url=stack.standins["connector_url"], timeout=10)

    def load(self, scenario: Scenario, concurrency: int, seconds: float) -> dict[str, Any]:
        stack = self.stack
        plan = Plan(
            url=stack.targets[scenario.target][1], token=stack.standins["token"],
            scenario=scenario.name, concurrency=concurrency, seconds=seconds,
            service_url=stack.standins["connector_url"], enterprise=stack.seeded.enterprise_id,
            card_key=stack.card_key, first_place=self.next_place,
            first_number=self.next_number,
            account=Account(
                base_url=f"http://127.0.0.1:{stack.sandbox.port}/api/v2",
                username=stack.sandbox.username,
                password=stack.sandbox.password.get_secret_value(), csp_id=stack.seeded.csp_id,
            ),
        )  # fmt: skip
        path = self.tmp / "plan.json"
        path.write_text(plan.model_dump_json())
        done = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "scripts.bench.loadgen", str(path)], cwd=ROOT,
            capture_output=True, text=True, timeout=seconds + 120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"the load generator failed:\n{done.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        self.next_place = (self.next_place + figures["places_used"]) % PLACES
        self.next_number += figures["places_used"] + 1
        return figures

    def replies(self, expect: str | None, since: dict[str, Any] | None = None) -> dict[str, Any]:
        """The connector's counts; with `since`, once they stop growing (replies may be posted
        after the request was answered)."""
        if since is None:
            answer: dict[str, Any] = self.connector.post(
                "/_standin/counts", json={"expect": expect or ""}
            ).json()
            return answer
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            counts: dict[str, Any] = self.connector.get("/_standin/counts").json()
            if counts["replies"] != last:
                last, stable_since = counts["replies"], time.monotonic()
            elif time.monotonic() - stable_since > 0.5:
                break
            time.sleep(0.1)
        return counts

    def phase(self, scenario: Scenario, concurrency: int) -> dict[str, Any]:
        process = self.stack.targets[scenario.target][0]
        self.replies(scenario.reply_says)
        cpu_before = process.cpu_seconds()
        figures = self.load(scenario, concurrency, self.seconds)
        cpu_after = process.cpu_seconds()
        counts = self.replies(scenario.reply_says, since={})
        requests = figures["requests"]
        expected = figures["messages"] if scenario.reply_says is not None else 0
        row = {
            "target": scenario.target, "scenario": scenario.name, "label": scenario.label,
            "concurrency": concurrency, **{k: figures[k] for k in (
                "requests", "served", "errors", "rps", "p50_ms", "p95_ms", "p99_ms", "max_ms",
                "statuses", "first_error", "elapsed")},
            "cpu_ms_per_request": (cpu_after - cpu_before) * 1000 / requests if requests else None,
            "peak_rss_mb": process.memory_mb("VmHWM"), "rss_mb": process.memory_mb("VmRSS"),
            "replies": counts["replies"], "replies_expected": expected,
            "replies_right": counts["expected"] if scenario.reply_says else None,
            "wrong_reply_sample": counts["unexpected_sample"] if scenario.reply_says else None,
        }  # fmt: skip
        return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="concurrency 8, 2 s phases, nothing written")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--latency-ms", type=int, default=20, help="the sandbox's answer time")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    concurrencies = [8] if args.quick else [int(c) for c in args.concurrency.split(",")]
    seconds = 2.0 if args.quick else args.seconds
    warm_up = 0.5 if args.quick else 1.0
    command = "python -m scripts.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-") as name:
        tmp = Path(name)
        print("starting the sandbox, the stand-ins, the bot and the anchors...", flush=True)
        stack = start_stack(tmp, args.latency_ms)
        print(f"ready in {time.time() - started:.0f} s", flush=True)
        rows: list[dict[str, Any]] = []
        try:
            bench = Bench(stack, tmp, seconds)
            for scenario in SCENARIOS:
                bench.load(scenario, 8, warm_up)  # caches, pools, tokens: not measured
                for concurrency in concurrencies:
                    row = bench.phase(scenario, concurrency)
                    rows.append(row)
                    print(report.line(row), flush=True)
        except BaseException:
            for process in stack.processes.started:
                if process.popen.poll() is not None:
                    print(f"{process.name} exited:\n{process.tail()}", file=sys.stderr)
            raise
        finally:
            stack.processes.stop_all()
    results = {
        "machine": machine(), "command": command.strip(), "started": started,
        "duration_s": time.time() - started, "phase_seconds": seconds,
        "sandbox_latency_ms": args.latency_ms, "rows": rows, "ratios": report.ratios(rows),
    }  # fmt: skip
    print()
    print(report.table(results))
    if not args.quick:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=1) + "\n")
        report.write_docs(results, args.docs)
        print(f"\nwrote {args.results}, {args.docs} and its chart")
    problems = report.problems(rows)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
