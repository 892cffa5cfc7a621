"""What the bot keeps: links, setup codes, audit trail, conversation references, cached
permission answers, behind one interface (`Storage`) with two backends."""

from bot.storage.base import Storage
from bot.storage.models import (
    AuditAction,
    AuditEntry,
    CachedRole,
    ConversationRef,
    Link,
    SetupCode,
    TeamSettings,
)

__all__ = [
    "AuditAction",
    "AuditEntry",
    "CachedRole",
    "ConversationRef",
    "Link",
    "SetupCode",
    "Storage",
    "TeamSettings",
]
