"""One structured log line per activity: what came in, what the bot made of it, how it ended.

The HTTP edge opens a record for each request (`begin`, a context) and the line is written
when the context closes, with the HTTP status the edge set; the behaviour layer, which knows
no Bot Framework types, names what it did with `note` (the command or card verb, and the
outcome). Values are ids hashed short, verbs
and outcomes from our own vocabulary: never message text, numbers, names or tokens.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from bot.logs import event
from contextsms.timing import ApiTime, measure

log = logging.getLogger("bot.activity")


@dataclass
class ActivityRecord:
    kind: str  # the activity type: message, invoke, conversationUpdate, ...
    conversation: str  # short hash of the conversation id
    tenant: str  # short hash of the tenant id
    name: str | None = None  # invoke name, then the command or card verb once known
    outcome: str = "ok"  # ok, refused, unknown, failed, pending, ... (our own words)
    api: ApiTime = field(default_factory=ApiTime)
    activity_id: str | None = None  # as the channel sent it (an id, not content)
    status: int | None = None  # the HTTP status the bot answered with
    replies: int = 0  # activities the bot posted or updated through the connector


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


@contextmanager
def begin(
    kind: str, *, activity_id: str | None, conversation_id: str | None,
    tenant_id: str | None, name: str | None = None,
) -> Iterator[ActivityRecord]:  # fmt: skip
    """The record of one activity, current within; its line is logged on leaving, with the
    bot's own time and the time spent waiting on ContextSMS."""
    started = time.perf_counter()
    with measure() as api:
        record = ActivityRecord(
            kind=kind, conversation=short_hash(conversation_id), tenant=short_hash(tenant_id),
            name=name, api=api, activity_id=activity_id,
        )  # fmt: skip
        token = _CURRENT.set(record)
        try:
            yield record
        finally:
            _CURRENT.reset(token)
            total_ms = (time.perf_counter() - started) * 1000
            event(log, "activity", {
                "type": record.kind, "name": record.name, "activity": record.activity_id,
                "conversation": record.conversation, "tenant": record.tenant,
                "outcome": record.outcome, "status": record.status, "replies": record.replies,
                "bot_ms": round(max(0.0, total_ms - api.total_ms), 1),
                "api_ms": round(api.total_ms, 1), "api_calls": api.calls,
            })  # fmt: skip
