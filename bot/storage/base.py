"""The one storage interface of the bot; `bot/storage/sqlite.py` (the default, one file) and
`bot/storage/azure_table.py` (several instances behind a load balancer) implement it.

Every method is atomic on its own; the ones whose docstring says so are safe against another
instance doing the same at the same time (a transaction in SQLite, an ETag-conditional write in
Table storage).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.storage.models import (
    AuditEntry,
    BulkRun,
    CachedRole,
    ConversationRef,
    Link,
    SetupCode,
    TeamSettings,
)


class Storage(Protocol):
    # -- links ------------------------------------------------------------------------------
    async def link_for(self, tenant_id: str, team_id: str | None) -> Link | None:
        """The team's link if it has one (and team_id is given), else the tenant's, else None."""

    async def put_link(self, link: Link) -> Link | None:
        """Create or replace the link of (tenant_id, team_id); returns the one it replaced."""

    async def remove_link(self, tenant_id: str, team_id: str | None) -> Link | None:
        """Remove the link of exactly (tenant_id, team_id); returns it, None if there was none."""

    async def links(self) -> list[Link]:
        """Every link, tenant links first, then by tenant and team."""

    # -- a team's own options ------------------------------------------------------------------
    async def team_settings(self, tenant_id: str, team_id: str) -> TeamSettings | None:
        """The team's options, None when nobody set any (owners only change mappings)."""

    async def put_team_settings(self, settings: TeamSettings) -> TeamSettings | None:
        """Create or replace the options of (tenant_id, team_id); returns the ones replaced.
        Never touches a link."""

    # -- setup codes ------------------------------------------------------------------------
    async def add_code(self, code: SetupCode) -> None: ...

    async def code(self, code_hash: str) -> SetupCode | None:
        """The code with this hash, used or not, expired or not."""

    async def claim_code(self, code_hash: str, tenant_id: str, now: datetime) -> SetupCode | None:
        """Mark the code used by `tenant_id` at `now` if it exists, is unused, has not expired
        and is not meant for another tenant (`for_tenant`), and return it as updated; otherwise
        None and nothing changes. Safe against a concurrent claim: of two at once, exactly one
        gets the code."""

    async def record_failed_setup(self, tenant_id: str, at: datetime) -> str:
        """Record a setup attempt as failed, before its code is checked (so that attempts made
        at once, on any instance, count each other); returns its id for
        `forget_failed_setup`. Visible to every `failed_setups` that starts after it returns."""

    async def forget_failed_setup(self, tenant_id: str, attempt_id: str) -> None:
        """Remove an attempt `record_failed_setup` recorded (it turned out not to be a failure);
        nothing happens when it is not there."""

    async def failed_setups(self, tenant_id: str, since: datetime) -> int:
        """How many failed setup attempts this tenant made at or after `since`."""

    # -- audit trail ------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Store the entry with a new unique `entry_id` that sorts by time; returns it. Safe
        against concurrent appends from other instances: none is lost."""

    async def audit(
        self,
        *,
        tenant_id: str | None = None,
        team_id: str | None = None,
        since: datetime | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first; `before_id` pages backwards
        (entries older than that entry)."""

    # -- conversation references --------------------------------------------------------------
    async def put_reference(self, ref: ConversationRef) -> None: ...

    async def reference(self, conversation_id: str) -> ConversationRef | None: ...

    async def remove_reference(self, conversation_id: str) -> None: ...

    # -- cached permission answers ------------------------------------------------------------
    async def cached_role(
        self, tenant_id: str, group_id: str, user_id: str, now: datetime
    ) -> CachedRole | None:
        """The cached answer if it has not expired at `now`."""

    async def cache_role(self, role: CachedRole) -> None: ...

    # -- bulk runs ------------------------------------------------------------------------------
    async def put_bulk_run(self, run: BulkRun) -> None:
        """Store a new run (its id is new: random), rows and results included."""

    async def bulk_run(self, run_id: str) -> BulkRun | None:
        """The run with this id as last stored, whatever its tenant; None if unknown."""

    async def claim_bulk_run(
        self, run_id: str, tenant_id: str, move: bool, now: datetime
    ) -> BulkRun | None:
        """Turn the run from PREVIEWED to APPLYING with `move` set and `updated_at` = `now`, if
        it is `tenant_id`'s and still PREVIEWED, and return it as updated; otherwise None and
        nothing changes. Safe against a concurrent claim: of two at once, on any instances,
        exactly one gets it."""

    async def put_bulk_results(self, run: BulkRun) -> None:
        """Store the run's results, state and `updated_at` (its rows are as stored already)."""

    async def aclose(self) -> None: ...
