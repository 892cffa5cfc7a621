"""Azurite's Table service (npm `azurite`) on a free loopback port, in memory, for the tests of
the Azure Table storage backend. Started as a subprocess and stopped with the test session."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AZURITE_TABLE = ROOT / "node_modules" / ".bin" / "azurite-table"

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
START_TIMEOUT_SECONDS = 30.0
# In memory (nothing left on disk), any API version the SDK speaks, unknown headers ignored,
# no access log, no telemetry calls from a test run.
_FLAGS = (
    "--inMemoryPersistence",
    "--skipApiVersionCheck",
    "--loose",
    "--silent",
    "--disableTelemetry",
)


@dataclass
class RunningAzurite:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def table_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint={self.table_endpoint};"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_azurite(workdir: Path) -> RunningAzurite:
    """Azurite's Table service, listening; fails with what to do when it is not installed."""
    if not AZURITE_TABLE.exists():
        raise RuntimeError(
            f"{AZURITE_TABLE.relative_to(ROOT)} is missing: the Azure Table storage tests run "
            "against Azurite from npm. Run `make node` (or `npm ci`) first; `make test` does."
        )
    problems: list[str] = []
    # The port is free when probed but could be taken before Azurite binds it: try another.
    for _ in range(3):
        port = _free_port()
        log = workdir / f"azurite-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [str(AZURITE_TABLE), "--tableHost", "127.0.0.1", "--tablePort", str(port), *_FLAGS],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            if _accepts(port):
                return RunningAzurite(port, process)
            time.sleep(0.1)
        running = RunningAzurite(port, process)
        running.stop()
        problems.append(f"port {port}: {log.read_text(errors='replace').strip()[-500:]}")
    raise RuntimeError("Azurite did not start:\n" + "\n".join(problems))
