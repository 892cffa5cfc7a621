"""`open_storage`: the backend the settings name, ready to use, or a start refused with a
message that names the setting and never its secret."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables.aio import TableServiceClient

from bot.settings import BotSettings
from bot.storage import Link
from bot.storage.factory import open_storage
from contextsms.settings_errors import SettingsError
from tests.support.azurite import ACCOUNT_KEY, RunningAzurite

LINK = Link("tenant-1", None, "ent-1", datetime(2025, 3, 1, tzinfo=UTC), "settings")


def settings(**values: Any) -> BotSettings:
    return BotSettings(_env_file=None, bot_local_dev=True, **values)


async def test_sqlite_is_the_default_and_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "var" / "deeper" / "bot.db"

    storage = await open_storage(settings(bot_storage_path=str(path)))
    try:
        await storage.put_link(LINK)
    finally:
        await storage.aclose()

    assert path.is_file()
    reopened = await open_storage(settings(bot_storage_path=str(path)))
    try:
        assert await reopened.links() == [LINK]
    finally:
        await reopened.aclose()


async def test_a_storage_path_that_cannot_be_used_stops_the_start_naming_it(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(SettingsError, match=r"BOT_STORAGE_PATH=.*a-file/bot\.db.*cannot be used"):
        await open_storage(settings(bot_storage_path=str(blocker / "bot.db")))


async def test_azure_table_creates_the_prefixed_tables_and_works(azurite: RunningAzurite) -> None:
    chosen = settings(
        bot_storage="azure_table",
        bot_table_connection_string=azurite.connection_string,
        bot_table_prefix="factory",
    )

    storage = await open_storage(chosen)
    try:
        await storage.put_link(LINK)
        again = await open_storage(chosen)  # the tables exist now: opened as they are
        try:
            assert await again.links() == [LINK]
        finally:
            await again.aclose()
    finally:
        await storage.aclose()

    async with TableServiceClient.from_connection_string(azurite.connection_string) as service:
        names = {table.name async for table in service.list_tables()}
    kinds = ("Links", "Codes", "Failures", "Audit", "References", "Roles")
    assert {f"factory{kind}" for kind in kinds} <= names


async def test_an_unreachable_table_account_stops_the_start_without_its_key(
    azurite: RunningAzurite,
) -> None:
    unreachable = azurite.connection_string.replace(f":{azurite.port}/", ":9/")
    chosen = settings(
        bot_storage="azure_table", bot_table_connection_string=unreachable, bot_table_prefix="gone"
    )

    with pytest.raises(SettingsError) as refused:
        await open_storage(chosen)

    message = str(refused.value)
    assert "BOT_TABLE_CONNECTION_STRING" in message and "gone" in message
    assert ACCOUNT_KEY not in message and ACCOUNT_KEY[:20] not in message
