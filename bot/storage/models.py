"""What the bot keeps between activities, as typed records. No Bot Framework types.

Times are aware UTC datetimes. Ids are the trusted ones from authenticated activities (tenant
id, Teams team id, Entra object ids) or ContextSMS's (enterprise id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


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
