"""The OpenAPI description and the sandbox agree: schemathesis against the live sandbox."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import yaml

from sandbox.server import API, create_app
from sandbox.settings import SandboxSettings
from sandbox.threaded import start_sandbox

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs/contextsms-teams.yaml"


def test_description_covers_every_route_of_the_sandbox(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC.read_text())
    assert spec["openapi"] == "3.1.0"
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete"}
    }
    app = create_app(SandboxSettings(db=str(tmp_path / "routes.db")))
    served = {
        (route.method, path.removeprefix(API).replace("{mapId}", "{numberToMessageAppMapId}"))
        for route in app.router.routes()
        if route.resource is not None
        and (path := route.resource.canonical).startswith(API)
        and route.method != "HEAD"
    }
    assert len(documented) == 16
    assert served == documented


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_description(
    tmp_path: Path,
) -> None:
    sandbox = start_sandbox(tmp_path / "st.db")
    try:
        # A partner account reaches every operation, POST /csp included.
        sandbox.store.ensure_account("partner@example.com", "partner-pass", "CSP_PARTNER", None)
        token = httpx.post(
            f"{sandbox.api_url}/auth/login",
            json={"username": "partner@example.com", "password": "partner-pass"},
        ).json()["accessToken"]
        result = subprocess.run(
            [
                str(ROOT / ".venv/bin/st"), "run", str(SPEC),
                "--url", sandbox.api_url,
                "-H", f"Authorization: Bearer {token}",
                "--max-examples", "20",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--checks", "not_a_server_error,status_code_conformance,"
                "content_type_conformance,response_schema_conformance",
                "--seed", "20261127",
                "--generation-database", "none",
                "--workers", "1",
                "--no-color",
            ],
            capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        )  # fmt: skip
    finally:
        sandbox.stop()
    summary = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert result.returncode == 0, result.stdout[-4000:]
    assert summary is not None, result.stdout[-2000:]
    generated, passed = map(int, summary.groups())
    assert generated == passed and generated > 300
    assert "Operations:       16 selected / 16 total" in result.stdout
