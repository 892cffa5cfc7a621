from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

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
        # Short budgets, so that a test can make ContextSMS slower than them in little time.
        extra_env={"BOT_ACTION_BUDGET_SECONDS": "1.5", "BOT_MESSAGE_BUDGET_SECONDS": "1.5"},
    )  # fmt: skip
    yield running
    running.stop()


@pytest.fixture
async def playground(stack: Stack) -> AsyncIterator[Playground]:
    client = await Playground.connect(stack.playground_url)
    yield client
    await client.close()
