from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.storage import Storage
from bot.storage.azure_table import AzureTableStorage
from bot.storage.sqlite import SqliteStorage
from contextsms import ClientOptions, ContextSMSClient, RetryPolicy
from contextsms.models import Enterprise, EnterpriseCreate
from sandbox.seed import subscribe_once
from sandbox.threaded import RunningSandbox, start_sandbox
from tests.support.azurite import RunningAzurite, start_azurite

_numbers = itertools.count(1)
PAID_EMAILS = ("t@example.com", "c@example.com")  # of `enterprise` and of test_tenants' others


def fresh_number() -> str:
    """A number no other test uses (platform-wide uniqueness makes sharing one a conflict)."""
    return f"+1555{next(_numbers) + 2_000_000:07d}"


FAST_RETRIES = ClientOptions(
    timeout=5.0, connect_timeout=2.0, retry=RetryPolicy(max_retries=3, base_delay=0.02)
)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(tmp_path_factory.mktemp("sandbox") / "sandbox.db")
    # The tests' enterprises pay: the bot maps only for an active subscription.
    for email in PAID_EMAILS:
        subscribe_once(running.store, email, "active")
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _clean_sandbox_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()


def make_client(
    sandbox: RunningSandbox, options: ClientOptions = FAST_RETRIES, **kwargs: object
) -> ContextSMSClient:
    params: dict[str, object] = {
        "base_url": sandbox.api_url,
        "username": sandbox.settings.username,
        "password": sandbox.settings.password,
        "csp_id": sandbox.seeded.csp_id,
        "options": options,
    }
    params.update(kwargs)
    return ContextSMSClient(**params)  # type: ignore[arg-type]


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[ContextSMSClient]:
    async with make_client(sandbox) as api:
        yield api


@pytest.fixture
async def enterprise(client: ContextSMSClient) -> Enterprise:
    return await client.create_enterprise(
        EnterpriseCreate(
            name="Test Clinic", contact="Dr. Test", number=fresh_number(), email="t@example.com"
        )
    )


def other_password() -> SecretStr:
    return SecretStr("another-password")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.db"


# -- storage backends (bot/storage) ---------------------------------------------------------


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAzurite]:
    """Azurite's Table service on a free loopback port for the whole session, in memory."""
    running = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield running
    running.stop()


class StorageOpener:
    """Opens instances of one store (the same SQLite file, or the same tables): two instances
    are two bot processes. Every instance opened is closed when the test ends."""

    def __init__(self, kind: str, make: Callable[[], Awaitable[Storage]]) -> None:
        self.kind = kind
        self._make = make
        self._opened: list[Storage] = []

    async def __call__(self) -> Storage:
        storage = await self._make()
        self._opened.append(storage)
        return storage

    async def close_all(self) -> None:
        for storage in self._opened:
            await storage.aclose()
        self._opened.clear()


_table_prefixes = itertools.count(1)


@pytest.fixture(params=["sqlite", "azure_table"])
async def storage_opener(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StorageOpener]:
    """Each storage backend in turn, empty: SQLite in tmp_path, or Azure Table storage on
    Azurite with tables of a prefix no other test uses."""
    if request.param == "sqlite":
        path = tmp_path / "var" / "bot.db"
        opener = StorageOpener("sqlite", lambda: asyncio.to_thread(SqliteStorage, path))
    else:
        connection_string = request.getfixturevalue("azurite").connection_string
        prefix = f"t{next(_table_prefixes)}x{secrets.token_hex(4)}"
        opener = StorageOpener(
            "azure_table",
            lambda: AzureTableStorage.connect(prefix, connection_string=connection_string),
        )
    yield opener
    await opener.close_all()


@pytest.fixture
async def storage(storage_opener: StorageOpener) -> Storage:
    """One instance of each storage backend in turn, empty."""
    return await storage_opener()
