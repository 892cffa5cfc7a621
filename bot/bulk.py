"""Bulk mapping: a list of numbers (typed, pasted, or a reseller's CSV) mapped to channels in
one run. A run is previewed first (what will happen to each number), stored, and applied once:
a second click, or another instance, finds it claimed. Applying runs a few changes at a time
and reports each number's outcome as it goes.

SKELETON (issue 9, part 4 fills it in): the signatures are the contract, see bot/issue9_api.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.audit import Audit
from bot.branding import Branding
from bot.conversation import Person
from bot.mappings import MappingService
from bot.notices import Notices
from bot.payment import PaymentGate
from bot.storage.base import Storage
from contextsms import ContextSMSClient


class RowKind(StrEnum):
    """What the preview says will happen to a number."""

    NEW = "new"  # not mapped anywhere we can see: it will be mapped here
    HERE = "here"  # already mapped to its target channel: nothing to do
    MOVE = "move"  # mapped to another channel of the organization: moved if asked
    FOREIGN = "foreign"  # mapped by another organization: cannot be mapped
    INVALID = "invalid"  # not a number we can use (problem says why)
    DUPLICATE = "duplicate"  # the same number earlier in the list


class RowOutcome(StrEnum):
    MAPPED = "mapped"
    MOVED = "moved"
    ALREADY = "already"  # nothing to do (already there)
    SKIPPED = "skipped"  # invalid, duplicate, foreign, or a move not asked for
    REFUSED = "refused"  # ContextSMS refused it (4xx): not changed
    UNPAID = "unpaid"  # the enterprise's subscription is not active: not changed
    FAILED = "failed"  # not changed, for a reason given in detail
    UNKNOWN = "unknown"  # sent, but its answer was lost: may or may not have changed


@dataclass(frozen=True)
class BulkEntry:
    """One line of a list as read, before anything is looked up."""

    line: int  # 1-based, as the person or the file counts lines
    typed: str  # the line as typed (cut to 200 characters); never logged
    number: str | None  # E.164 when the line holds a usable number
    name: str | None = None
    channel_id: str | None = None  # the CSV's channel; None: the run's channel
    problem: str | None = None  # why the line cannot be used (number is None then)


@dataclass(frozen=True)
class BulkRow:
    entry: BulkEntry
    channel_id: str  # where it is to be mapped
    kind: RowKind
    current_channel: str | None = None  # MOVE and HERE: where it is now
    mapping_id: str | None = None  # MOVE and HERE: its mapping
    problem: str | None = None  # INVALID, FOREIGN, DUPLICATE: why


@dataclass(frozen=True)
class RowResult:
    row: BulkRow
    outcome: RowOutcome
    detail: str = ""  # short and plain, for a card or a CSV
    request_id: str | None = None


class RunState(StrEnum):
    PREVIEWED = "previewed"
    APPLYING = "applying"
    DONE = "done"


@dataclass(frozen=True)
class BulkRun:
    run_id: str  # random, url-safe, at most 32 characters (it is signed on cards)
    tenant_id: str
    team_id: str | None
    channel_id: str | None  # the channel of a chat run; None for a CSV import
    enterprise_id: str
    created_by: Person | None
    created_at: datetime
    state: RunState
    rows: tuple[BulkRow, ...]
    move: bool = False  # whether MOVE rows are moved (chosen when applied)
    results: tuple[RowResult, ...] = field(default=())


Progress = Callable[[BulkRun], Awaitable[None]]


def read_lines(text: str, region: str) -> list[BulkEntry]:
    """One entry per non-empty line: a number, optionally followed by a name."""
    raise NotImplementedError


def read_csv(text: str, region: str) -> list[BulkEntry]:
    """Entries from a CSV with a header row `number,channel id,name` (see bot/issue9_api.md)."""
    raise NotImplementedError


class BulkMapper:
    """See bot/issue9_api.md for the whole contract."""

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
