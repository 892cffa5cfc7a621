"""The operators' command line, for the reseller's scripts: the same operations as the chat
commands, from the same settings and storage as the bot.

    python -m bot.admin enterprises [--json]
    python -m bot.admin new-enterprise --name N --contact C --number P --email E [--json]
    python -m bot.admin invite ENTERPRISE_ID [--team] [--tenant TENANT_ID] [--json]
    python -m bot.admin links [--json]
    python -m bot.admin unlink TENANT_OR_TEAM_ID [--json]
    python -m bot.admin history [--tenant T] [--team T] [--since DATE] [--limit N]
                                [--format text|csv|jsonl] [--json]

`--json` prints one JSON document on stdout. Exit codes: 0 done, 1 refused or failed (one
line on stderr, no trace), 2 usage. Nothing is asked interactively. Changes are recorded in
the audit trail as made by the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from bot.audit import COMMAND_LINE, EXPORT_FIELDS, Audit, exported
from bot.logs import configure
from bot.operations import EnterpriseLinks, InvalidEnterpriseForm, Operations, enterprise_form
from bot.settings import Settings, load_settings
from bot.storage.base import Storage
from bot.storage.factory import open_storage
from bot.storage.models import AuditEntry, Link
from bot.tenancy import IssuedCode, tenancy_from_settings
from contextsms.client import ContextSMSClient
from contextsms.errors import ContextSMSError, NotFound, printable

EXPORT_PAGE = 500
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+$")


class Refused(Exception):
    """The command cannot be done as asked: its message goes to stderr, exit code 1."""


@dataclass
class Tools:
    settings: Settings
    storage: Storage
    client: ContextSMSClient
    audit: Audit
    operations: Operations


def parser() -> argparse.ArgumentParser:
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print one JSON document")
    top = argparse.ArgumentParser(
        prog="python -m bot.admin",
        description="Operators' commands: enterprises, setup codes, links, the audit trail.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "enterprises", parents=[output], help="the CSP's enterprises and what is linked to each"
    )
    new = commands.add_parser("new-enterprise", parents=[output], help="create an enterprise")
    new.add_argument("--name", required=True)
    new.add_argument("--contact", required=True)
    new.add_argument("--number", required=True, help="E.164, or national in BOT_DEFAULT_REGION")
    new.add_argument("--email", required=True)
    invite = commands.add_parser(
        "invite", parents=[output], help="a one-time setup code for an enterprise"
    )
    invite.add_argument("enterprise_id")
    invite.add_argument(
        "--team", action="store_true", help="the code links the team it is typed in, not a tenant"
    )
    invite.add_argument("--tenant", help="only this tenant may use the code")
    commands.add_parser("links", parents=[output], help="every tenant and team linked")
    unlink = commands.add_parser(
        "unlink", parents=[output], help="remove a tenant's or team's link"
    )
    unlink.add_argument("target", metavar="TENANT_OR_TEAM_ID")
    history = commands.add_parser("history", parents=[output], help="export the audit trail")
    history.add_argument("--tenant")
    history.add_argument("--team")
    history.add_argument("--since", type=_since, help="ISO date or time (UTC unless it says)")
    history.add_argument("--limit", type=_positive, help="at most this many, newest first")
    history.add_argument("--format", choices=("text", "csv", "jsonl"), default="text")
    return top


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date such as 2025-01-31 or 2025-01-31T08:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


async def run(args: argparse.Namespace, settings: Settings, out: IO[str]) -> None:
    storage = await open_storage(settings.bot)
    try:
        async with settings.contextsms.client() as client:
            audit = Audit(storage)
            tenancy = tenancy_from_settings(settings, storage, audit)
            operations = Operations(client, tenancy, audit, region=settings.bot.bot_default_region)
            await _command(args, Tools(settings, storage, client, audit, operations), out)
    finally:
        await storage.aclose()


async def _command(args: argparse.Namespace, tools: Tools, out: IO[str]) -> None:
    ops = tools.operations
    as_json: bool = args.json
    match args.command:
        case "enterprises":
            listed = await ops.enterprises()
            if as_json:
                _dump([_enterprise_json(e) for e in listed], out)
            else:
                _enterprises_text(listed, out)
        case "new-enterprise":
            try:
                form = enterprise_form(
                    name=args.name,
                    contact=args.contact,
                    number=args.number,
                    email=args.email,
                    region=tools.settings.bot.bot_default_region,
                )
            except InvalidEnterpriseForm as exc:
                raise Refused(f"nothing was created: {exc}") from None
            created = await ops.new_enterprise(form, by=COMMAND_LINE)
            if as_json:
                _dump(created.model_dump(mode="json", by_alias=True), out)
            else:
                print(f"Created enterprise {created.enterprise_id} ({created.name}).", file=out)
        case "invite":
            try:
                issued = await ops.invite(
                    args.enterprise_id,
                    by=COMMAND_LINE,
                    team_scoped=args.team,
                    for_tenant=args.tenant,
                )
            except NotFound:
                raise Refused(
                    f"no enterprise {printable(args.enterprise_id)!r} in this CSP "
                    "(see `enterprises`); no code was issued"
                ) from None
            if as_json:
                _dump(_code_json(issued), out)
            else:
                _code_text(issued, out)
        case "links":
            links = await ops.links()
            if as_json:
                _dump([_link_json(link) for link in links], out)
            else:
                for link in links or []:
                    print(_link_text(link), file=out)
                if not links:
                    print("Nothing is linked.", file=out)
        case "unlink":
            removed = await ops.unlink(args.target, by=COMMAND_LINE)
            if not removed:
                raise Refused(
                    f"no tenant or team {printable(args.target)!r} is linked; nothing was changed"
                )
            if as_json:
                _dump([_link_json(link) for link in removed], out)
            else:
                for link in removed:
                    print(f"Unlinked {_link_text(link)}", file=out)
        case "history":
            entries = await _history(tools.audit, args)
            _history_out(entries, "json" if as_json else args.format, out)
        case _:
            raise AssertionError(f"unknown command {args.command!r}")  # argparse refuses it


# -- output --------------------------------------------------------------------------------


def _dump(value: Any, out: IO[str]) -> None:
    json.dump(value, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _link_json(link: Link) -> dict[str, Any]:
    return {
        "tenantId": link.tenant_id,
        "teamId": link.team_id,
        "enterpriseId": link.enterprise_id,
        "linkedAt": link.linked_at.astimezone(UTC).isoformat(),
        "linkedBy": link.linked_by,
    }


def _link_text(link: Link) -> str:
    who = (
        f"team {link.team_id} of tenant {link.tenant_id}"
        if link.team_id
        else (f"tenant {link.tenant_id}")
    )
    since = f"{link.linked_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"{who} -> {link.enterprise_id} (since {since})"


def _enterprise_json(item: EnterpriseLinks) -> dict[str, Any]:
    data: dict[str, Any] = item.enterprise.model_dump(mode="json", by_alias=True)
    data["links"] = [_link_json(link) for link in item.links]
    return data


def _enterprises_text(listed: list[EnterpriseLinks], out: IO[str]) -> None:
    if not listed:
        print("This CSP has no enterprises yet (see `new-enterprise`).", file=out)
    for item in listed:
        e = item.enterprise
        deleted = " [deleted]" if e.deleted else ""
        print(f"{e.enterprise_id}  {printable(e.name)}{deleted}", file=out)
        for link in item.links:
            print(f"    linked: {_link_text(link)}", file=out)
        if not item.links:
            print("    not linked", file=out)


def _code_json(issued: IssuedCode) -> dict[str, Any]:
    return {
        "code": issued.code,
        "enterpriseId": issued.enterprise_id,
        "expiresAt": issued.expires_at.astimezone(UTC).isoformat(),
        "teamScoped": issued.team_scoped,
        "forTenant": issued.for_tenant,
    }


def _code_text(issued: IssuedCode, out: IO[str]) -> None:
    scope = "one team (typed in a channel of it)" if issued.team_scoped else "a whole tenant"
    who = f"only tenant {issued.for_tenant}" if issued.for_tenant else "any tenant"
    until = f"{issued.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    print(f"Setup code: {issued.code}", file=out)
    print(
        f"It links {scope} to enterprise {issued.enterprise_id}, for {who}; it works once, "
        f"until {until}. The customer's admin types `setup` and the code to the bot in Teams. "
        "It is not stored and cannot be shown again.",
        file=out,
    )


async def _history(audit: Audit, args: argparse.Namespace) -> list[AuditEntry]:
    wanted: int | None = args.limit
    entries: list[AuditEntry] = []
    before: str | None = None
    while wanted is None or len(entries) < wanted:
        size = EXPORT_PAGE if wanted is None else min(EXPORT_PAGE, wanted - len(entries))
        page = await audit.history(
            tenant_id=args.tenant,
            team_id=args.team,
            since=args.since,
            before_id=before,
            limit=size,
        )
        entries.extend(page)
        if len(page) < size:
            break
        before = page[-1].entry_id
    return entries


def _history_out(entries: list[AuditEntry], form: str, out: IO[str]) -> None:
    rows = [exported(entry) for entry in entries]
    match form:
        case "json":
            _dump(rows, out)
        case "jsonl":
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        case "csv":
            writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(v) for k, v in row.items()})
        case "text":
            for entry in entries:
                print(_entry_text(entry), file=out)
            if not entries:
                print("No entries.", file=out)
        case _:
            raise AssertionError(f"unknown format {form!r}")  # argparse's choices refuse it


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula (names and channel names are
    typed by people); phone numbers like +15551234567 stay as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        if not _PLAIN_NUMBER.match(value):
            return "'" + value
    return value


def _entry_text(entry: AuditEntry) -> str:
    parts = [
        f"{entry.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        entry.action.value,
        entry.outcome,
        f"by {entry.actor_name or entry.actor_id or '-'}",
    ]
    for label, value in (
        ("tenant", entry.tenant_id),
        ("team", entry.team_id),
        ("channel", entry.channel_id),
        ("enterprise", entry.enterprise_id),
        ("number", entry.number),
        ("before", entry.before),
        ("after", entry.after),
        ("requestId", entry.request_id),
    ):
        if value:
            parts.append(f"{label} {value}")
    return printable(" ".join(parts))


# -- the process ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    args = parser().parse_args(argv)  # exits 2 on a usage error, with argparse's message
    settings = load_settings()  # a SettingsError exits 1 with a message naming the variable
    configure(settings.bot.bot_log_format)
    # The client's and the storage's INFO lines are for the bot's log; here stdout is the
    # result, and stderr says what went wrong.
    logging.getLogger().setLevel(logging.WARNING)
    try:
        asyncio.run(run(args, settings, out or sys.stdout))
    except Refused as exc:
        return _fail(str(exc))
    except InvalidEnterpriseForm as exc:
        return _fail(f"nothing was created: {exc}")
    except NotFound as exc:
        return _fail(f"not found: {exc.message}")
    except ContextSMSError as exc:
        unknown = (
            " (it may have been applied: check before retrying)" if exc.outcome_unknown else ""
        )
        return _fail(f"ContextSMS: {exc}{unknown}")
    except Exception as exc:  # the storage's errors (SQLite, Azure) among others: no trace
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        return _fail(f"{type(exc).__name__}: {first_line}")
    return 0


def _fail(message: str) -> int:
    print(f"error: {printable(message)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
