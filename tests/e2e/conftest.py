from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import Stack, start_stack
from tests.support.playground import Playground


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("stack")
    running = start_stack(
        sandbox_port=free_port(), bot_port=free_port(), playground_port=free_port(),
        data_dir=Path(data),
        # Short budgets, so that a test can make ContextSMS slower than them in little time;
        # JSON logs, so that each reply the bot posted can be matched with what was shown.
        extra_env={"BOT_ACTION_BUDGET_SECONDS": "1.5", "BOT_MESSAGE_BUDGET_SECONDS": "1.5",
                   "BOT_LOG_FORMAT": "json"},
    )  # fmt: skip
    yield running
    running.stop()


def bot_events(log: Path, offset: int) -> list[dict[str, Any]]:
    """The bot's structured log entries written after `offset`."""
    entries = []
    with log.open("rb") as file:
        file.seek(offset)
        for line in file.read().decode(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # not the bot's own log (a library printing)
            if isinstance(entry, dict) and "event" in entry:
                entries.append(entry)
    return entries


def replies_not_shown(events: list[dict[str, Any]], shown: set[str]) -> list[str]:
    """Each reply the bot posted or updated that the Playground did not show, named by the
    reply's id and the activity it answered."""
    answered = {e.get("activity"): e for e in events if e["event"] == "activity"}
    missing = []
    for call in (e for e in events if e["event"] == "connector"):
        if call.get("error") is None and call.get("activity") in shown:
            continue
        source = answered.get(call.get("in_reply_to")) or {}
        what = f"{source.get('type', '?')} {source.get('name') or ''}".strip()
        problem = (
            f"failed ({call.get('error')}, status {call.get('status')})"
            if call.get("error") else "was never shown by the Playground"
        )  # fmt: skip
        missing.append(
            f"the bot's {call.get('call')} of activity {call.get('activity')} (answering "
            f"{what} activity {call.get('in_reply_to')}) {problem}"
        )
    return missing


def _size(log: Path) -> int:
    return log.stat().st_size  # a stat of a local file: no need to leave the loop


async def settled_size(log: Path, quiet: float = 0.3, longest: float = 5.0) -> int:
    """The log's size once the bot has written nothing for `quiet` seconds. The Playground
    shows a reply before it answers the bot's call, and the bot logs the call after that
    answer: a test that ends on a reply it saw may leave that line still to be written, and
    it belongs to that test, not to the next."""
    deadline = time.monotonic() + longest
    size = _size(log)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        now = _size(log)
        if now == size:
            break
        size = now
    return size


@pytest.fixture
async def playground(stack: Stack) -> AsyncIterator[Playground]:
    log = stack.logs["bot"]
    offset = await settled_size(log)
    client = await Playground.connect(stack.playground_url)
    yield client
    # A late update may still be on its way: give the Playground a moment to show it.
    deadline = time.monotonic() + 5
    while missing := replies_not_shown(bot_events(log, offset), client.shown):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await client.close()
    assert not missing, "; ".join(missing)
