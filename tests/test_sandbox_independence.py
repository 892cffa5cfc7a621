"""The sandbox is a fake of the vendor written apart from the client: no shared code."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from sandbox.threaded import RunningSandbox
from tests.test_sandbox_limits import token

SANDBOX = Path(__file__).resolve().parent.parent / "sandbox"
CLIENT_SIDE = {"contextsms", "bot", "cards", "app", "tests"}


def imported_packages(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_sandbox_imports_nothing_of_the_client_side() -> None:
    modules = sorted(SANDBOX.glob("*.py"))
    assert len(modules) >= 8
    shared = {path.name: imported_packages(path) & CLIENT_SIDE for path in modules}
    assert {name: found for name, found in shared.items() if found} == {}


@pytest.mark.parametrize(
    ("number", "accepted"),
    [
        ("+15559876543", True),  # the vendor's own fictional example
        ("+442079460000", True),
        ("+4930123456", True),
        ("15559876543", False),  # no plus
        ("+05559876543", False),  # no country code starts with 0
        ("+1555987654321234", False),  # 16 digits
        ("+1 555 987 6543", False),  # written for people, not E.164
        ("+1555", False),  # too short for its country
        ("+1555987654", False),  # one digit short of a North American number
        ("+٣٣١٢٣٤٥٦٧٨٩", False),  # digits, but not ASCII ones
        ("+15559876543\n", False),
    ],
)
def test_the_sandbox_checks_e164_itself(
    sandbox: RunningSandbox, number: str, accepted: bool
) -> None:
    response = httpx.post(
        f"{sandbox.api_url}/enterprise/{sandbox.seeded.csp_id}",
        json={"name": "E164 check", "contact": "c", "number": number, "email": "e@example.com"},
        headers={"Authorization": f"Bearer {token(sandbox)}"},
    )
    if accepted:
        assert response.status_code == 201, response.text
        assert response.json()["number"] == number
    else:
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": "Invalid field 'number': expected an E.164 number such as +15551234567",
            "code": "BAD_REQUEST",
        }
