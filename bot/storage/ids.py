"""Audit entry ids and the time encodings both backends share.

An entry id is ULID-like: 10 Crockford base32 characters of the entry's millisecond timestamp,
then 16 of randomness (80 bits). Ids sort by time as plain strings, and two instances writing
in the same millisecond do not collide (and if they ever did, the insert fails and is retried
with a new id, so nothing is overwritten).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INVERTED = str.maketrans(_ALPHABET, _ALPHABET[::-1])
_TIME_CHARS = 10
_RANDOM_CHARS = 16
_RANDOM_BITS = 5 * _RANDOM_CHARS
ID_LENGTH = _TIME_CHARS + _RANDOM_CHARS


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def require_aware(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime would be read as local time, silently shifting
    every expiry and audit time, so it is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("storage times must be aware datetimes (UTC)")
    return moment.astimezone(UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding)."""
    delta = require_aware(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    seconds, rest = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest)


def time_text(moment: datetime) -> str:
    """A fixed-width UTC text that sorts as the time does (for stores that compare strings)."""
    return require_aware(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_time_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def check_entry_id(entry_id: str) -> str:
    """The id as given if it is one of ours; a page cursor from elsewhere is refused rather
    than compared as an arbitrary string."""
    if len(entry_id) != ID_LENGTH or entry_id.strip(_ALPHABET):
        raise ValueError("not an audit entry id")
    return entry_id


def inverted(entry_id: str) -> str:
    """The id with every character mirrored in the alphabet: sorts newest first."""
    return check_entry_id(entry_id).translate(_INVERTED)


def first_id_at(moment: datetime) -> str:
    """The smallest id an entry at `moment`'s millisecond can have."""
    return _base32(to_micros(moment) // 1000, _TIME_CHARS) + "0" * _RANDOM_CHARS


class EntryIds:
    """Makes entry ids for one storage instance. Within it, ids of the same millisecond
    increase (the random part is incremented), so one instance's entries keep their order."""

    def __init__(self) -> None:
        self._last_ms = -1
        self._last_random = 0

    def new(self, at: datetime) -> str:
        ms = to_micros(at) // 1000
        if ms == self._last_ms and self._last_random + 1 < 1 << _RANDOM_BITS:
            random_part = self._last_random + 1
        else:
            # Leave headroom below the top so increments in this millisecond never overflow.
            random_part = secrets.randbits(_RANDOM_BITS - 1)
        self._last_ms, self._last_random = ms, random_part
        return _base32(ms, _TIME_CHARS) + _base32(random_part, _RANDOM_CHARS)
