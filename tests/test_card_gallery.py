"""The card gallery (scripts/card_gallery.py): every card the bot can send, drawn by Microsoft's
renderer under Teams' light and dark host configs, with no render error and no renderer
warning, and no screen left out."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cards.screens import Screens

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "scripts" / "card_gallery.py"
RENDERER = ROOT / "scripts" / "render_cards.mjs"
HOSTS = ("light", "dark")
# What a card's own background is in each Teams host config (containerStyles.default).
CARD_BACKGROUND = {"light": (0xFF, 0xFF, 0xFF), "dark": (0x2D, 0x2C, 0x2C)}
NOT_SCREENS = {"act", "map_form", "card"}  # the helpers that build parts of a card


@dataclass(frozen=True)
class Gallery:
    out: Path
    returncode: int
    report: dict[str, Any]
    stderr: str


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Gallery:
    """The gallery as `make gallery` makes it, in a temporary directory."""
    out = tmp_path_factory.mktemp("cards")
    done = subprocess.run(
        [sys.executable, str(GALLERY), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    return Gallery(out, done.returncode, json.loads(done.stdout), done.stderr)


def problems(report: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    return {
        card["name"]: {host: [*o["errors"], *o["warnings"]] for host, o in card["hosts"].items()}
        for card in report["cards"]
        if any(o["errors"] or o["warnings"] for o in card["hosts"].values())
    }


def test_every_card_renders_without_an_error_or_a_warning(gallery: Gallery) -> None:
    assert problems(gallery.report) == {}, gallery.stderr
    assert gallery.returncode == 0, gallery.stderr
    assert gallery.report["hosts"] == list(HOSTS)
    assert len(gallery.report["cards"]) >= 100  # every screen, most in several states


def test_every_screen_has_a_card_in_the_gallery(gallery: Gallery) -> None:
    screens = {
        name for name, _ in inspect.getmembers(Screens, inspect.isfunction)
        if not name.startswith("_") and name not in NOT_SCREENS
    }  # fmt: skip
    shown = {card["screen"] for card in gallery.report["cards"]}
    assert screens - shown == set(), "a screen the gallery does not show"
    assert "number_left" in shown  # the notice of cards/notices.py


def test_each_card_is_a_picture_in_each_host(gallery: Gallery) -> None:
    names = [card["name"] for card in gallery.report["cards"]]
    assert len(set(names)) == len(names)
    for host in HOSTS:
        assert sorted(p.stem for p in (gallery.out / host).glob("*.png")) == sorted(names)
    # A card drawn under each host: its background is the host config's, not the other's.
    with Image.open(gallery.out / "light" / "status-a-full-page.png") as full:
        width, height = full.size
    assert width == 500 and height > 1000  # ten numbers with their buttons, then the form
    for host, background in CARD_BACKGROUND.items():
        with Image.open(gallery.out / host / "welcome.png") as welcome:
            pixels = welcome.convert("RGB")
        # A point inside the card's right padding (the card spans 14 to 486 px).
        assert pixels.getpixel((476, pixels.size[1] // 2)) == background, host


def test_the_index_lists_every_card_with_its_pictures(gallery: Gallery) -> None:
    index = (gallery.out / "index.md").read_text()
    for card in gallery.report["cards"]:
        for host in HOSTS:
            assert f'src="{host}/{card["name"]}.png"' in index


def test_the_renderer_reports_what_is_wrong_with_a_card(tmp_path: Path) -> None:
    """The gallery's check can fail: a card of a version Teams does not render, an unknown
    element, a duplicate input id and more buttons than Teams shows (its host config's
    maxActions) are each reported, under each host."""
    action = {"type": "Action.Execute", "title": "Go", "verb": "go"}
    broken = {
        "type": "AdaptiveCard", "version": "1.6",
        "body": [{"type": "TextBlok", "text": "x"}, {"type": "Input.Text", "id": "a"},
                 {"type": "Input.Text", "id": "a"}],
        "actions": [action] * 7,
    }  # fmt: skip
    cards = tmp_path / "cards.json"
    cards.write_text(json.dumps([{"name": "broken", "title": "x", "screen": "x", "card": broken}]))
    done = subprocess.run(
        ["node", str(RENDERER), str(cards), str(tmp_path / "out"), "--no-index"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    [card] = json.loads(done.stdout)["cards"]
    for host in HOSTS:
        warnings = card["hosts"][host]["warnings"]
        assert any("version (1.6) is not supported" in w for w in warnings), warnings
        assert any("TextBlok" in w for w in warnings), warnings
        assert any("Duplicate Id" in w for w in warnings), warnings
        assert any("actions" in w.lower() for w in warnings), warnings
        assert (tmp_path / "out" / host / "broken.png").stat().st_size > 0
