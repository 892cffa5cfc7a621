"""`make package`: a branded Teams app package, checked against Microsoft's schema and the
rules of Teams the schema leaves out; each kind of bad brand input refused, naming its field."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from manifest.icons import draw_color, draw_outline
from manifest.package import SCHEMA, Refused, build, check_manifest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BRAND = ROOT / "manifest/brands/contextsms.json"
BOT_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def test_make_package_builds_the_default_package(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "manifest.package", "--bot-app-id", BOT_ID, "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == tmp_path / "contextsms-teams-app.zip"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["manifestVersion"] == "1.30"
    assert manifest["bots"][0]["botId"] == BOT_ID
    assert manifest["webApplicationInfo"]["id"] == BOT_ID
    assert set(manifest["bots"][0]["scopes"]) == {"team", "personal", "groupChat"}
    assert manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "TeamMember.Read.Group", "type": "Application"}
    ]
    assert [c["title"] for c in manifest["bots"][0]["commandLists"][0]["commands"]] == [
        "map", "remap", "unmap", "status", "list", "help"
    ]  # fmt: skip
    assert check_manifest(manifest, json.loads(SCHEMA.read_text())) == []


def test_the_same_brand_gets_the_same_app_id(tmp_path: Path) -> None:
    first = build(DEFAULT_BRAND, tmp_path / "a", BOT_ID).manifest["id"]
    again = build(DEFAULT_BRAND, tmp_path / "b", BOT_ID).manifest["id"]
    other = build(DEFAULT_BRAND, tmp_path / "c", "3f2504e0-4f89-41d3-9a0c-0305e82c3302")
    assert first == again != other.manifest["id"]


@pytest.fixture
def brand_dir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "manifest/icons/color.png", tmp_path / "color.png")
    shutil.copy(ROOT / "manifest/icons/outline.png", tmp_path / "outline.png")
    brand = json.loads(DEFAULT_BRAND.read_text())
    brand["icons"] = {"color": "color.png", "outline": "outline.png"}
    brand["botAppId"] = BOT_ID
    (tmp_path / "brand.json").write_text(json.dumps(brand))
    return tmp_path


def refused(brand_dir: Path, **changes: Any) -> list[str]:
    path = brand_dir / "brand.json"
    brand = json.loads(path.read_text())
    for dotted, value in changes.items():
        target = brand
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    path.write_text(json.dumps(brand))
    with pytest.raises(Refused) as caught:
        build(path, brand_dir / "dist")
    assert not (brand_dir / "dist").exists() or not any((brand_dir / "dist").iterdir())
    return caught.value.problems


def test_a_reseller_brand_is_packaged(brand_dir: Path) -> None:
    draw_color("#C0392B").save(brand_dir / "color.png")
    brand = json.loads((brand_dir / "brand.json").read_text())
    brand.update(productName="Acme Texting", accentColor="#C0392B")
    (brand_dir / "brand.json").write_text(json.dumps(brand))
    package = build(brand_dir / "brand.json", brand_dir / "dist")
    assert package.path.name == "acme-texting-teams-app.zip"
    assert package.manifest["name"]["short"] == "Acme Texting"
    assert package.manifest["accentColor"] == "#C0392B"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"productName": "A product name much longer than thirty"},
         "productName: 38 characters; Teams allows at most 30"),
        ({"shortDescription": "x" * 81},
         "shortDescription: 81 characters; Teams allows at most 80"),
        ({"botAppId": "not-a-guid"}, "botAppId: 'not-a-guid' is not a GUID"),
        ({"appId": "1234"}, "appId: '1234' is not a GUID"),
        ({"accentColor": "blue"}, "accentColor: 'blue' is not a colour like #0F6CBD"),
        ({"accentColor": "#12345"}, "accentColor: '#12345' is not a colour"),
        ({"version": "1.0"}, "version: '1.0' is not major.minor.patch"),
        ({"version": "v1.0.0"}, "version: 'v1.0.0' is not major.minor.patch"),
        ({"domain": "https://bot.example.com"},
         "domain: 'https://bot.example.com' must be a host name only"),
        ({"domain": "bot.example.com/api"},
         "domain: 'bot.example.com/api' must be a host name only"),
        ({"developer__privacyUrl": "http://example.com/privacy"},
         "developer.privacyUrl: must be an https:// address"),
        ({"developer__name": None}, "developer.name: missing"),
        ({"icons__color": "missing.png"}, "icons.color: no file at"),
        ({"fullName": 42}, "fullName: must be text"),
    ],
)  # fmt: skip
def test_bad_brand_input_is_refused_naming_the_field(
    brand_dir: Path, changes: dict[str, Any], expected: str
) -> None:
    problems = refused(brand_dir, **changes)
    assert any(expected in p for p in problems), problems


def test_icons_must_have_teams_sizes_and_an_outline_white_on_transparent(brand_dir: Path) -> None:
    draw_color("#0F6CBD", size=128).save(brand_dir / "color.png")
    assert "icons.color: must be 192x192 pixels, is 128x128" in refused(brand_dir)
    draw_color("#0F6CBD").save(brand_dir / "color.png")
    draw_outline(size=48).save(brand_dir / "outline.png")
    assert "icons.outline: must be 32x32 pixels, is 48x48" in refused(brand_dir)
    Image.new("RGBA", (32, 32), "#0F6CBD").save(brand_dir / "outline.png")
    assert "icons.outline: must have a transparent background" in refused(brand_dir)
    red = draw_outline()
    red.paste((255, 0, 0, 255), (8, 8, 24, 24))
    red.save(brand_dir / "outline.png")
    assert any("must be white on transparent" in p for p in refused(brand_dir))
    Image.new("RGB", (32, 32)).save(brand_dir / "outline.png", format="JPEG")
    assert "icons.outline: must be a PNG image, is JPEG" in refused(brand_dir)
    (brand_dir / "outline.png").write_text("not an image")
    assert "icons.outline: outline.png is not a readable image" in refused(brand_dir)


def test_a_brand_file_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "brand.json").write_text("{productName: ")
    with pytest.raises(Refused, match="not valid JSON"):
        build(tmp_path / "brand.json", tmp_path / "dist")
    with pytest.raises(Refused, match="no such brand file"):
        build(tmp_path / "none.json", tmp_path / "dist")


def test_the_cli_prints_every_problem_and_fails(brand_dir: Path) -> None:
    brand = json.loads((brand_dir / "brand.json").read_text())
    brand.update(version="1", accentColor="red")
    (brand_dir / "brand.json").write_text(json.dumps(brand))
    result = subprocess.run(
        [sys.executable, "-m", "manifest.package", "--brand", str(brand_dir / "brand.json"),
         "--out", str(brand_dir / "dist")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Refused to package" in result.stderr
    assert "  - version: '1' is not major.minor.patch" in result.stderr
    assert "  - accentColor: 'red' is not a colour" in result.stderr


def test_schema_and_command_rules_catch_a_broken_manifest(tmp_path: Path) -> None:
    manifest = build(DEFAULT_BRAND, tmp_path, BOT_ID).manifest
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(manifest))
    commands = broken["bots"][0]["commandLists"][0]["commands"]
    commands.append({"title": "map", "description": "again"})
    commands.append({"title": "a-command-title-longer-than-32-chars", "description": "x"})
    broken["manifestVersion"] = "1.29"  # `const` in the schema: only draft 7 checks it
    broken["unexpected"] = True
    problems = check_manifest(broken, schema)
    assert "bots.commandLists[0]: command title 'map' is repeated" in problems
    assert any("over 32 characters" in p for p in problems)
    assert any(p.startswith("manifest manifestVersion:") for p in problems)
    assert any("unexpected" in p for p in problems)
