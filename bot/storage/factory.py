"""The storage the settings name, opened and ready (tables created, schema migrated)."""

from __future__ import annotations

import asyncio
from typing import assert_never

from bot.settings import BotSettings, StorageKind
from bot.storage.azure_table import AzureTableStorage
from bot.storage.base import Storage
from bot.storage.sqlite import SqliteStorage
from contextsms.settings_errors import SettingsError


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


async def open_storage(settings: BotSettings) -> Storage:
    """SQLite at `bot_storage_path` (its folder created), or Azure Table storage from the
    connection string, or from the account URL with the app's managed identity. A store that
    cannot be opened stops the start with a message naming the setting (never its secret)."""
    match settings.bot_storage:
        case StorageKind.SQLITE:
            try:
                # Opening creates the folder and the schema: disk work, off the event loop.
                return await asyncio.to_thread(SqliteStorage, settings.bot_storage_path)
            except Exception as exc:
                raise SettingsError(
                    f"Storage error: BOT_STORAGE_PATH={settings.bot_storage_path!r} cannot be "
                    f"used ({_first_line(exc)})"
                ) from exc
        case StorageKind.AZURE_TABLE:
            return await _open_azure_table(settings)
        case _:
            assert_never(settings.bot_storage)


async def _open_azure_table(settings: BotSettings) -> AzureTableStorage:
    prefix = settings.bot_table_prefix
    if settings.bot_table_connection_string is not None:
        variable = "BOT_TABLE_CONNECTION_STRING"
        opening = AzureTableStorage.connect(
            prefix, connection_string=settings.bot_table_connection_string.get_secret_value()
        )
    elif settings.bot_table_account_url is not None:
        from azure.identity.aio import DefaultAzureCredential

        variable = f"BOT_TABLE_ACCOUNT_URL={settings.bot_table_account_url}"
        # DefaultAzureCredential: the app's managed identity in Azure, a developer's login
        # (Azure CLI) elsewhere.
        opening = AzureTableStorage.connect(
            prefix,
            account_url=str(settings.bot_table_account_url),
            credential=DefaultAzureCredential(),
        )
    else:  # the settings refuse azure_table without either
        raise SettingsError(
            "BOT_STORAGE=azure_table needs BOT_TABLE_CONNECTION_STRING or BOT_TABLE_ACCOUNT_URL"
        )
    try:
        return await opening
    except Exception as exc:
        raise SettingsError(
            f"Storage error: the Azure tables {prefix}* could not be opened with {variable} "
            f"({_first_line(exc)})"
        ) from exc
