"""The sandbox's settings name the variable that is wrong, with no trace and no value."""

from __future__ import annotations

import pytest

from sandbox.settings import SandboxSettingsError, load_sandbox_settings


def test_sandbox_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_PORT", "99999")
    with pytest.raises(SandboxSettingsError, match="SANDBOX_PORT is invalid"):
        load_sandbox_settings()
    monkeypatch.setenv("SANDBOX_PORT", "8788")
    monkeypatch.setenv("SANDBOX_ACCESS_TOKEN_TTL_SECONDS", "0")
    with pytest.raises(SandboxSettingsError, match="SANDBOX_ACCESS_TOKEN_TTL_SECONDS is invalid"):
        load_sandbox_settings()


def test_a_bad_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_FAULT_ERROR_RATE", "hunter2-not-a-rate")
    with pytest.raises(SandboxSettingsError) as caught:
        load_sandbox_settings()
    assert "SANDBOX_FAULT_ERROR_RATE is invalid" in str(caught.value)
    assert "hunter2" not in str(caught.value)
