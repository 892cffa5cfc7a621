"""Builds a branded Teams app package: `python -m manifest.package --brand FILE`.

The package is `dist/<brand>-teams-app.zip` with manifest.json and both icons at its root. It
is checked against Microsoft's official manifest schema (npm `@microsoft/app-manifest`) and
against the rules of Teams that the schema does not state; any problem refuses the build with
a message naming the field.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
from PIL import Image, UnidentifiedImageError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "manifest.template.json"
SCHEMA_VERSION = "v1.30"
SCHEMA = (
    ROOT / "node_modules/@microsoft/app-manifest/build/json-schemas/teams"
    / SCHEMA_VERSION / "MicrosoftTeams.schema.json"
)  # fmt: skip
# Stable ids for brands that do not set their own: one per bot app id and product name.
APP_ID_NAMESPACE = uuid.UUID("6f0f5a8e-2f5d-4d7b-9c43-5c1e7f1c0a11")

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(:\d{1,5})?$")
LIMITS = {"productName": 30, "fullName": 100, "shortDescription": 80, "longDescription": 4000,
          "developer.name": 32}  # fmt: skip
TEXT_FIELDS = ["productName", "fullName", "shortDescription", "longDescription",
               "developer.name", "developer.websiteUrl", "developer.privacyUrl",
               "developer.termsOfUseUrl", "accentColor", "icons.color", "icons.outline",
               "botAppId", "domain", "version"]  # fmt: skip
COMMAND_TITLE_LIMIT = 32
ICON_SIZES = {"color": (192, 192), "outline": (32, 32)}


class Refused(Exception):
    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.source = source
        self.problems = problems

    def __str__(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"Refused to package {self.source}:\n{lines}"


@dataclass(frozen=True)
class Package:
    path: Path
    manifest: dict[str, Any]


def _get(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def check_brand(brand: dict[str, Any], base: Path) -> list[str]:
    """Teams' rules, each problem naming its field of the brand file."""
    problems: list[str] = []
    for name in TEXT_FIELDS:
        value = _get(brand, name)
        if value is None or value == "":
            problems.append(f"{name}: missing")
        elif not isinstance(value, str):
            problems.append(f"{name}: must be text")
    if problems:
        return problems
    for name, limit in LIMITS.items():
        length = len(_get(brand, name))
        if length > limit:
            problems.append(f"{name}: {length} characters; Teams allows at most {limit}")
    for name in ("botAppId", "appId"):
        value = brand.get(name)
        if value is not None and not (isinstance(value, str) and GUID.match(value)):
            problems.append(
                f"{name}: {value!r} is not a GUID (like 6f0f5a8e-2f5d-4d7b-9c43-5c1e7f1c0a11)"
            )
    if not VERSION.match(brand["version"]):
        problems.append(f"version: {brand['version']!r} is not major.minor.patch (like 1.0.0)")
    if not COLOR.match(brand["accentColor"]):
        problems.append(f"accentColor: {brand['accentColor']!r} is not a colour like #0F6CBD")
    for name in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        url = urlparse(brand["developer"][name])
        if url.scheme != "https" or not url.netloc:
            problems.append(f"developer.{name}: must be an https:// address")
    if not DOMAIN.match(brand["domain"]):
        problems.append(
            f"domain: {brand['domain']!r} must be a host name only (like bot.example.com), "
            "without scheme or path"
        )
    for kind, size in ICON_SIZES.items():
        problems += _check_icon(kind, base / brand["icons"][kind], size)
    return problems


def _check_icon(kind: str, path: Path, size: tuple[int, int]) -> list[str]:
    field = f"icons.{kind}"
    if not path.is_file():
        return [f"{field}: no file at {path}"]
    try:
        with Image.open(path) as image:
            image.load()
            if image.format != "PNG":
                return [f"{field}: must be a PNG image, is {image.format}"]
            if image.size != size:
                w, h = image.size
                return [f"{field}: must be {size[0]}x{size[1]} pixels, is {w}x{h}"]
            if kind == "outline":
                return _check_outline(field, image.convert("RGBA"))
    except (UnidentifiedImageError, OSError):
        return [f"{field}: {path.name} is not a readable image"]
    return []


def _check_outline(field: str, image: Image.Image) -> list[str]:
    # RGBA: each pixel a 4-tuple. (getdata is deprecated in Pillow 13, its successor new.)
    raw = image.tobytes()
    pixels = [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]
    if not any(a < 255 for *_, a in pixels):
        return [f"{field}: must have a transparent background"]
    coloured = [p for p in pixels if p[3] > 32 and min(p[:3]) < 235]
    if coloured:
        return [f"{field}: must be white on transparent ({len(coloured)} pixels are not white)"]
    return []


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, str):
        return re.sub(r"\{\{([\w.]+)\}\}", lambda m: values[m.group(1)], node)
    return node


def check_manifest(manifest: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for bot in manifest.get("bots", []):
        for index, command_list in enumerate(bot.get("commandLists", [])):
            titles = [c["title"] for c in command_list.get("commands", [])]
            for title in titles:
                if len(title) > COMMAND_TITLE_LIMIT:
                    problems.append(
                        f"bots.commandLists[{index}]: command title {title!r} is over "
                        f"{COMMAND_TITLE_LIMIT} characters"
                    )
            for title in {t for t in titles if titles.count(t) > 1}:
                problems.append(f"bots.commandLists[{index}]: command title {title!r} is repeated")
    # The schema says draft-04 but uses const and if/then, which only draft 7 enforces.
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"manifest {where}: {error.message}")
    return problems


def build(
    brand_path: Path, out_dir: Path = ROOT / "dist", bot_app_id: str | None = None,
    schema_path: Path = SCHEMA,
) -> Package:  # fmt: skip
    source = str(brand_path)
    try:
        brand = json.loads(brand_path.read_text())
    except FileNotFoundError:
        raise Refused(source, ["no such brand file"]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(source, [f"not valid JSON: {exc}"]) from None
    if not isinstance(brand, dict):
        raise Refused(source, ["the brand file must hold a JSON object"])
    if bot_app_id:
        brand["botAppId"] = bot_app_id
    base = brand_path.resolve().parent
    problems = check_brand(brand, base)
    if problems:
        raise Refused(source, problems)

    app_id = brand.get("appId") or str(
        uuid.uuid5(APP_ID_NAMESPACE, f"{brand['botAppId'].lower()}/{brand['productName']}")
    )
    values = {name: str(_get(brand, name)) for name in TEXT_FIELDS} | {"appId": app_id}
    manifest = _fill(json.loads(TEMPLATE.read_text()), values)
    if not schema_path.is_file():
        raise Refused(
            source, [f"the manifest schema is missing ({schema_path}): run `make package`"]
        )
    problems = check_manifest(manifest, json.loads(schema_path.read_text()))
    if problems:
        raise Refused(source, problems)

    slug = re.sub(r"[^a-z0-9]+", "-", brand["productName"].lower()).strip("-") or "app"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{slug}-teams-app.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for kind in ICON_SIZES:
            archive.write(base / brand["icons"][kind], f"{kind}.png")
    return Package(path, manifest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m manifest.package", description=__doc__)
    parser.add_argument(
        "--brand", type=Path, default=Path(__file__).parent / "brands/contextsms.json"
    )
    parser.add_argument("--bot-app-id", help="the bot's Microsoft App ID (overrides the brand's)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    try:
        package = build(args.brand, args.out, args.bot_app_id)
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 1
    print(package.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
