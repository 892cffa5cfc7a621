"""The local stack: the sandbox (seeded), a Microsoft Graph stand-in, the bot in local
development mode, and Microsoft 365 Agents Playground as the Teams client. `make run` runs
`python devstack.py`; the end-to-end tests start the same stack on free ports with
`start_stack`.

The Playground's Teams (tenant, users, team) is `.m365agentsplayground.yml`. Its tenant is
linked to the seeded enterprise at the bot's start, as a single-organization deployment's is.
Who owns the team comes from the Graph stand-in (`python -m standins.graph`: the signed-in
user "Me" is an owner, "User 1" an ordinary member), over HTTPS with a throwaway CA, with
tokens from the stand-in's per-tenant Entra endpoint through msal, exactly as in production;
the bot trusts that CA through REQUESTS_CA_BUNDLE (msal) and SSL_CERT_FILE (httpx).
"""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from sandbox.settings import SandboxSettings, load_sandbox_settings

ROOT = Path(__file__).resolve().parent
# The tenant the Agents Playground puts on its activities (`tenantId` of its config), linked
# to the seeded enterprise at the bot's start, as a single-organization deployment is.
PLAYGROUND_TENANT = "5b658416-0de4-4d67-95b4-2751e5a69d3d"
PLAYGROUND_CONFIG = ROOT / ".m365agentsplayground.yml"
PLAYGROUND = ROOT / "node_modules/.bin/agentsplayground"
# The bot's app id in the Playground (`bot.id` of its config); in local development it only
# names the app registration whose Graph tokens the stand-in hands out.
LOCAL_APP_ID = "00000000-0000-0000-0000-00000000000011"
LOCAL_APP_PASSWORD = "local-development-only"  # noqa: S105 (the stand-in accepts any)


@dataclass
class Stack:
    sandbox_url: str
    bot_url: str
    playground_url: str
    graph_url: str
    enterprise_id: str  # the demo enterprise, linked to the Playground's tenant
    branded_enterprise_id: str  # the second CSP's enterprise: its cards carry that CSP's brand
    csp_id: str  # the CSP of the operator commands
    account: str  # the bot's ContextSMS account
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)
    # The bot's environment: `python -m bot.admin` run with it acts on the same storage.
    bot_env: dict[str, str] = field(default_factory=dict)

    def admin(self, *args: str) -> Any:
        """`python -m bot.admin ARGS --json` on the bot's settings and storage: its answer."""
        done = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "bot.admin", *args, "--json"], env=self.bot_env, cwd=ROOT,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"bot.admin {' '.join(args)} failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _seeded_id(banner: str, pattern: str) -> str:
    """The id that `pattern` (a regular expression with one group) finds on a line of the
    sandbox's banner."""
    found = re.search(pattern, banner, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"the sandbox's banner has no {pattern!r}:\n{banner}")
    return found.group(1)


def _sandbox_overrides(env: dict[str, str]) -> dict[str, str]:
    """The SANDBOX_* settings of the sandbox's environment, as keyword arguments (the stack's
    extra environment may set some that this process's environment does not)."""
    return {
        key.removeprefix("SANDBOX_").lower(): value
        for key, value in env.items()
        if key.startswith("SANDBOX_")
    }


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], name: str,
               log: Path, timeout: float = 60) -> None:  # fmt: skip
    """Until `ready()` (an HTTP check: a connection refused is not ready yet), or raise with
    the end of the process's log when it exits or `timeout` passes (the benchmark's too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not start within {timeout:.0f} s (see {log})")


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code < 500


def _https_ok(url: str, ca_file: Path) -> Callable[[], bool]:
    """Served over HTTPS with the stand-in's own CA, which exists once the stand-in wrote it."""

    def ready() -> bool:
        if not ca_file.exists():
            return False
        trust = ssl.create_default_context(cafile=ca_file)
        return httpx.get(url, timeout=2, verify=trust).is_success

    return ready


def _spawn(
    name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path,
    echo: bool = False,
) -> tuple[subprocess.Popen[bytes], Path]:  # fmt: skip
    log = log_dir / f"{name}.log"
    out: IO[bytes] | int = log.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own commands
        args, env=env, cwd=cwd, stdout=None if echo else out, stderr=subprocess.STDOUT,
        start_new_session=not echo,
    )  # fmt: skip
    return process, log


def plan_stack(
    *,
    sandbox_port: int = 8787,
    bot_port: int = 3978,
    playground_port: int = 56150,
    graph_port: int = 8790,
    data_dir: Path = ROOT / "var",
    extra_env: dict[str, str] | None = None,
) -> tuple[Stack, dict[str, str]]:
    """The stack's addresses, its seeded ids and the bot's settings, before anything starts
    (the sandbox's database is seeded: that is how its ids are known); and the sandbox's
    environment."""
    data_dir.mkdir(parents=True, exist_ok=True)
    base_env = {**os.environ, **(extra_env or {})}
    sandbox_env = {
        **base_env,
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_DB": base_env.get("SANDBOX_DB", str(data_dir / "sandbox.db")),
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "sandbox", "seed"], env=sandbox_env, cwd=ROOT,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    # The ids the sandbox gave its demo data, as its banner prints them.
    enterprise_id = _seeded_id(seeded.stdout, r"^\s*enterprise id:\s*(\S+)")
    branded_enterprise_id = _seeded_id(seeded.stdout, r"^\s*enterprise (?!id:)(\S+)")
    sandbox = load_sandbox_settings(**_sandbox_overrides(sandbox_env))
    stack = Stack(
        sandbox_url=f"http://127.0.0.1:{sandbox_port}",
        bot_url=f"http://127.0.0.1:{bot_port}",
        playground_url=f"http://127.0.0.1:{playground_port}",
        graph_url=f"https://127.0.0.1:{graph_port}",
        enterprise_id=enterprise_id,
        branded_enterprise_id=branded_enterprise_id,
        csp_id=sandbox.csp_id,
        account=sandbox.partner_username,
    )
    stack.bot_env = bot_environment(
        base_env, sandbox, stack, bot_port=bot_port, data_dir=data_dir,
        ca_file=data_dir / "graph-standin" / "ca.pem",
    )  # fmt: skip
    return stack, sandbox_env


def start_stack(
    *,
    sandbox_port: int = 8787,
    bot_port: int = 3978,
    playground_port: int = 56150,
    graph_port: int = 8790,
    data_dir: Path = ROOT / "var",
    echo_bot: bool = False,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    stack, sandbox_env = plan_stack(
        sandbox_port=sandbox_port, bot_port=bot_port, playground_port=playground_port,
        graph_port=graph_port, data_dir=data_dir, extra_env=extra_env,
    )  # fmt: skip
    base_env = {**os.environ, **(extra_env or {})}
    log_dir = data_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    try:
        process, log = _spawn(
            "sandbox", [sys.executable, "-m", "sandbox"], sandbox_env, log_dir, ROOT
        )
        stack.processes.append(process)
        stack.logs["sandbox"] = log
        wait_until(_http_ok(f"{stack.sandbox_url}/_sandbox/stats"), process, "sandbox", log)

        tls_dir = data_dir / "graph-standin"
        ca_file = tls_dir / "ca.pem"
        ca_file.unlink(missing_ok=True)  # a new CA each start: wait for this one
        process, log = _spawn(
            "graph",
            [sys.executable, "-m", "standins.graph", "--port", str(graph_port),
             "--tls-dir", str(tls_dir)],
            base_env, log_dir, ROOT,
        )  # fmt: skip
        stack.processes.append(process)
        stack.logs["graph"] = log
        openid = f"{stack.graph_url}/{PLAYGROUND_TENANT}/v2.0/.well-known/openid-configuration"
        wait_until(_https_ok(openid, ca_file), process, "graph stand-in", log)

        process, log = _spawn(
            "bot", [sys.executable, "app.py"], stack.bot_env, log_dir, ROOT, echo_bot
        )
        stack.processes.append(process)
        stack.logs["bot"] = log
        wait_until(_http_ok(f"{stack.bot_url}/readyz"), process, "bot", log)

        playground_dir = data_dir / "playground"
        playground_dir.mkdir(exist_ok=True)
        playground_env = {
            **base_env,
            # Only the flag and these two together keep the Playground from calling out.
            "TEAMSAPPTESTER_BROWSER": "none",
            "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",
            "TMPDIR": str(playground_dir),
            "M365_AGENTS_PLAYGROUND_CONFIG_PATH": str(PLAYGROUND_CONFIG),
        }
        process, log = _spawn(
            "playground",
            [str(PLAYGROUND), "start", "-e", f"{stack.bot_url}/api/messages", "-c", "msteams",
             "-p", str(playground_port), "--disable-telemetry"],
            playground_env, log_dir, playground_dir,
        )  # fmt: skip
        stack.processes.append(process)
        stack.logs["playground"] = log
        wait_until(
            _http_ok(f"{stack.playground_url}/_internal/v1/config"), process, "playground", log
        )
    except BaseException:
        stack.stop()
        raise
    return stack


def bot_environment(
    base_env: dict[str, str], sandbox: SandboxSettings, stack: Stack, *, bot_port: int,
    data_dir: Path, ca_file: Path,
) -> dict[str, str]:  # fmt: skip
    """The bot's settings in the local stack (and those of `python devstack.py admin`)."""
    return {
        **base_env,
        "BOT_LOCAL_DEV": "true",
        "HOST": "127.0.0.1",
        "PORT": str(bot_port),
        "CONTEXTSMS_BASE_URL": f"{stack.sandbox_url}/api/v2",
        # The partner account acts on every CSP's enterprises, so that a team linked to
        # the second CSP's enterprise works too (its cards in that CSP's brand); the
        # operator commands act on the demo CSP.
        "CONTEXTSMS_USERNAME": sandbox.partner_username,
        "CONTEXTSMS_PASSWORD": sandbox.partner_password.get_secret_value(),
        "CONTEXTSMS_CSP_ID": sandbox.csp_id,
        "CONTEXTSMS_ENTERPRISE_ID": stack.enterprise_id,
        "CONTEXTSMS_TENANT_ID": PLAYGROUND_TENANT,
        "BOT_STORAGE": "sqlite",
        "BOT_STORAGE_PATH": str(data_dir / "bot.db"),
        # Graph and each tenant's Entra: the stand-in, trusted through its CA.
        "MicrosoftAppId": LOCAL_APP_ID,
        "MicrosoftAppPassword": LOCAL_APP_PASSWORD,
        "BOT_GRAPH_URL": stack.graph_url,
        "BOT_LOGIN_AUTHORITY": stack.graph_url,
        "REQUESTS_CA_BUNDLE": str(ca_file),
        "SSL_CERT_FILE": str(ca_file),
    }


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class Ports:
    """The stack's ports: the defaults, or those of the environment."""

    sandbox_port: int = int(os.environ.get("SANDBOX_PORT", "8787"))
    bot_port: int = int(os.environ.get("PORT", "3978"))
    playground_port: int = int(os.environ.get("PLAYGROUND_PORT", "56150"))
    graph_port: int = int(os.environ.get("GRAPH_PORT", "8790"))


def admin(args: list[str]) -> int:
    """`python devstack.py admin ARGS`: `python -m bot.admin ARGS` on the settings and the
    storage of `make run`'s bot (an operator's commands against the local stack)."""
    at = Ports()
    stack, _ = plan_stack(
        sandbox_port=at.sandbox_port, bot_port=at.bot_port,
        playground_port=at.playground_port, graph_port=at.graph_port,
    )  # fmt: skip
    command = [sys.executable, "-m", "bot.admin", *args]
    return subprocess.run(command, env=stack.bot_env, cwd=ROOT, check=False).returncode  # noqa: S603


def main() -> int:
    if sys.argv[1:2] == ["admin"]:
        return admin(sys.argv[2:])
    if not PLAYGROUND.exists():
        print(
            "The Playground is not installed: run `make run`, which installs it.", file=sys.stderr
        )
        return 2
    # `kill` (and CI's timeout) stops the stack as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    at = Ports()
    stack = start_stack(
        sandbox_port=at.sandbox_port, bot_port=at.bot_port,
        playground_port=at.playground_port, graph_port=at.graph_port, echo_bot=True,
    )  # fmt: skip
    print(
        "\nContextSMS for Teams is running locally:\n"
        f"  Teams (Agents Playground): {stack.playground_url}   <- open this\n"
        f"  bot:                       {stack.bot_url}/api/messages (local development mode)\n"
        f"  sandbox ContextSMS API:    {stack.sandbox_url}/api/v2"
        f" (enterprise {stack.enterprise_id}, linked to the Playground's tenant)\n"
        f"  the bot's account:         {stack.account} (the sandbox's partner: acts on every"
        f" CSP's enterprises;\n"
        f"                             operator commands on {stack.csp_id})\n"
        f"  second CSP's enterprise:   {stack.branded_enterprise_id} (a team linked to it by"
        " a setup code sees that CSP's brand)\n"
        f'  Graph stand-in:            {stack.graph_url} ("Me" owns My Team, "User 1" '
        "is a member)\n"
        f"  logs:                      {stack.logs['sandbox'].parent}\n"
        "In the Playground, open General (My Team), type @, pick Test Bot and write\n"
        '`map (555) 987-6543 Front desk`. Sent as "User 1" (Mock an Activity > Custom\n'
        "activity, with User 1 as `from`), the same is refused: only owners change mappings.\n"
        "Ctrl-C stops them all.\n",
        flush=True,
    )
    try:
        while all(p.poll() is None for p in stack.processes):
            time.sleep(0.5)
        print("A part of the stack stopped; stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
