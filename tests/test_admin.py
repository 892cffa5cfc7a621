"""`python -m bot.admin` as the reseller's scripts run it: a subprocess with its settings in the
environment, against the sandbox ContextSMS and a SQLite file in tmp_path."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.audit import Audit
from bot.conversation import Conversation, Person
from bot.settings import load_settings
from bot.storage.sqlite import SqliteStorage
from bot.tenancy import Linked, Tenancy, tenancy_from_settings
from contextsms import ContextSMSClient
from contextsms.models import Enterprise, EnterpriseCreate, MappingCreate
from sandbox.threaded import RunningSandbox
from tests.conftest import fresh_number

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
TENANT = "12345678-aaaa-bbbb-cccc-1234567890ab"
ADMIN = Person("customer-admin-object-id", "Carla Customer")
SIGNING_KEY = "a-signing-key-for-these-tests-only"


@dataclass
class Admin:
    env: dict[str, str]
    cwd: Path
    db: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PYTHON), "-m", "bot.admin", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def admin(sandbox: RunningSandbox, tmp_path: Path) -> Admin:
    db = tmp_path / "var" / "bot.db"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "CONTEXTSMS_BASE_URL": sandbox.api_url,
        "CONTEXTSMS_USERNAME": sandbox.settings.username,
        "CONTEXTSMS_PASSWORD": sandbox.settings.password.get_secret_value(),
        "CONTEXTSMS_CSP_ID": sandbox.seeded.csp_id,
        "BOT_LOCAL_DEV": "true",
        "BOT_STORAGE_PATH": str(db),
        "BOT_CARD_SIGNING_KEY": SIGNING_KEY,
    }
    # tmp_path as the working directory: no .env of the repository is read.
    return Admin(env, tmp_path, db)


@pytest.fixture
async def bot_tenancy(admin: Admin, sandbox: RunningSandbox) -> AsyncIterator[Tenancy]:
    """The bot's Tenancy on the same settings and database file as the command line."""
    settings = load_settings(
        contextsms={
            "base_url": sandbox.api_url,
            "username": sandbox.settings.username,
            "password": sandbox.settings.password,
            "csp_id": sandbox.seeded.csp_id,
        },
        bot={"bot_local_dev": True, "bot_storage_path": str(admin.db),
             "bot_card_signing_key": SIGNING_KEY},
    )  # fmt: skip
    admin.db.parent.mkdir(parents=True, exist_ok=True)
    storage = SqliteStorage(str(admin.db))
    yield tenancy_from_settings(settings, storage, Audit(storage))
    await storage.aclose()


def in_team(team: str | None = None) -> Conversation:
    return Conversation(tenant_id=TENANT, team_id=team, channel_id=team, user=ADMIN)


async def test_an_invite_from_the_command_line_links_the_customer_who_types_it(
    admin: Admin, bot_tenancy: Tenancy, sandbox: RunningSandbox
) -> None:
    enterprise = sandbox.seeded.enterprise_id
    printed = admin.ok("invite", enterprise)
    code = next(line for line in printed.splitlines() if line.startswith("Setup code: "))
    code = code.removeprefix("Setup code: ")
    assert printed.count(code) == 1 and enterprise in printed

    result = await bot_tenancy.setup(in_team(), code)
    assert isinstance(result, Linked) and result.link.enterprise_id == enterprise

    links = json.loads(admin.ok("links", "--json"))
    assert [(x["tenantId"], x["teamId"], x["enterpriseId"]) for x in links] == [
        (TENANT, None, enterprise)
    ]
    listed = json.loads(admin.ok("enterprises", "--json"))
    seeded = next(e for e in listed if e["enterpriseId"] == enterprise)
    assert [x["tenantId"] for x in seeded["links"]] == [TENANT]
    assert enterprise in admin.ok("enterprises") and TENANT in admin.ok("links")

    rows = list(csv.DictReader(io.StringIO(admin.ok("history", "--format", "csv"))))
    assert [(r["action"], r["outcome"], r["actor_name"], r["actor_id"]) for r in rows] == [
        ("link", "ok", ADMIN.name, ADMIN.object_id),
        ("code_used", "ok", ADMIN.name, ADMIN.object_id),
        ("code_issued", "ok", "command line", ""),
    ]
    lines = admin.ok("history", "--format", "jsonl", "--tenant", TENANT.upper()).splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["link", "code_used"]
    assert json.loads(lines[0])["after"] == enterprise
    everything = admin.ok("history", "--json")
    assert len(json.loads(everything)) == 3
    assert code not in everything and code.replace("-", "") not in everything

    # The same code a second time, from another team: used.
    again = await bot_tenancy.setup(in_team("another-team"), code)
    assert not isinstance(again, Linked)


async def test_history_since_a_date_and_a_team_scoped_invite_for_one_tenant(
    admin: Admin, bot_tenancy: Tenancy, sandbox: RunningSandbox
) -> None:
    printed = json.loads(
        admin.ok("invite", sandbox.seeded.enterprise_id, "--team", "--tenant", TENANT, "--json")
    )
    assert printed["teamScoped"] is True and printed["forTenant"] == TENANT.lower()
    result = await bot_tenancy.setup(in_team("19:team@thread.tacv2"), printed["code"])
    assert isinstance(result, Linked) and result.link.team_id == "19:team@thread.tacv2"

    assert json.loads(admin.ok("history", "--since", "2000-01-01", "--json"))
    assert json.loads(admin.ok("history", "--since", "2999-01-01T00:00+01:00", "--json")) == []
    assert admin.ok("history", "--since", "2999-01-01") == "No entries.\n"
    limited = admin.ok("history", "--format", "jsonl", "--limit", "1").splitlines()
    assert [json.loads(line)["action"] for line in limited] == ["link"]

    removed = json.loads(admin.ok("unlink", "19:team@thread.tacv2", "--json"))
    assert [(x["tenantId"], x["teamId"]) for x in removed] == [(TENANT, "19:team@thread.tacv2")]
    assert json.loads(admin.ok("links", "--json")) == []
    rows = [json.loads(line) for line in admin.ok("history", "--format", "jsonl").splitlines()]
    assert (rows[0]["action"], rows[0]["actor_name"], rows[0]["before"]) == (
        "unlink", "command line", sandbox.seeded.enterprise_id,
    )  # fmt: skip


def test_an_unknown_enterprise_gets_one_line_and_no_code(admin: Admin) -> None:
    done = admin("invite", "E9999999")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "E9999999" in lines[0] and "Traceback" not in done.stderr
    assert json.loads(admin.ok("history", "--json")) == []


def test_unlinking_what_is_not_linked_is_refused(admin: Admin) -> None:
    done = admin("unlink", TENANT)
    assert done.returncode == 1
    assert "nothing was changed" in done.stderr and TENANT in done.stderr
    assert "Traceback" not in done.stderr


def test_a_new_enterprise_is_checked_field_by_field_before_any_call(
    admin: Admin, sandbox: RunningSandbox
) -> None:
    before = json.loads(admin.ok("enterprises", "--json"))
    sandbox.control("POST", "stats/reset")
    done = admin(
        "new-enterprise", "--name", " ", "--contact", "Dr. Who",
        "--number", "555-12", "--email", "not-an-address",
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert "name:" in message and "number:" in message and "email:" in message
    assert "contact:" not in message
    assert not any(k.startswith("POST") for k in sandbox.stats()["requests"])

    number = fresh_number()
    created = json.loads(
        admin.ok(
            "new-enterprise",
            "--name",
            "Sunshine Dental",
            "--contact",
            "Dr. Maria Rodriguez",
            "--number",
            number[2:],
            "--email",
            "maria@example.com",
            "--json",
        )
    )
    assert created["name"] == "Sunshine Dental" and created["number"] == number
    after = json.loads(admin.ok("enterprises", "--json"))
    assert len(after) == len(before) + 1
    assert created["enterpriseId"] in {e["enterpriseId"] for e in after}
    [entry] = json.loads(admin.ok("history", "--json"))
    assert (entry["action"], entry["enterprise_id"], entry["actor_name"]) == (
        "enterprise_created", created["enterpriseId"], "command line",
    )  # fmt: skip


def test_usage_errors_exit_2(admin: Admin) -> None:
    for args in (
        (),
        ("invite",),
        ("history", "--since", "yesterday"),
        ("history", "--format", "xml"),
        ("history", "--limit", "0"),
        ("frobnicate",),
    ):
        done = admin(*args)
        assert done.returncode == 2, args
        assert "usage:" in done.stderr and "Traceback" not in done.stderr


def test_missing_settings_are_named_and_exit_1(admin: Admin) -> None:
    env = {k: v for k, v in admin.env.items() if k != "CONTEXTSMS_CSP_ID"}
    done = subprocess.run(
        [str(PYTHON), "-m", "bot.admin", "links"],
        env=env,
        cwd=admin.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "CONTEXTSMS_CSP_ID" in done.stderr and "Traceback" not in done.stderr


# -- import: a reseller's CSV ------------------------------------------------------------------

ADD = "/api/v2/mapping/add"
LIST = "/api/v2/numbertomessageappmapping"
FRONT = "19:front@thread.tacv2"
BACK = "any-channel-id-the-playground-made"
# What each kind the dry run shows becomes when the file is imported (numbers elsewhere move).
BECOMES = {
    "new": "mapped", "here": "already", "move": "moved",
    "invalid": "skipped", "duplicate": "skipped", "foreign": "skipped",
}  # fmt: skip


async def paid_enterprise(client: ContextSMSClient, sandbox: RunningSandbox) -> Enterprise:
    email = f"import-{fresh_number()[1:]}@example.com"
    sandbox.store.set_subscription(f"sub_{email}", "active", None, email, int(time.time()))
    return await client.create_enterprise(
        EnterpriseCreate(name="Reseller's Customer", contact="Ann", number=fresh_number(),
                         email=email)
    )  # fmt: skip


async def holding(client: ContextSMSClient, enterprise: Enterprise) -> dict[str, str]:
    """The sandbox's real state: number -> channel."""
    return {
        m.phone_number: m.messaging_app_id
        for m in await client.list_mappings(enterprise.enterprise_id)
    }


def results_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


async def test_a_csv_import_does_what_its_dry_run_said_row_by_row_and_audits_each_change(
    admin: Admin, sandbox: RunningSandbox, client: ContextSMSClient, tmp_path: Path
) -> None:
    ours = await paid_enterprise(client, sandbox)
    theirs = await paid_enterprise(client, sandbox)
    new_1, new_2, here, moving, foreign = (fresh_number() for _ in range(5))
    for enterprise, number, channel in (
        (ours, here, FRONT),
        (ours, moving, BACK),
        (theirs, foreign, "19:theirs@thread.tacv2"),
    ):
        await client.add_mapping(
            enterprise.enterprise_id, MappingCreate(phone_number=number, messaging_app_id=channel)
        )  # fmt: skip
    file = tmp_path / "numbers.csv"
    file.write_text(
        "Number, Channel ID ,Name\n"
        f"{new_1},{FRONT},Front desk \U0001f600\n"
        f"{new_2[2:]},{BACK},\n"
        f"{here},{FRONT},\n"
        f"{moving},{FRONT},Moved in\n"
        f"{foreign},{FRONT},\n"
        "555-0100 x12,19:x@thread.tacv2,\n"
        f"{new_1},{BACK},Again\n",
        encoding="utf-8",
    )
    before = await holding(client, ours)

    dry = admin("import", str(file), "--enterprise", ours.enterprise_id, "--dry-run", "--json")

    assert dry.returncode == 1  # rows that would fail: a script learns it before the import
    assert "3 of 7 rows would fail" in dry.stderr and "Traceback" not in dry.stderr
    preview = json.loads(dry.stdout)
    kinds = {row["line"]: row["kind"] for row in preview["rows"]}
    assert kinds == {2: "new", 3: "new", 4: "here", 5: "move", 6: "foreign", 7: "invalid",
                     8: "duplicate"}  # fmt: skip
    assert await holding(client, ours) == before
    assert json.loads(admin.ok("history", "--json")) == []
    assert "nothing was changed" in admin("import", str(file), "--enterprise",
                                          ours.enterprise_id, "--dry-run").stdout  # fmt: skip

    out = tmp_path / "out" / "results.csv"
    out.parent.mkdir()
    done = admin("import", str(file), "--enterprise", ours.enterprise_id, "--results", str(out))

    assert done.returncode == 1
    assert "3 of 7 rows failed" in done.stderr and "Traceback" not in done.stderr
    rows = results_of(out)
    assert {int(r["line"]): r["outcome"] for r in rows} == {
        line: BECOMES[kind] for line, kind in kinds.items()
    }
    assert "another organization" in next(r for r in rows if r["line"] == "6")["detail"]
    assert "extension" in next(r for r in rows if r["line"] == "7")["detail"]
    assert "line 2" in next(r for r in rows if r["line"] == "8")["detail"]
    # The sandbox holds what the results file says, and another organization's is untouched.
    now = await holding(client, ours)
    assert {r["number"]: r["channel id"] for r in rows if r["outcome"] != "skipped"} == now
    assert now == {new_1: FRONT, new_2: BACK, here: FRONT, moving: FRONT}
    assert (await holding(client, theirs))[foreign] == "19:theirs@thread.tacv2"
    # Each change in the audit trail, made by the command line.
    changes = json.loads(admin.ok("history", "--json"))
    assert sorted((c["action"], c["number"], c["after"], c["outcome"], c["actor_name"])
                  for c in changes) == sorted([
        ("map", new_1, FRONT, "ok", "command line"), ("map", new_2, BACK, "ok", "command line"),
        ("remap", moving, FRONT, "ok", "command line"),
    ])  # fmt: skip
    # Importing the same file again changes nothing more.
    again = admin("import", str(file), "--enterprise", ours.enterprise_id, "--json")
    outcomes = {r["line"]: r["outcome"] for r in json.loads(again.stdout)["rows"]}
    assert {outcomes[line] for line in (2, 3, 4, 5)} == {"already"}
    assert (tmp_path / "numbers.results.csv").exists()
    assert len(json.loads(admin.ok("history", "--json"))) == 3


async def test_an_import_whose_answer_is_lost_says_unknown_in_its_results_file(
    admin: Admin, sandbox: RunningSandbox, client: ContextSMSClient, tmp_path: Path
) -> None:
    ours = await paid_enterprise(client, sandbox)
    number = fresh_number()
    file = tmp_path / "one.csv"
    file.write_text(f"number,channel id,name\n{number},{FRONT},Lost answer\n", encoding="utf-8")
    # The preview's read goes through; the add is served, then answered 500; and every
    # look-up that would tell whether it was applied fails too.
    sandbox.faults(
        script=[
            {"method": "GET", "path_prefix": LIST, "delay_ms": 1},
            {"method": "POST", "path_prefix": ADD, "status": 500, "after_handler": True},
            *[{"method": "GET", "path_prefix": LIST, "status": 500}] * 10,
        ]
    )

    done = admin("import", str(file), "--enterprise", ours.enterprise_id)

    assert done.returncode == 1 and "Traceback" not in done.stderr
    [row] = results_of(tmp_path / "one.results.csv")
    assert row["outcome"] == "unknown"
    assert "may or may not" in row["detail"] and "not changed" not in row["detail"]
    sandbox.reset()
    assert (await holding(client, ours))[number] == FRONT  # it was applied after all
    [entry] = json.loads(admin.ok("history", "--json"))
    assert (entry["action"], entry["outcome"], entry["number"]) == ("map", "unknown", number)


def test_an_import_that_cannot_be_read_changes_nothing_and_says_why(
    admin: Admin, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("phone,channel\n+15551234567,19:x@thread.tacv2\n", encoding="utf-8")
    sandbox.control("POST", "stats/reset")
    for args in (
        (str(wrong), "--enterprise", sandbox.seeded.enterprise_id),
        (str(tmp_path / "missing.csv"), "--enterprise", sandbox.seeded.enterprise_id),
    ):
        done = admin("import", *args)
        assert done.returncode == 1, args
        assert "nothing was changed" in done.stderr and "Traceback" not in done.stderr
    assert "number" in admin("import", str(wrong), "--enterprise", "E1").stderr
    assert not any("/api/" in k and not k.startswith("GET") for k in sandbox.stats()["requests"])
    # Exit code 1 for failed rows is in the help a script writer reads.
    assert "Exit code 1 when any row failed" in " ".join(admin.ok("import", "--help").split())


async def test_an_import_that_would_lose_its_input_or_its_results_changes_nothing(
    admin: Admin, sandbox: RunningSandbox, client: ContextSMSClient, tmp_path: Path
) -> None:
    ours = await paid_enterprise(client, sandbox)
    number = fresh_number()
    file = tmp_path / "numbers.csv"
    typed = f"number,channel id,name\n{number},{FRONT},Front desk\n"
    file.write_text(typed, encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    sandbox.control("POST", "stats/reset")
    for results, says in (
        ("numbers.csv", "is the file being imported"),  # the same file, spelt another way
        (str(file), "is the file being imported"),
        (str(tmp_path / "no-such-folder" / "out.csv"), "cannot be written"),
        (str(tmp_path / "a-folder"), "cannot be written"),
    ):
        done = admin("import", str(file), "--enterprise", ours.enterprise_id, "--results", results)
        assert done.returncode == 1, results
        assert says in done.stderr and "nothing was changed" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert file.read_text(encoding="utf-8") == typed
    assert not (tmp_path / "no-such-folder").exists()
    assert list((tmp_path / "a-folder").iterdir()) == []
    assert not any("/api/" in k and not k.startswith("GET") for k in sandbox.stats()["requests"])
    assert await holding(client, ours) == {}
    assert json.loads(admin.ok("history", "--json")) == []


async def test_a_results_file_from_an_earlier_import_is_overwritten_as_the_help_says(
    admin: Admin, sandbox: RunningSandbox, client: ContextSMSClient, tmp_path: Path
) -> None:
    ours = await paid_enterprise(client, sandbox)
    number = fresh_number()
    file = tmp_path / "more.csv"
    file.write_text(f"number,channel id,name\n{number},{FRONT},\n", encoding="utf-8")
    earlier = tmp_path / "more.results.csv"
    earlier.write_text("the results of yesterday's import\n", encoding="utf-8")

    admin.ok("import", str(file), "--enterprise", ours.enterprise_id)

    assert [(r["number"], r["outcome"]) for r in results_of(earlier)] == [(number, "mapped")]
    assert "is overwritten" in " ".join(admin.ok("import", "--help").split())


@pytest.mark.parametrize(
    ("header", "row", "says"),
    [
        ("number,channel id,number,name", "{n},19:a@thread.tacv2,junk,Front", "more than once"),
        ("number,channel id,name", '{n},19:a@thread.tacv2,"unterminated', "quote"),
        ("number,channel id,name", '{n},19:a@thread.tacv2,"half"quoted', "quote"),
    ],
)
async def test_a_csv_with_a_column_named_twice_or_a_quote_left_open_is_refused(
    admin: Admin, sandbox: RunningSandbox, client: ContextSMSClient, tmp_path: Path,
    header: str, row: str, says: str,
) -> None:  # fmt: skip
    ours = await paid_enterprise(client, sandbox)
    number = fresh_number()
    file = tmp_path / "bad.csv"
    # A second, good row after the bad one: an open quote must not swallow it unseen.
    file.write_text(
        f"{header}\n{row.format(n=number)}\n{fresh_number()},19:a@thread.tacv2,x\n",
        encoding="utf-8",
    )

    for extra in ((), ("--dry-run",)):
        done = admin("import", str(file), "--enterprise", ours.enterprise_id, *extra)
        assert done.returncode == 1
        assert says in done.stderr and "nothing was changed" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
    assert await holding(client, ours) == {}
    assert not (tmp_path / "bad.results.csv").exists()
    assert json.loads(admin.ok("history", "--json")) == []


def test_a_refused_import_leaves_a_results_link_and_its_folder_as_they_were(
    admin: Admin, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    source = tmp_path / "numbers.csv"
    source.write_text("phone,where\n+15559876543,19:a@thread.tacv2\n")  # a header it refuses
    (tmp_path / "out").mkdir()
    link = tmp_path / "results.csv"
    link.symlink_to(tmp_path / "out" / "results-2024.csv")  # to a file not made yet
    done = admin(
        "import", str(source), "--enterprise", sandbox.seeded.enterprise_id,
        "--results", str(link),
    )  # fmt: skip
    assert done.returncode == 1 and "nothing was changed" in done.stderr
    assert link.is_symlink() and list((tmp_path / "out").iterdir()) == []
