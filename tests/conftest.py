from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from contextsms import ClientOptions, ContextSMSClient, RetryPolicy
from contextsms.models import Enterprise, EnterpriseCreate
from sandbox.threaded import RunningSandbox, start_sandbox

_numbers = itertools.count(1)


def fresh_number() -> str:
    """A number no other test uses (platform-wide uniqueness makes sharing one a conflict)."""
    return f"+1555{next(_numbers) + 2_000_000:07d}"


FAST_RETRIES = ClientOptions(
    timeout=5.0, connect_timeout=2.0, retry=RetryPolicy(max_retries=3, base_delay=0.02)
)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(tmp_path_factory.mktemp("sandbox") / "sandbox.db")
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
