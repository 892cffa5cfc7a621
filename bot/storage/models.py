"""What the bot keeps between activities, as typed records. No Bot Framework types.

Times are aware UTC datetimes. Ids are the trusted ones from authenticated activities (tenant
id, Teams team id, Entra object ids) or ContextSMS's (enterprise id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.conversation import Person


@dataclass(frozen=True)
class Link:
    """A tenant (team_id None) or one team of it, linked to a ContextSMS enterprise.

    A team's link wins over its tenant's. Who may change a team's mappings is that team's own
    `TeamSettings`, never a property of a link: a tenant link's flag would let one team's
    owner open every team of the tenant.
    """

    tenant_id: str
    team_id: str | None
    enterprise_id: str
    linked_at: datetime
    linked_by: str  # Entra object id of who linked it, or "settings" for the start-up link


@dataclass(frozen=True)
class TeamSettings:
    """One team's own options, kept apart from its link: changing them never rewrites the link
    the team acts on, and they hold whichever link (its own or its tenant's) the team uses."""

    tenant_id: str
    team_id: str
    members_may_change: bool  # every member may change mappings, not only the owners
    changed_at: datetime
    changed_by: str  # Entra object id of who changed them


@dataclass(frozen=True)
class SetupCode:
    """A one-time setup code, stored by its hash only (the code itself is never stored)."""

    code_hash: str
    enterprise_id: str
    created_at: datetime
    expires_at: datetime
    created_by: str  # the operator's Entra object id
    team_scoped: bool = False  # links the team it is used in, not the whole tenant
    for_tenant: str | None = None  # when set, only this tenant may use it
    used_at: datetime | None = None
    used_by_tenant: str | None = None


class AuditAction(StrEnum):
    MAP = "map"
    REMAP = "remap"
    UNMAP = "unmap"
    LINK = "link"
    UNLINK = "unlink"
    ENTERPRISE_CREATED = "enterprise_created"
    CODE_ISSUED = "code_issued"
    CODE_USED = "code_used"
    SETUP_FAILED = "setup_failed"
    SETTINGS_CHANGED = "settings_changed"


@dataclass(frozen=True)
class AuditEntry:
    """One change, or attempt at one. Never a code, a token or a password."""

    at: datetime
    action: AuditAction
    outcome: str  # "ok", "refused", "unknown", "failed", ... (the bot's own words)
    actor_id: str | None = None  # Entra object id; None for the start-up link or the CLI
    actor_name: str | None = None
    tenant_id: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    enterprise_id: str | None = None
    number: str | None = None  # E.164
    before: str | None = None  # e.g. the channel a number was mapped to, or the old link
    after: str | None = None
    request_id: str | None = None  # ContextSMS's requestId, where there was one
    entry_id: str = ""  # set by the storage: unique, and sorts by time (newest last)


@dataclass(frozen=True)
class ConversationRef:
    """Where the bot can post later without being asked (Bot Framework conversation
    reference, kept as the plain dict the glue made of it)."""

    conversation_id: str
    tenant_id: str | None
    team_id: str | None
    channel_id: str | None
    reference: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class CachedRole:
    """A team member's roles from Microsoft Graph, kept for a few minutes."""

    tenant_id: str
    group_id: str
    user_id: str  # Entra object id
    roles: tuple[str, ...]
    expires_at: datetime


# -- bulk runs (bot/bulk.py) -----------------------------------------------------------------
# Kept here so that both storage backends can hold them; bot.bulk exports them too.


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
    # Stopped before the end (the bot shut down while it ran): the rows without a result have
    # no outcome, and may or may not have changed. A killed process cannot say so: a reader
    # tells that from an APPLYING run whose `updated_at` is old (bot.bulk.stopped).
    STOPPED = "stopped"


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
    # When the run was last advanced: claimed, or its results written. None before a claim.
    updated_at: datetime | None = None


# Rows and results are stored as JSON text, one short-keyed object per row: both backends
# keep a run's rows apart from its header (Table storage in pieces, see azure_table.py).


def rows_json(rows: tuple[BulkRow, ...]) -> str:
    return json.dumps([_row_wire(row) for row in rows], ensure_ascii=False, separators=(",", ":"))


def rows_from_json(text: str) -> tuple[BulkRow, ...]:
    return tuple(_row_from_wire(item) for item in json.loads(text))


def results_json(results: tuple[RowResult, ...], rows: tuple[BulkRow, ...]) -> str:
    """Each result names its row by its place in `rows` (the row itself is stored once)."""
    place = {row: index for index, row in enumerate(rows)}
    return json.dumps(
        [
            _strip({"r": place[r.row], "o": r.outcome.value, "d": r.detail, "q": r.request_id})
            for r in results
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def results_from_json(text: str, rows: tuple[BulkRow, ...]) -> tuple[RowResult, ...]:
    return tuple(
        RowResult(rows[item["r"]], RowOutcome(item["o"]), item.get("d", ""), item.get("q"))
        for item in json.loads(text)
    )


def person_wire(person: Person | None) -> str | None:
    return None if person is None else json.dumps([person.object_id, person.name])


def person_from_wire(text: str | None) -> Person | None:
    if text is None:
        return None
    object_id, name = json.loads(text)
    return Person(object_id, name)


def _strip(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _row_wire(row: BulkRow) -> dict[str, Any]:
    entry = row.entry
    return _strip(
        {
            "l": entry.line, "t": entry.typed, "n": entry.number, "m": entry.name,
            "ec": entry.channel_id, "ep": entry.problem, "c": row.channel_id,
            "k": row.kind.value, "cc": row.current_channel, "id": row.mapping_id,
            "p": row.problem,
        }
    )  # fmt: skip


def _row_from_wire(item: dict[str, Any]) -> BulkRow:
    entry = BulkEntry(
        line=item["l"], typed=item.get("t", ""), number=item.get("n"), name=item.get("m"),
        channel_id=item.get("ec"), problem=item.get("ep"),
    )  # fmt: skip
    return BulkRow(
        entry, item["c"], RowKind(item["k"]), item.get("cc"), item.get("id"), item.get("p")
    )
