"""The container and the Azure infrastructure, checked offline: hadolint and checkov on the
Dockerfile, pycep-parser (syntax) and checkov (rules) on the Bicep. No Docker engine or
Bicep compiler runs here; docs/deploy.md says what that leaves unverified."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from bot.settings import BotSettings, StorageKind
from bot.storage.azure_table import KINDS

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv/bin"
OFFLINE = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}


def checkov(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(BIN / "checkov"), *args, "--compact", "--skip-download", "-o", "json"],
        cwd=ROOT, env=OFFLINE, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert isinstance(report, dict), report
    return report


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "info", "Dockerfile"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = subprocess.run(
        [str(BIN / "hadolint"), str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_checkov_passes_the_dockerfile() -> None:
    report = checkov("-f", "Dockerfile", "--framework", "dockerfile")
    summary = report["summary"]
    assert summary["failed"] == 0, report["results"]["failed_checks"]
    assert summary["passed"] > 20


def test_the_image_is_slim_non_root_healthchecked_and_runs_the_production_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", dockerfile, re.M)
    assert dockerfile.rstrip().endswith('CMD ["python", "app.py"]')
    assert "[test" not in dockerfile and "[package" not in dockerfile  # runtime deps only
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    ignored = (ROOT / ".dockerignore").read_text().split()
    for private in (".env", ".venv", "var", "tests", "node_modules", ".git"):
        assert private in ignored


@pytest.fixture(scope="module")
def bicep() -> dict[str, Any]:
    parsed = BicepParser().parse(file_path=ROOT / "infra/main.bicep")
    return dict(parsed)


def test_bicep_parses_and_holds_the_whole_deployment(bicep: dict[str, Any]) -> None:
    types = {r["type"] for r in bicep["resources"].values()}
    assert {
        "Microsoft.BotService/botServices",
        "Microsoft.BotService/botServices/channels",
        "Microsoft.Web/serverfarms",
        "Microsoft.Web/sites",
        "Microsoft.KeyVault/vaults",
        "Microsoft.KeyVault/vaults/secrets",
        "Microsoft.Storage/storageAccounts/tableServices/tables",
        "Microsoft.Insights/components",
    } <= types
    teams = bicep["resources"]["teams"]["config"]
    assert teams["name"] == "MsTeamsChannel"


def test_bicep_syntax_errors_are_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("resource x 'Microsoft.Web/sites@2023-12-01' = {\n  name: 'a'\n")
    with pytest.raises(Exception):  # noqa: B017 - pycep raises lark's errors
        BicepParser().parse(file_path=broken)


def test_secrets_are_key_vault_references_never_plain_settings(bicep: dict[str, Any]) -> None:
    text = (ROOT / "infra/main.bicep").read_text()
    for name in ("MicrosoftAppPassword", "CONTEXTSMS_PASSWORD"):
        line = next(line for line in text.splitlines() if f"name: '{name}'" in line)
        assert "@Microsoft.KeyVault(SecretUri=" in line
    for secret in ("botAppPassword", "contextsmsPassword"):
        assert bicep["parameters"][secret]["decorators"], secret
        assert any(d.get("type") == "secure" for d in bicep["parameters"][secret]["decorators"])


def app_settings(bicep: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The web app's settings: those always set, and those of a single-organization
    deployment (set only when its enterprise is)."""
    combined = bicep["resources"]["app"]["config"]["properties"]["siteConfig"]["appSettings"]
    always, optional = combined["function"]["parameters"].values()
    only_if = optional["operator"]["operands"]
    assert only_if["condition"]["function"]["parameters"] == {
        "item_to_test": "contextsmsEnterpriseId"
    }
    assert only_if["true_value"] == []
    return ({s["name"]: s["value"] for s in always},
            {s["name"]: s["value"] for s in only_if["false_value"]})  # fmt: skip


def accessor(value: Any) -> str:
    """`a.b.c` from pycep's nested property accessors."""
    if isinstance(value, str):
        return value
    operands = value["operator"]["operands"]
    return f"{accessor(operands['operand_1'])}.{accessor(operands['operand_2'])}"


def test_every_instance_shares_the_table_storage_through_the_apps_identity(
    bicep: dict[str, Any],
) -> None:
    settings, _ = app_settings(bicep)
    assert settings["BOT_STORAGE"] == StorageKind.AZURE_TABLE.value
    assert (
        accessor(settings["BOT_TABLE_ACCOUNT_URL"]) == "storage.properties.primaryEndpoints.table"
    )
    # DefaultAzureCredential picks the user-assigned identity named by AZURE_CLIENT_ID.
    assert accessor(settings["AZURE_CLIENT_ID"]) == "identity.properties.clientId"
    assert not any("CONNECTION_STRING" in name and "APPLICATIONINSIGHTS" not in name
                   for name in settings)  # fmt: skip
    storage = bicep["resources"]["storage"]["config"]["properties"]
    assert storage["allowSharedKeyAccess"] is False  # the identity is the only way in
    # That identity holds Storage Table Data Contributor on that account.
    role = bicep["resources"]["tableContributor"]["config"]
    assert role["scope"] == "storage"
    assert role["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"] == (
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
    )
    assert accessor(role["properties"]["principalId"]) == "identity.properties.principalId"
    # The tables the bot's Azure backend uses, with the prefix the bot is told.
    tables = bicep["resources"]["botTables"]["config"]
    assert tables["loop_type"]["detail"]["array_name"] == "tableKinds"
    assert tables["config"]["name"] == "${tablePrefix}${kind}"
    assert tuple(bicep["variables"]["tableKinds"]["value"]) == KINDS
    assert settings["BOT_TABLE_PREFIX"] == "tablePrefix"
    # And the bot accepts these settings as they are.
    read = BotSettings(
        MicrosoftAppId="3f2504e0-4f89-41d3-9a0c-0305e82c3301", MicrosoftAppPassword="x",
        MicrosoftAppType="SingleTenant", MicrosoftAppTenantId="t",
        bot_storage=settings["BOT_STORAGE"],
        bot_table_account_url="https://ctxsmsst.table.core.windows.net/",
    )  # fmt: skip
    assert read.bot_storage is StorageKind.AZURE_TABLE


def test_a_single_organization_names_its_tenant_with_its_enterprise(bicep: dict[str, Any]) -> None:
    settings, single = app_settings(bicep)
    assert "CONTEXTSMS_ENTERPRISE_ID" not in settings  # a reseller's deployment links by codes
    assert single == {
        "CONTEXTSMS_ENTERPRISE_ID": "contextsmsEnterpriseId",
        "CONTEXTSMS_TENANT_ID": "singleTenantId",
    }


def test_example_parameters_give_every_required_parameter(bicep: dict[str, Any]) -> None:
    example = json.loads((ROOT / "infra/main.parameters.json").read_text())["parameters"]
    required = {name for name, p in bicep["parameters"].items() if p.get("default") is None}
    assert required <= set(example), required - set(example)
    assert set(example) <= set(bicep["parameters"])


def test_checkov_passes_the_bicep_with_every_skip_explained() -> None:
    report = checkov("-d", "infra", "--framework", "bicep")
    summary = report["summary"]
    assert summary["parsing_errors"] == 0  # checkov exits 0 even when it cannot parse
    assert summary["failed"] == 0, [c["check_id"] for c in report["results"]["failed_checks"]]
    assert summary["passed"] > 20
    for skipped in report["results"]["skipped_checks"]:
        assert len(skipped["check_result"]["suppress_comment"]) > 30, skipped["check_id"]
