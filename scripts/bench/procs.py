"""The benchmark's processes: started with their own settings, waited for, read from /proc,
stopped (each by its own id)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from devstack import wait_until

ROOT = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        """User and system time of the process so far (/proc/<pid>/stat, fields 14 and 15)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def memory_mb(self, key: str = "VmHWM") -> float:
        """Peak (VmHWM) or current (VmRSS) resident memory, MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Processes:
    log_dir: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str],
              stdout: int | None = None) -> Process:  # fmt: skip
        log = self.log_dir / f"{name}.log"
        out: IO[bytes] = log.open("wb")
        popen = subprocess.Popen(  # noqa: S603 - our own commands
            [sys.executable, *args], env=env, cwd=self.log_dir,
            stdout=stdout if stdout is not None else out, stderr=out,
        )  # fmt: skip
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def wait_until(self, process: Process, ready: Callable[[], bool], timeout: float = 60) -> None:
        wait_until(ready, process.popen, process.name, process.log, timeout)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for process in self.started:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


def answers(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code < 500


def listens(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    return ready


def machine() -> dict[str, str | int]:
    """The CPU's model and the cores this machine has (/proc/cpuinfo)."""
    info = Path("/proc/cpuinfo").read_text()
    models = [line.split(":", 1)[1].strip() for line in info.splitlines()
              if line.startswith("model name")]  # fmt: skip
    return {
        "cpu": models[0] if models else "unknown",
        "cores": len(models) or os.cpu_count() or 0,
        "python": sys.version.split()[0],
    }
