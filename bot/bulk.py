"""Bulk mapping: a list of numbers (typed, pasted, or a reseller's CSV) mapped to channels in
one run. A run is previewed first (what will happen to each number), stored, and applied once:
a second click, or another instance, finds it claimed. Applying runs a few changes at a time
and reports each number's outcome as it goes.

The preview reads the enterprise's mappings once, and the CSP's once where the account may (a
number another organization of the CSP holds is then known before anything is sent; one of
another CSP is only learnt when ContextSMS refuses it). Applying checks the payment state for
each change (the gate caches it) and records every change in the audit trail as the chat does.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import assert_never

from bot.audit import COMMAND_LINE, Audit, tenant_key
from bot.branding import Branding
from bot.commands import Verb, from_form, read_number
from bot.conversation import Conversation, Person
from bot.logs import event
from bot.mappings import Mapped, MappingService, Moved, NotMapped, TakenElsewhere, TakenInEnterprise
from bot.notices import Notices, NumberLeft
from bot.payment import Paid, PaymentGate, PaymentUnknown, Unpaid
from bot.storage.base import Storage
from bot.storage.models import (
    AuditAction,
    BulkEntry,
    BulkRow,
    BulkRun,
    RowKind,
    RowOutcome,
    RowResult,
    RunState,
)
from contextsms import ContextSMSClient
from contextsms.errors import ApiError, ContextSMSError, PermissionDenied
from contextsms.models import Mapping
from contextsms.retry import Deadline

__all__ = [
    "BulkEntry",
    "BulkMapper",
    "BulkRow",
    "BulkRun",
    "CsvProblem",
    "Progress",
    "RowKind",
    "RowOutcome",
    "RowResult",
    "RunState",
    "TooManyRows",
    "read_csv",
    "read_lines",
    "stopped",
]

log = logging.getLogger("bot.bulk")

Progress = Callable[[BulkRun], Awaitable[None]]

# How long one row's calls may take in all, retries included (the chat's own budget per
# request, bot.turn.API_DEADLINE; the run itself has no deadline: it reports as it goes).
ROW_DEADLINE = 30.0
TYPED_LIMIT = 200  # characters of a line kept to show it back
CHANNEL_LIMIT = 200  # a channel id longer than this is not one a person meant
CSV_COLUMNS = ("number", "channel id", "name")
# An APPLYING run stores its results at least this often while it goes (progress reports and
# a heartbeat, see BulkMapper.apply); one not advanced for this long was stopped by a process
# that ended without saying so (killed): it will not go on.
STALE_AFTER = 120.0
HEARTBEAT = STALE_AFTER / 4
# The outcomes where what was asked is done; any other is a row that failed.
DONE = frozenset({RowOutcome.MAPPED, RowOutcome.MOVED, RowOutcome.ALREADY})


class TooManyRows(Exception):
    """The list is longer than one run may be: nothing was looked up or stored."""

    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(f"{rows} numbers; at most {limit} can be mapped at once")
        self.rows = rows
        self.limit = limit


class CsvProblem(ValueError):
    """The file is not a CSV with the columns `number,channel id,name`: says what is wrong."""


# -- reading lists ----------------------------------------------------------------------------


def read_lines(text: str, region: str) -> list[BulkEntry]:
    """One entry per non-empty line: a number, optionally followed by a name (read as the
    one-line `map` reads its number and name)."""
    entries: list[BulkEntry] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        command = read_number(Verb.MAP, "map", words, region)
        entries.append(
            _entry(line_number, " ".join(words), command.number, command.name,
                   command.problem, command.name_problem)
        )  # fmt: skip
    return entries


def read_csv(text: str, region: str) -> list[BulkEntry]:
    """Entries from a CSV whose header row names the columns `number`, `channel id` and
    `name` (any case and spacing; `name` may be left out). Channel ids are taken as given:
    ContextSMS accepts any. Raises CsvProblem when the header is not that, names a column
    twice, or the file is not well-formed CSV (e.g. a quote left open, which would otherwise
    swallow the rest of the file into one cell)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvProblem(
            "the file is empty; its first row must be `number,channel id,name`"
        ) from None
    except csv.Error as exc:
        raise CsvProblem(f"the first row cannot be read as CSV ({exc})") from None
    names = [" ".join(cell.replace("_", " ").split()).lower() for cell in header]
    twice = sorted({name for name in names if name in CSV_COLUMNS and names.count(name) > 1})
    if twice:
        raise CsvProblem(
            f"the first row names the column {' and '.join(repr(t) for t in twice)} more than "
            "once; it must name `number,channel id,name` once each"
        )
    columns = {name: index for index, name in enumerate(names) if name in CSV_COLUMNS}
    missing = [name for name in CSV_COLUMNS[:2] if name not in columns]
    if missing:
        raise CsvProblem(
            f"the first row must name the columns `number,channel id,name`; "
            f"no column {' or '.join(repr(m) for m in missing)} was found"
        )
    entries: list[BulkEntry] = []
    while True:
        starts = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvProblem(
                f"the row that starts on line {starts} cannot be read as CSV ({exc}): a cell "
                "that starts with a quote must end with one, and a quote inside it is doubled"
            ) from None
        if not any(cell.strip() for cell in cells):
            continue
        typed = ",".join(cells)
        channel = _cell(cells, columns, "channel id")
        command = from_form(_cell(cells, columns, "number"), _cell(cells, columns, "name"), region)
        problem = command.problem
        if problem is None and not channel:
            problem = "no channel id was given"
        elif problem is None and (len(channel) > CHANNEL_LIMIT or not channel.isprintable()):
            problem = f"the channel id is not one (over {CHANNEL_LIMIT} characters or unprintable)"
        entries.append(
            _entry(reader.line_num, typed, command.number, command.name, problem,
                   command.name_problem, channel or None)
        )  # fmt: skip
    return entries


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _entry(
    line: int, typed: str, number: str | None, name: str | None, problem: str | None,
    name_problem: str | None, channel_id: str | None = None,
) -> BulkEntry:  # fmt: skip
    if problem is None and name_problem is not None:
        problem = f"the name cannot be used: {name_problem}"
    if problem is not None:
        return BulkEntry(line, typed[:TYPED_LIMIT], None, name, channel_id, problem)
    return BulkEntry(line, typed[:TYPED_LIMIT], number, name, channel_id)


def stopped(run: BulkRun, now: datetime) -> bool:
    """Whether the run ended before its end: STOPPED (the bot shut down while it ran), or
    APPLYING and not advanced for STALE_AFTER seconds (its process was killed). Its rows
    without a result may or may not have changed."""
    match run.state:
        case RunState.STOPPED:
            return True
        case RunState.APPLYING:
            last = run.updated_at or run.created_at
            return now - last > timedelta(seconds=STALE_AFTER)
        case RunState.PREVIEWED | RunState.DONE:
            return False
        case _:
            assert_never(run.state)


def failed(result: RowResult) -> bool:
    """Whether the row was not done as asked (skipped, refused, unpaid, failed, unknown)."""
    return result.outcome not in DONE


# -- the engine -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Done:
    outcome: RowOutcome
    detail: str = ""
    request_id: str | None = None
    audit: AuditAction | None = None  # the change to record, if one was attempted
    before: str | None = None
    left: str | None = None  # the channel that lost the number (a notice goes there)


class BulkMapper:
    """Lists previewed, claimed once and applied: `preview` stores a run, `claim` takes it
    for one applier across instances, `apply` runs it `concurrency` changes at a time with the
    payment gate, the audit trail and one notice per channel that lost numbers, `run` reads
    it back."""

    def __init__(
        self, service: MappingService, client: ContextSMSClient, storage: Storage,
        payments: PaymentGate, audit: Audit, notices: Notices, branding: Branding, *,
        concurrency: int = 4, max_rows: int = 500,
    ) -> None:  # fmt: skip
        self.service = service
        self.client = client
        self.storage = storage
        self.payments = payments
        self.audit = audit
        self.notices = notices
        self.branding = branding
        self.concurrency = concurrency
        self.max_rows = max_rows

    # -- preview ----------------------------------------------------------------------------

    async def preview(
        self, entries: Sequence[BulkEntry], *, enterprise_id: str, tenant_id: str,
        team_id: str | None, channel_id: str | None, by: Person | None, limit: Deadline,
    ) -> BulkRun:  # fmt: skip
        """What will happen to each entry, stored as a run to apply. Entries without a
        channel of their own go to `channel_id`. Raises TooManyRows (nothing looked up or
        stored) and ContextSMSError (the mappings could not be read)."""
        if len(entries) > self.max_rows:
            raise TooManyRows(len(entries), self.max_rows)
        ours, others = await asyncio.gather(
            self.service.all(enterprise_id, limit), self._csp_mappings(enterprise_id, limit)
        )
        by_number = {m.phone_number: m for m in ours}
        first_line: dict[str, int] = {}
        rows = []
        for entry in entries:
            rows.append(self._row(entry, channel_id, by_number, others, first_line))
        run = BulkRun(
            run_id=secrets.token_urlsafe(18),  # 24 characters
            tenant_id=tenant_key(tenant_id) if tenant_id else "",
            team_id=team_id,
            channel_id=channel_id,
            enterprise_id=enterprise_id,
            created_by=by,
            created_at=datetime.now(UTC),
            state=RunState.PREVIEWED,
            rows=tuple(rows),
        )
        await self.storage.put_bulk_run(run)
        event(log, "bulk_previewed", {"run": run.run_id, "rows": len(rows), **_counts(rows)})
        return run

    async def _csp_mappings(self, enterprise_id: str, limit: Deadline) -> dict[str, Mapping]:
        """Numbers other enterprises of the CSP hold; none when the account may not read
        them (only a CSP's account may): those are learnt when applying."""
        if not self.client.csp_id:
            return {}
        try:
            listed = await self.client.list_csp_mappings(deadline=limit.remaining())
        except PermissionDenied:
            return {}
        return {m.phone_number: m for m in listed if m.enterprise_id != enterprise_id}

    @staticmethod
    def _row(
        entry: BulkEntry, channel_id: str | None, ours: dict[str, Mapping],
        others: dict[str, Mapping], first_line: dict[str, int],
    ) -> BulkRow:  # fmt: skip
        target = entry.channel_id or channel_id
        if entry.number is None or target is None:
            why = entry.problem or "no channel id was given"
            return BulkRow(entry, target or "", RowKind.INVALID, problem=why)
        if entry.number in first_line:
            why = f"the same number as line {first_line[entry.number]}"
            return BulkRow(entry, target, RowKind.DUPLICATE, problem=why)
        first_line[entry.number] = entry.line
        mine = ours.get(entry.number)
        if mine is not None:
            kind = RowKind.HERE if mine.messaging_app_id == target else RowKind.MOVE
            return BulkRow(entry, target, kind, mine.messaging_app_id, mine.id)
        if entry.number in others:
            why = "it is mapped by another organization"
            return BulkRow(entry, target, RowKind.FOREIGN, problem=why)
        return BulkRow(entry, target, RowKind.NEW)

    # -- claim and read -----------------------------------------------------------------------

    async def claim(self, run_id: str, *, tenant_id: str, move: bool) -> BulkRun | None:
        """The run, now APPLYING with `move` as chosen, if it was this tenant's and not
        claimed yet (by any click on any instance); otherwise None."""
        return await self.storage.claim_bulk_run(
            run_id, tenant_key(tenant_id) if tenant_id else "", move, datetime.now(UTC)
        )

    async def run(self, run_id: str, *, tenant_id: str) -> BulkRun | None:
        """The run as last stored, if it is this tenant's."""
        found = await self.storage.bulk_run(run_id)
        if found is None or found.tenant_id != (tenant_key(tenant_id) if tenant_id else ""):
            return None
        return found

    # -- apply ------------------------------------------------------------------------------

    async def apply(
        self, run: BulkRun, progress: Progress | None = None, *, every: float = 1.0,
        by: Person | None = None,
    ) -> BulkRun:  # fmt: skip
        """Apply a claimed run, `concurrency` rows at a time, as `by` (who clicked; None: who
        previewed it, e.g. the command line); `progress(run)` as rows finish (at most every
        `every` seconds) and once at the end, with the results so far (in the rows' order).
        Results are stored as it goes and at least every HEARTBEAT seconds; the run ends DONE.
        Each channel that lost numbers is told once, at the end, of all of them.

        Cancelled (the bot shuts down), the results so far are stored with the state STOPPED
        and the cancellation goes on: rows under way are UNKNOWN, rows not started have no
        result."""
        if run.state is not RunState.APPLYING:
            raise ValueError("only a claimed run (see claim) is applied")
        person = by or run.created_by
        started = time.monotonic()
        results: list[RowResult | None] = [None] * len(run.rows)
        left: dict[int, str] = {}  # row index -> the channel a moved number left
        gate = asyncio.Semaphore(self.concurrency)
        # One write at a time, in order (Table storage's results are read, then rewritten).
        storing = asyncio.Lock()
        last = time.monotonic()

        def so_far(state: RunState) -> BulkRun:
            return replace(
                run, state=state, results=tuple(r for r in results if r is not None),
                updated_at=datetime.now(UTC),
            )  # fmt: skip

        writing: asyncio.Task[None] | None = None

        async def store(state: RunState) -> BulkRun:
            nonlocal last, writing
            async with storing:
                last = time.monotonic()
                snapshot = so_far(state)
                # Never cut half-way (Table storage writes a run's results in several steps);
                # a stop waits for it before it writes its own.
                writing = asyncio.create_task(self._store(snapshot))
                await asyncio.shield(writing)
                return snapshot

        async def tell(snapshot: BulkRun) -> None:
            if progress is not None:
                try:
                    await progress(snapshot)
                except Exception as exc:  # a card that cannot be updated never stops the run
                    event(
                        log, "bulk_progress_failed", {"error": type(exc).__name__}, logging.WARNING
                    )

        async def report(state: RunState) -> BulkRun:
            nonlocal last
            snapshot = await store(state)
            await tell(snapshot)
            # The next report is `every` after this one ends: a slow store or card update
            # never brings two reports closer together.
            last = time.monotonic()
            return snapshot

        async def one(index: int, row: BulkRow) -> None:
            async with gate:
                await self._apply_row(run, index, row, person, results, left)
            # One report at a time, and none while one is under way: rows keep going.
            if time.monotonic() - last >= every and not storing.locked():
                await report(RunState.APPLYING)

        async def heartbeat() -> None:
            # Rows can all be slow at once: the run still shows it is alive (see stopped()).
            while True:
                await asyncio.sleep(max(0.0, HEARTBEAT - (time.monotonic() - last)))
                if time.monotonic() - last >= HEARTBEAT:
                    await store(RunState.APPLYING)

        beating = asyncio.create_task(heartbeat())
        try:
            await asyncio.gather(*(one(i, row) for i, row in enumerate(run.rows)))
        except asyncio.CancelledError:
            await _stop(beating)
            # The rows are cancelled and finished by now (gather waits for them): what they
            # did is stored, even if the shutdown cancels this again.
            await asyncio.shield(self._stopped(so_far(RunState.STOPPED), left, person, writing))
            raise
        await _stop(beating)

        async def finish() -> BulkRun:
            snapshot = await store(RunState.DONE)
            await self._notify(snapshot, left, person)
            return snapshot

        # Every row is done: the run is stored DONE and the channels that lost numbers told,
        # even when the shutdown cancels this now; only the last report may be cut short.
        done = await asyncio.shield(asyncio.ensure_future(finish()))
        await tell(done)
        seconds = round(time.monotonic() - started, 2)
        event(
            log, "bulk_applied",
            {"run": run.run_id, "rows": len(run.rows), "seconds": seconds,
             **_counts_of(done.results)},
        )  # fmt: skip
        return done

    async def _stopped(
        self, run: BulkRun, left: dict[int, str], by: Person | None,
        writing: asyncio.Task[None] | None,
    ) -> None:  # fmt: skip
        if writing is not None:
            await writing  # an earlier write still under way ends first (_store never raises)
        await self._store(run)
        await self._notify(run, left, by)
        event(
            log, "bulk_stopped",
            {"run": run.run_id, "rows": len(run.rows), **_counts_of(run.results)},
            logging.WARNING,
        )  # fmt: skip

    async def _store(self, run: BulkRun) -> None:
        try:
            await self.storage.put_bulk_results(run)
        except Exception as exc:  # the run goes on; its person sees the results on the card
            event(log, "bulk_store_failed", {"run": run.run_id, "error": type(exc).__name__},
                  logging.ERROR)  # fmt: skip

    async def _apply_row(
        self, run: BulkRun, index: int, row: BulkRow, by: Person | None,
        results: list[RowResult | None], left: dict[int, str],
    ) -> None:  # fmt: skip
        """Apply one row; its result goes to results[index] as soon as it is known (so that a
        run stopped meanwhile keeps it), and the channel a moved number left to left[index]."""
        try:
            done = await self._change(run, row, Deadline(ROW_DEADLINE))
        except asyncio.CancelledError:
            if _sends(run, row):  # it may have been sent: say so, and record the attempt
                done = _Done(
                    RowOutcome.UNKNOWN,
                    "the bot stopped while it was sent: it may or may not have changed; check it",
                    audit=_action(row), before=row.current_channel,
                )  # fmt: skip
                results[index] = RowResult(row, done.outcome, done.detail)
                await asyncio.shield(self._record(run, row, done, by))
            raise
        except ContextSMSError as exc:
            done = _failure(exc, row)
        except Exception as exc:  # never "not changed" for what we cannot tell
            event(log, "bulk_row_crashed", {"run": run.run_id, "error": type(exc).__name__},
                  logging.ERROR)  # fmt: skip
            done = _Done(
                RowOutcome.UNKNOWN, "something went wrong while it was sent: check it",
                audit=_action(row), before=row.current_channel,
            )  # fmt: skip
        results[index] = RowResult(row, done.outcome, done.detail, done.request_id)
        if done.left is not None and done.outcome is RowOutcome.MOVED:
            left[index] = done.left
        if done.audit is not None:  # done: recorded even if the run is stopped meanwhile
            await asyncio.shield(self._record(run, row, done, by))

    async def _change(self, run: BulkRun, row: BulkRow, limit: Deadline) -> _Done:
        match row.kind:
            case RowKind.INVALID | RowKind.DUPLICATE | RowKind.FOREIGN:
                return _Done(RowOutcome.SKIPPED, row.problem or "")
            case RowKind.HERE:
                return _Done(RowOutcome.ALREADY, "already mapped there")
            case RowKind.MOVE if not run.move:
                return _Done(RowOutcome.SKIPPED, "mapped to another channel; not moved")
            case RowKind.NEW | RowKind.MOVE:
                pass
            case _:
                assert_never(row.kind)
        assert row.entry.number is not None  # NEW and MOVE rows hold a number
        unpaid = await self._unpaid(run, limit)
        if unpaid is not None:
            return unpaid
        if row.kind is RowKind.MOVE and row.mapping_id and row.current_channel:
            existing = Mapping(
                id=row.mapping_id, phone_number=row.entry.number, messaging_app_type="Teams",
                messaging_app_id=row.current_channel,
            )  # fmt: skip
            return await self._move(run, existing, row, limit)
        outcome = await self.service.map(
            run.enterprise_id, row.channel_id, row.entry.number, row.entry.name, limit
        )
        match outcome:
            case Mapped(_, already=True):
                return _Done(RowOutcome.ALREADY, "already mapped there")
            case Mapped():
                return _Done(RowOutcome.MAPPED, audit=AuditAction.MAP)
            case TakenInEnterprise(mapping):  # mapped in another channel since the preview
                if not run.move:
                    return _Done(RowOutcome.SKIPPED, "mapped to another channel; not moved")
                return await self._move(run, mapping, row, limit)
            case TakenElsewhere():
                return _Done(
                    RowOutcome.REFUSED, "it is mapped by another organization",
                    audit=AuditAction.MAP,
                )  # fmt: skip
            case _:
                assert_never(outcome)

    async def _move(self, run: BulkRun, existing: Mapping, row: BulkRow, limit: Deadline) -> _Done:
        outcome = await self.service.move(existing, row.channel_id, limit)
        match outcome:
            case Moved(_, _, already=True):
                return _Done(RowOutcome.ALREADY, "already mapped there")
            case Moved(_, from_channel):
                return _Done(
                    RowOutcome.MOVED, audit=AuditAction.REMAP, before=from_channel,
                    left=from_channel,
                )  # fmt: skip
            case NotMapped(number):  # unmapped by someone since it was looked up
                mapped = await self.service.map(
                    run.enterprise_id, row.channel_id, number, row.entry.name, limit
                )
                if isinstance(mapped, Mapped) and not mapped.already:
                    return _Done(RowOutcome.MAPPED, audit=AuditAction.MAP)
                if isinstance(mapped, Mapped):
                    return _Done(RowOutcome.ALREADY, "already mapped there")
                return _Done(RowOutcome.FAILED, "it changed while the run went on: try it again")
            case _:
                assert_never(outcome)

    async def _unpaid(self, run: BulkRun, limit: Deadline) -> _Done | None:
        try:
            answer = await self.payments.check(run.enterprise_id, limit)
        except Exception as exc:  # the gate answers PaymentUnknown itself; be sure anyway
            answer = PaymentUnknown(type(exc).__name__)
        match answer:
            case Paid():
                return None
            case Unpaid(status):
                return _Done(RowOutcome.UNPAID, f"the subscription is not active ({status})")
            case PaymentUnknown(reason):
                event(log, "bulk_payment_unknown", {"run": run.run_id, "reason": reason},
                      logging.WARNING)  # fmt: skip
                return _Done(RowOutcome.FAILED, "the subscription could not be checked")
            case _:
                assert_never(answer)

    async def _record(self, run: BulkRun, row: BulkRow, done: _Done, by: Person | None) -> None:
        person = by or COMMAND_LINE
        assert done.audit is not None  # only attempted changes are recorded
        outcome = {
            RowOutcome.MAPPED: "ok", RowOutcome.MOVED: "ok", RowOutcome.REFUSED: "refused",
            RowOutcome.UNKNOWN: "unknown",
        }.get(done.outcome, "failed")  # fmt: skip
        await self.audit.record(  # never raises
            done.audit, outcome,
            conversation=Conversation(
                tenant_id=run.tenant_id or None, team_id=run.team_id,
                channel_id=run.channel_id or row.channel_id, user=person,
            ),
            by=person, enterprise_id=run.enterprise_id, number=row.entry.number,
            before=done.before, after=row.channel_id, request_id=done.request_id,
        )  # fmt: skip

    async def _notify(self, run: BulkRun, left: dict[int, str], by: Person | None) -> None:
        """One notice to each channel that lost numbers, with all of them (a run of 40 moves
        from one channel is one notice there, not 40); one per destination where a CSV sends
        them to several channels."""
        lost: dict[tuple[str, str], list[str]] = {}
        for index in sorted(left):
            row = run.rows[index]
            if row.entry.number is not None:
                lost.setdefault((left[index], row.channel_id), []).append(row.entry.number)
        if not lost:
            return
        brand = await self.branding.brand_of(run.enterprise_id)  # never raises
        for (from_channel, to_channel), numbers in lost.items():
            self.notices.number_left(
                NumberLeft(
                    tenant_id=run.tenant_id, enterprise_id=run.enterprise_id,
                    numbers=tuple(numbers), from_channel=from_channel, to_channel=to_channel,
                    to_label=None, by=by,
                ),
                brand,
            )  # fmt: skip


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _sends(run: BulkRun, row: BulkRow) -> bool:
    """Whether applying the row sends a change to ContextSMS."""
    return row.kind is RowKind.NEW or (row.kind is RowKind.MOVE and run.move)


def _action(row: BulkRow) -> AuditAction:
    return AuditAction.REMAP if row.kind is RowKind.MOVE else AuditAction.MAP


def _failure(exc: ContextSMSError, row: BulkRow) -> _Done:
    request_id = exc.request_id if isinstance(exc, ApiError) else None
    action, before = _action(row), row.current_channel
    if exc.outcome_unknown:
        return _Done(
            RowOutcome.UNKNOWN,
            "ContextSMS did not confirm it: it may or may not have changed; check it",
            request_id, action, before,
        )  # fmt: skip
    if isinstance(exc, ApiError) and 400 <= exc.status < 500:
        return _Done(RowOutcome.REFUSED, exc.message[:TYPED_LIMIT], request_id, action, before)
    return _Done(
        RowOutcome.FAILED, f"ContextSMS failed ({type(exc).__name__}); not changed",
        request_id, action, before,
    )  # fmt: skip


def _counts(rows: Sequence[BulkRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind.value] = counts.get(row.kind.value, 0) + 1
    return counts


def _counts_of(results: Sequence[RowResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return counts
