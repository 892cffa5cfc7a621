"""A person's session in the Playground's web page, in headless Chromium, with a screenshot
of every step: in var/screenshots/, or in docs/screenshots/ (shown in the README) with
`make screenshots`. Besides mapping, moving and unmapping: the notice the channel that lost a
number gets, a pasted list previewed and applied, and the cards of a team linked to another
CSP's enterprise in that CSP's brand."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from devstack import Stack
from tests.support.playground import GENERAL

ROOT = Path(__file__).resolve().parents[2]


def test_a_person_maps_moves_and_unmaps_numbers_in_the_playground(
    stack: Stack, tmp_path: Path
) -> None:
    shots = ROOT / os.environ.get("SCREENSHOTS_DIR", "var/screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*-FAILED.png"):
        old.unlink()
    # A reseller's setup code for the second CSP's enterprise, typed by the team's owner at the
    # end: the team's cards then carry that CSP's brand.
    code = stack.admin("invite", stack.branded_enterprise_id, "--team")["code"]
    try:
        result = subprocess.run(
            ["node", str(ROOT / "tests/e2e/browser.mjs"), stack.playground_url, str(shots), code],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        # The other end-to-end tests expect the Playground's team on the demo enterprise.
        if any(link["teamId"] == GENERAL for link in stack.admin("links")):
            stack.admin("unlink", GENERAL)
    steps = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    failed = [s for s in steps if not s["ok"]]
    assert result.returncode == 0 and not failed, (failed, result.stderr[-2000:])
    assert [s["step"] for s in steps] == [
        "01-map", "02-map-in-announcements", "03-map-taken-number", "04-move-it-here",
        "05-status", "06-unmap-asks-first", "07-unmapped", "08-bad-number",
        "09-form-checks-the-number", "10-notice", "11-bulk-preview", "12-bulk-done",
        "13-branded",
    ]  # fmt: skip
    # Teams' limits, as a person waits them: a card click within 5 s, a message within 15 s.
    assert all(s["ms"] < 15000 for s in steps)
    clicks = {"04-move-it-here", "07-unmapped", "12-bulk-done"}
    assert all(s["ms"] < 5000 for s in steps if s["step"] in clicks)
    for s in steps:
        assert (shots / f"{s['step']}.png").stat().st_size > 10_000
    assert not any(link["teamId"] == GENERAL for link in stack.admin("links"))
