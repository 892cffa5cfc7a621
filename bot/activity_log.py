"""One structured log line per activity: what came in, what the bot made of it, how it ended.

The HTTP edge opens a record for each request (`begin`) and writes it when the answer is
known (`emit`); the behaviour layer, which knows no Bot Framework types, names what it did
with `note` (the command or card verb, and the outcome). Values are ids hashed short, verbs
and outcomes from our own vocabulary: never message text, numbers, names or tokens.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass, field

from contextsms.timing import ApiTime


@dataclass
class ActivityRecord:
    kind: str  # the activity type: message, invoke, conversationUpdate, ...
    conversation: str  # short hash of the conversation id
    tenant: str  # short hash of the tenant id
    name: str | None = None  # invoke name, then the command or card verb once known
    outcome: str = "ok"  # ok, refused, unknown, failed, pending, ... (our own words)
    api: ApiTime = field(default_factory=ApiTime)


_CURRENT: ContextVar[ActivityRecord | None] = ContextVar("bot_activity", default=None)


def short_hash(value: str | None) -> str:
    """Enough to tell conversations apart in a log, not to recover their ids."""
    if not value:
        return "-"
    return hashlib.sha256(value.encode()).hexdigest()[:10]


def current() -> ActivityRecord | None:
    return _CURRENT.get()


def use(record: ActivityRecord) -> None:
    """Make `record` the current activity's (tasks started afterwards share it)."""
    _CURRENT.set(record)


def note(*, verb: str | None = None, outcome: str | None = None) -> None:
    """What the behaviour layer did with the current activity; a no-op outside one."""
    record = _CURRENT.get()
    if record is None:
        return
    if verb is not None:
        record.name = verb
    if outcome is not None:
        record.outcome = outcome
