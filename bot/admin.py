"""The operators' command line, for the reseller's scripts: the same operations as the chat
commands, from the same settings and storage as the bot.

    python -m bot.admin enterprises [--json]
    python -m bot.admin new-enterprise --name N --contact C --number P --email E [--json]
    python -m bot.admin invite ENTERPRISE_ID [--team] [--tenant TENANT_ID] [--json]
    python -m bot.admin links [--json]
    python -m bot.admin unlink TENANT_OR_TEAM_ID [--json]
    python -m bot.admin history [--tenant T] [--team T] [--since DATE] [--limit N]
                                [--format text|csv|jsonl] [--json]
    python -m bot.admin import FILE.csv --enterprise E [--dry-run] [--results OUT.csv] [--json]

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
from pathlib import Path
from typing import IO, Any

from bot.audit import COMMAND_LINE, EXPORT_FIELDS, Audit, exported
from bot.branding import Brand, Branding
from bot.bulk import BulkMapper, BulkRun, CsvProblem, RowKind, TooManyRows, failed, read_csv
from bot.enterprise_info import EnterpriseInfo
from bot.logs import configure
from bot.mappings import MappingService
from bot.notices import NoNotices
from bot.operations import EnterpriseLinks, InvalidEnterpriseForm, Operations, enterprise_form
from bot.payment import PaymentGate
from bot.settings import Settings, load_settings
from bot.storage.base import Storage
from bot.storage.factory import open_storage
from bot.storage.models import AuditEntry, Link
from bot.tenancy import IssuedCode, tenancy_from_settings
from contextsms.client import ContextSMSClient
from contextsms.errors import ContextSMSError, NotFound, printable
from contextsms.retry import Deadline

EXPORT_PAGE = 500
# The preview's two reads of mappings, retries included.
PREVIEW_DEADLINE = 60.0
# Rows that cannot be done as the file asks, whatever ContextSMS would say.
WOULD_FAIL = frozenset({RowKind.INVALID, RowKind.DUPLICATE, RowKind.FOREIGN})
RESULT_FIELDS = ("line", "number", "channel id", "name", "kind", "outcome", "detail", "request id")
PREVIEW_FIELDS = ("line", "number", "channel id", "name", "kind", "detail")
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
    bulk = commands.add_parser(
        "import",
        parents=[output],
        help="map the numbers of a CSV file to channels",
        description=(
            "Map each number of FILE.csv (header row `number,channel id,name`; the name may be "
            "empty) to its channel in the enterprise. Channel ids are taken as given. A number "
            "mapped to another channel of the enterprise is moved to the file's channel. "
            "Nothing is asked. Exit code 1 when any row failed: a row that is invalid, repeats "
            "a number, is another organization's number, or that ContextSMS refused, could not "
            "do or did not confirm (each row's outcome is in the results file)."
        ),
    )
    bulk.add_argument("file", metavar="FILE.csv", type=Path)
    bulk.add_argument("--enterprise", required=True, help="the enterprise id (E...)")
    bulk.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would happen to each row and change nothing (exit 1 if any would fail)",
    )
    bulk.add_argument(
        "--results",
        type=Path,
        help=(
            "where to write the outcome of each row (default: FILE.results.csv next to FILE); "
            "a file already there is overwritten. It must not be FILE itself, and it is "
            "checked that it can be written before any row is imported"
        ),
    )
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
        case "import":
            await _import(args, tools, out)
        case _:
            raise AssertionError(f"unknown command {args.command!r}")  # argparse refuses it


# -- import --------------------------------------------------------------------------------


def _mapper(tools: Tools) -> BulkMapper:
    """The bot's bulk engine on the command line's client and storage. Notices cannot be
    posted from here (no Teams adapter): a moved number's old channel is not told."""
    bot, client = tools.settings.bot, tools.client
    info = EnterpriseInfo(client, ttl=bot.bot_brand_cache_seconds)
    payments = PaymentGate(
        client, info, enabled=bot.bot_payment_check, on_failure=bot.bot_payment_check_failure,
        ttl=bot.bot_payment_cache_seconds,
    )  # fmt: skip
    branding = Branding(client, info, Brand(product=bot.bot_product_name))
    return BulkMapper(
        MappingService(client), client, tools.storage, payments, tools.audit, NoNotices(),
        branding, concurrency=bot.bot_bulk_concurrency, max_rows=bot.bot_bulk_max_rows,
    )  # fmt: skip


async def _import(args: argparse.Namespace, tools: Tools, out: IO[str]) -> None:
    path: Path = args.file
    target: Path = args.results or path.with_name(f"{path.stem}.results.csv")
    if not args.dry_run:
        await asyncio.to_thread(_writable_results, path, target)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise Refused(
            f"{path} cannot be read ({type(exc).__name__}); nothing was changed"
        ) from None
    try:
        entries = read_csv(text, tools.settings.bot.bot_default_region)
    except CsvProblem as exc:
        raise Refused(f"{path}: {exc}; nothing was changed") from None
    if not entries:
        raise Refused(f"{path} has no rows under its header; nothing was changed")
    mapper = _mapper(tools)
    enterprise: str = args.enterprise
    try:
        run = await mapper.preview(
            entries, enterprise_id=enterprise, tenant_id="", team_id=None, channel_id=None,
            by=COMMAND_LINE, limit=Deadline(PREVIEW_DEADLINE),
        )  # fmt: skip
    except TooManyRows as exc:
        raise Refused(
            f"{path} has {exc.rows} rows; at most {exc.limit} are imported at once "
            "(BOT_BULK_MAX_ROWS): split the file. Nothing was changed"
        ) from None
    except NotFound:
        raise Refused(
            f"no enterprise {printable(enterprise)!r} in this CSP (see `enterprises`); "
            "nothing was changed"
        ) from None
    if args.dry_run:
        _preview_out(run, args.json, out)
        would_fail = sum(row.kind in WOULD_FAIL for row in run.rows)
        if would_fail:
            raise Refused(f"{would_fail} of {len(run.rows)} rows would fail; nothing was changed")
        return
    claimed = await mapper.claim(run.run_id, tenant_id="", move=True)
    if claimed is None:  # only this process knows the new run's id
        raise Refused("the import could not be started; nothing was changed")
    done = await mapper.apply(claimed)
    try:
        await asyncio.to_thread(_results_file, done, target)
    except OSError as exc:
        raise Refused(
            f"the rows were imported, but {target} cannot be written ({type(exc).__name__}): "
            "see `history` for what changed"
        ) from None
    _results_out(done, target, args.json, out)
    failures = sum(failed(result) for result in done.results)
    if failures:
        raise Refused(f"{failures} of {len(done.results)} rows failed (see {target})")


def _writable_results(source: Path, target: Path) -> None:
    """Refuse, before anything is read or changed, a results file that would overwrite the
    input or that cannot be written: the outcome of each row must not be lost after the
    rows are imported."""
    if source.resolve() == target.resolve() or (
        source.exists() and target.exists() and source.samefile(target)
    ):
        raise Refused(
            f"--results {target} is the file being imported: it would be overwritten; "
            "name another file; nothing was changed"
        )
    # The file itself, through any link to it: a link is left as it is, and only what was
    # made to try is removed.
    written = target.resolve()
    existed = written.exists()
    try:
        with written.open("a", encoding="utf-8"):  # appends nothing: an earlier file stays
            pass
    except OSError as exc:
        raise Refused(
            f"the results file {target} cannot be written ({type(exc).__name__}); "
            "nothing was changed"
        ) from None
    if not existed:
        written.unlink(missing_ok=True)  # made only to try: the import writes it at the end


def _row_values(run: BulkRun) -> list[dict[str, Any]]:
    return [
        {
            "line": row.entry.line,
            "number": row.entry.number or row.entry.typed,
            "channel id": row.channel_id,
            "name": row.entry.name or "",
            "kind": row.kind.value,
            "detail": row.problem
            or (f"now in {row.current_channel}" if row.kind is RowKind.MOVE else ""),
        }
        for row in run.rows
    ]


def _counted(values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _preview_out(run: BulkRun, as_json: bool, out: IO[str]) -> None:
    rows = _row_values(run)
    counts = _counted([row.kind.value for row in run.rows])
    if as_json:
        _dump({"dryRun": True, "enterpriseId": run.enterprise_id, "counts": counts,
               "rows": rows}, out)  # fmt: skip
        return
    for row in rows:
        print(printable("  ".join(str(row[f]) for f in PREVIEW_FIELDS if row[f] != "")), file=out)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"Dry run: {len(rows)} rows ({summary}); nothing was changed.", file=out)


def _result_values(run: BulkRun) -> list[dict[str, Any]]:
    return [
        {
            "line": result.row.entry.line,
            "number": result.row.entry.number or result.row.entry.typed,
            "channel id": result.row.channel_id,
            "name": result.row.entry.name or "",
            "kind": result.row.kind.value,
            "outcome": result.outcome.value,
            "detail": result.detail,
            "request id": result.request_id or "",
        }
        for result in run.results
    ]


def _results_file(run: BulkRun, target: Path) -> None:
    with target.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=RESULT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in _result_values(run):
            writer.writerow({k: _cell(v) for k, v in row.items()})


def _results_out(run: BulkRun, target: Path, as_json: bool, out: IO[str]) -> None:
    counts = _counted([result.outcome.value for result in run.results])
    if as_json:
        _dump({"dryRun": False, "enterpriseId": run.enterprise_id, "results": str(target),
               "counts": counts, "rows": _result_values(run)}, out)  # fmt: skip
        return
    summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
    print(f"Imported {len(run.results)} rows ({summary}); each row's outcome: {target}", file=out)


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
