"""Time spent waiting on ContextSMS, added up per unit of work (an activity of the bot).

The caller opens a `measure()` scope; every HTTP call the client makes inside it (in the same
task or in tasks started from it) adds its duration. Outside a scope nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class ApiTime:
    calls: int = 0
    total_ms: float = 0.0


_CURRENT: ContextVar[ApiTime | None] = ContextVar("contextsms_api_time", default=None)


@contextmanager
def measure() -> Iterator[ApiTime]:
    """Add up the ContextSMS calls made within; tasks created inside share the total."""
    spent = ApiTime()
    token = _CURRENT.set(spent)
    try:
        yield spent
    finally:
        _CURRENT.reset(token)


def record(duration_ms: float) -> None:
    """One HTTP call of the client took `duration_ms` (called by the client)."""
    spent = _CURRENT.get()
    if spent is not None:
        spent.calls += 1
        spent.total_ms += duration_ms
