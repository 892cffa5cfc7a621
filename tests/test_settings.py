"""Settings: read from the environment and .env, named in every error, secrets never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.settings import load_settings
from contextsms import PRODUCTION_BASE_URL
from contextsms.settings_errors import SettingsError
from sandbox.settings import load_sandbox_settings

REQUIRED = {
    "CONTEXTSMS_USERNAME": "ops@example.com",
    "CONTEXTSMS_PASSWORD": "hunter2-secret",
    "CONTEXTSMS_CSP_ID": "CSP0000003",
    "BOT_LOCAL_DEV": "true",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [
        *REQUIRED,
        "CONTEXTSMS_BASE_URL",
        "CONTEXTSMS_AUTH_BASE_URL",
        "MicrosoftAppId",
        "MicrosoftAppPassword",
        "MicrosoftAppType",
        "MicrosoftAppTenantId",
        "PORT",
        "BOT_LOGIN_AUTHORITY",
        "BOT_LOG_FORMAT",
        "MICROSOFTAPPID",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.contextsms.api_urls() == (PRODUCTION_BASE_URL, PRODUCTION_BASE_URL)
    monkeypatch.setenv("CONTEXTSMS_AUTH_BASE_URL", "https://login.example.com/api/v2/")
    assert load_settings().contextsms.api_urls()[1] == "https://login.example.com/api/v2"
    assert str(settings.bot.bot_login_authority) == "https://login.microsoftonline.com/"
    assert settings.bot.bot_log_format == "plain"
    options = settings.contextsms.client_options()
    assert (options.timeout, options.retry.max_retries) == (10.0, 3)


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTEXTSMS_USERNAME", "ops@example.com")
    monkeypatch.setenv("BOT_LOCAL_DEV", "true")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "CONTEXTSMS_PASSWORD is missing" in message
    assert "CONTEXTSMS_CSP_ID is missing" in message
    assert "CONTEXTSMS_USERNAME" not in message


def test_invalid_settings_are_named_without_their_value(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONTEXTSMS_BASE_URL", "not a url hunter2")
    monkeypatch.setenv("CONTEXTSMS_MAX_RETRIES", "-1")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "CONTEXTSMS_BASE_URL is invalid" in message
    assert "CONTEXTSMS_MAX_RETRIES is invalid" in message
    assert "hunter2" not in message


def test_azure_names_are_shown_in_azure_spelling(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MicrosoftAppType", "NoSuchType")
    monkeypatch.setenv("BOT_ACTION_BUDGET_SECONDS", "9")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "MicrosoftAppType is invalid" in message  # as the Azure portal writes it
    assert "BOT_ACTION_BUDGET_SECONDS is invalid" in message


def test_dotenv_is_read_and_password_stays_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in REQUIRED.items()))
    settings = load_settings()
    assert settings.contextsms.username == "ops@example.com"
    assert settings.contextsms.password.get_secret_value() == "hunter2-secret"
    logging.getLogger("test").info("settings: %s %r", settings, settings)
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert "hunter2" not in caplog.text
    assert "hunter2" not in settings.contextsms.model_dump_json()


def test_sandbox_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_PORT", "99999")
    # A SystemExit: the start ends with the message, no trace.
    with pytest.raises(SystemExit, match="SANDBOX_PORT is invalid"):
        load_sandbox_settings()
    monkeypatch.setenv("SANDBOX_PORT", "8788")
    monkeypatch.setenv("SANDBOX_ACCESS_TOKEN_TTL_SECONDS", "0")
    with pytest.raises(SystemExit, match="SANDBOX_ACCESS_TOKEN_TTL_SECONDS is invalid"):
        load_sandbox_settings()


def test_bot_credentials_are_required_outside_local_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BOT_LOCAL_DEV")
    with pytest.raises(SettingsError, match="MicrosoftAppId is missing"):
        load_settings()
    monkeypatch.setenv("MicrosoftAppId", "00000000-0000-0000-0000-000000000001")
    with pytest.raises(SettingsError, match="MicrosoftAppPassword is missing"):
        load_settings()
    monkeypatch.setenv("MicrosoftAppPassword", "bot-secret-value")
    monkeypatch.setenv("MicrosoftAppType", "SingleTenant")
    with pytest.raises(SettingsError, match="MicrosoftAppTenantId is missing") as caught:
        load_settings()
    assert "bot-secret-value" not in str(caught.value)
    monkeypatch.setenv("MicrosoftAppTenantId", "tenant-1")
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(SettingsError, match="PORT is invalid"):
        load_settings()
    monkeypatch.setenv("PORT", "3999")
    settings = load_settings()
    assert (settings.bot.MicrosoftAppType, settings.bot.port) == ("SingleTenant", 3999)
    assert "bot-secret-value" not in repr(settings)


def test_the_bot_refuses_to_start_without_its_settings(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CONTEXTSMS_PASSWORD": "hunter2-x"}
    result = subprocess.run(
        [sys.executable, str(root / "app.py")], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "CONTEXTSMS_USERNAME is missing" in result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
    env.update(CONTEXTSMS_USERNAME="ops@example.com", CONTEXTSMS_CSP_ID="CSP1")
    result = subprocess.run(
        [sys.executable, str(root / "app.py")], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "MicrosoftAppId is missing (set it, or BOT_LOCAL_DEV=true" in result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_bot_settings_by_their_documented_names_in_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BOT_LOCAL_DEV")
    monkeypatch.setenv("MICROSOFTAPPID", "00000000-0000-0000-0000-000000000002")
    monkeypatch.setenv("microsoftapppassword", "bot-secret-value")
    monkeypatch.setenv("BOT_LOGIN_AUTHORITY", "https://login.microsoftonline.us")
    monkeypatch.setenv("BOT_LOG_FORMAT", "json")
    settings = load_settings()
    assert settings.bot.MicrosoftAppId == "00000000-0000-0000-0000-000000000002"
    assert str(settings.bot.bot_login_authority) == "https://login.microsoftonline.us/"
    assert settings.bot.bot_log_format == "json"
    monkeypatch.setenv("BOT_LOG_FORMAT", "xml")
    monkeypatch.setenv("CONTEXTSMS_MAX_RETRIES", "many")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    # Both classes' problems at once, each under its variable's name.
    assert "BOT_LOG_FORMAT is invalid" in str(caught.value)
    assert "CONTEXTSMS_MAX_RETRIES is invalid" in str(caught.value)


def test_tenant_and_operator_ids_must_be_entra_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # A mistyped id would leave an operator or the single organization silently unrecognised.
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONTEXTSMS_ENTERPRISE_ID", "E0000001")
    monkeypatch.setenv("CONTEXTSMS_TENANT_ID", "contoso.onmicrosoft.com")
    monkeypatch.setenv("BOT_OPERATORS", "5b658416-0de4-4d67-95b4-2751e5a69d3d:alice")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "not an Entra tenant id" in message and "two GUIDs" in message
    monkeypatch.setenv("CONTEXTSMS_TENANT_ID", "5B658416-0DE4-4D67-95B4-2751E5A69D3D")
    monkeypatch.setenv(
        "BOT_OPERATORS",
        "5b658416-0de4-4d67-95b4-2751e5a69d3d:DF4721D5-47E7-4D3C-9B52-A2C140C11523, ",
    )
    settings = load_settings()
    assert settings.bot.operators() == frozenset(
        {("5b658416-0de4-4d67-95b4-2751e5a69d3d", "df4721d5-47e7-4d3c-9b52-a2c140c11523")}
    )
