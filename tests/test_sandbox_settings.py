"""The sandbox's settings errors: its own (it imports nothing of the client), naming the
variable and never the value. tests/test_settings.py checks the naming of the port and TTLs."""

from __future__ import annotations

import pytest

from sandbox.settings import SandboxSettingsError, load_sandbox_settings


def test_a_bad_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_FAULT_ERROR_RATE", "hunter2-not-a-rate")
    with pytest.raises(SandboxSettingsError) as caught:
        load_sandbox_settings()
    assert "SANDBOX_FAULT_ERROR_RATE is invalid" in str(caught.value)
    assert "hunter2" not in str(caught.value)
