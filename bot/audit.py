"""The audit trail: every change the bot or an operator makes, and every attempt refused on
the way (failed setups), kept in the storage for `history` and the command line's export.

Recording never fails the change it records: the change has happened (or been refused) by
then, and a person must hear about it whatever the storage does. A failed write is logged, once
per outage, without the entry's contents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from bot.conversation import Conversation, Person
from bot.logs import event
from bot.storage.base import Storage
from bot.storage.models import AuditAction, AuditEntry

log = logging.getLogger("bot.audit")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def tenant_key(tenant_id: str) -> str:
    """Tenant ids are GUIDs, which Entra compares without case: links, codes and the audit
    trail keep them lower-case."""
    return tenant_id.strip().lower()


# Operators' actions from `python -m bot.admin`: no Entra identity is behind them, so the entry
# carries no object id, only this name.
COMMAND_LINE = Person(object_id="cli", name="command line")

# The order of an entry's fields in exports (CSV columns, JSON keys).
EXPORT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AuditEntry))


def exported(entry: AuditEntry) -> dict[str, Any]:
    """The entry as plain values for CSV or JSON: times in ISO 8601 UTC, the action's name."""
    values: dict[str, Any] = {}
    for name in EXPORT_FIELDS:
        value = getattr(entry, name)
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        elif isinstance(value, AuditAction):
            value = value.value
        values[name] = value
    return values


class Audit:
    def __init__(self, storage: Storage, *, clock: Clock = utc_now) -> None:
        self.storage = storage
        self.clock = clock
        self._failing = False

    async def record(
        self,
        action: AuditAction,
        outcome: str,
        *,
        conversation: Conversation | None = None,
        by: Person | None = None,
        enterprise_id: str | None = None,
        number: str | None = None,
        before: str | None = None,
        after: str | None = None,
        request_id: str | None = None,
        tenant_id: str | None = None,
        team_id: str | None = None,
        actor_name: str | None = None,
    ) -> AuditEntry | None:
        """Append one entry; the tenant, team, channel and person default to the
        conversation's. `actor_name` names an actor without an Entra identity ("settings")
        when `by` is None. Never raises: a storage failure is logged and returns None."""
        person = by or (conversation.user if conversation else None)
        if person is not None:
            actor_id = None if person == COMMAND_LINE else person.object_id
            actor_name = person.name
        else:
            actor_id = None
        tenant = tenant_id or (conversation.tenant_id if conversation else None)
        entry = AuditEntry(
            at=self.clock(),
            action=action,
            outcome=outcome,
            actor_id=actor_id,
            actor_name=actor_name,
            tenant_id=tenant_key(tenant) if tenant else None,
            team_id=team_id or (conversation.team_id if conversation else None),
            channel_id=conversation.channel_id if conversation else None,
            enterprise_id=enterprise_id,
            number=number,
            before=before,
            after=after,
            request_id=request_id,
        )
        try:
            stored = await self.storage.append_audit(entry)
        except Exception as exc:  # the storage's own errors are many and backend-specific
            if not self._failing:
                self._failing = True
                event(
                    log,
                    "audit_write_failed",
                    {"action": action.value, "error": type(exc).__name__},
                    logging.ERROR,
                )
            return None
        if self._failing:
            self._failing = False
            event(log, "audit_write_recovered", {"action": action.value})
        return stored

    async def history(
        self,
        *,
        tenant_id: str | None = None,
        team_id: str | None = None,
        since: datetime | None = None,
        before_id: str | None = None,
        limit: int = 10,
    ) -> list[AuditEntry]:
        """The latest entries matching every given filter, newest first; `before_id` pages
        back from an entry of the previous page."""
        return await self.storage.audit(
            tenant_id=tenant_key(tenant_id) if tenant_id else None,
            team_id=team_id,
            since=since,
            before_id=before_id,
            limit=limit,
        )
