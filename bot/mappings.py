"""The product's actions on mappings, over the ContextSMS client. No Bot Framework types.

Each method takes a `Deadline`: all the API calls of one request share it, retries included
(`BotOptions.deadline`). It is longer than Teams waits: bot/teams.py answers in time with a
"working on it" card and replaces it when the work is done.

A failed change raises the client's `ContextSMSError`, whose `outcome_unknown` says whether it
may have been applied; each outcome that is known is a value of its own below.

ContextSMS answers an enterprise's mappings only as one list (10,000 numbers: 3 MB, about
0.2 s to read and parse), so what is shown (`status`, `list`, `find`, a list's preview) is
read from a copy kept LIST_TTL seconds, one read shared by every request that wants it at
once: a burst of clicks reads it once. What a change is decided on (`by_id`, `by_number`, the
look-up after a duplicate) is read again, joining a read under way. Every change made through
the client, whatever its outcome, drops the copy (`ContextSMSClient.on_mappings_changed`), so
it shows at once here; a change made elsewhere (another bot instance, the portal) shows
within LIST_TTL.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.expiring import Expiring
from contextsms import ContextSMSClient, DuplicateMapping, NotFound
from contextsms.models import Mapping, MappingCreate, MappingUpdate
from contextsms.retry import Deadline

# Seconds an enterprise's list is shown without reading it again: a change made by another
# bot instance or the portal shows within this. Short, since nothing tells us of those.
LIST_TTL = 2.0

T = TypeVar("T")
Reader = Callable[[], Awaitable[list[Mapping]]]


@dataclass(frozen=True)
class Mapped:
    mapping: Mapping
    already: bool = False  # it was mapped here before this request


@dataclass(frozen=True)
class TakenInEnterprise:
    """Mapped to another channel of the same enterprise: it can be moved here."""

    mapping: Mapping


@dataclass(frozen=True)
class TakenElsewhere:
    """Mapped by another enterprise: nothing this channel can do."""

    number: str


@dataclass(frozen=True)
class Moved:
    mapping: Mapping
    from_channel: str | None
    already: bool = False


@dataclass(frozen=True)
class NotMapped:
    number: str


@dataclass(frozen=True)
class Unmapped:
    number: str | None
    already: bool = False


@dataclass(frozen=True)
class InAnotherChannel:
    """The mapping a card acts on has moved to another channel since the card was sent."""

    mapping: Mapping


class Listings:
    """The enterprises' lists of mappings as last read through one client.

    Kept under a key that names the enterprise and how many changes were made to it since
    (its generation): a change moves the enterprise to a new key, so a read under way when it
    was made fills only the old key, which nobody asks for again, and no caller after the
    change joins it."""

    def __init__(self, ttl: float = LIST_TTL) -> None:
        self._ttl = ttl
        self._kept: Expiring[list[Mapping]] = Expiring(ttl)
        self._generations: dict[str, int] = {}
        self._filled_by: dict[str, int] = {}  # key: the read whose list it holds
        self._reads = itertools.count()

    async def shown(self, enterprise_id: str, read: Reader) -> list[Mapping]:
        """The list as read at most the ttl ago, or by `read`."""
        return await self._kept.get(self._key(enterprise_id), self._reading(enterprise_id, read))

    async def current(self, enterprise_id: str, read: Reader) -> list[Mapping]:
        """The list as ContextSMS holds it now (a read under way is now enough)."""
        key = self._key(enterprise_id)
        self._kept.forget(key)
        return await self._kept.get(key, self._reading(enterprise_id, read))

    def changed(self, enterprise_id: str | None) -> None:
        """A change was made to `enterprise_id`'s mappings (or to some enterprise's, when it
        is not known which)."""
        for eid in [enterprise_id] if enterprise_id is not None else list(self._generations):
            self._kept.forget(self._key(eid))
            self._generations[eid] = self._generations.get(eid, 0) + 1

    def _key(self, enterprise_id: str) -> str:
        # Every enterprise read is known, so that a change to an unknown one reaches it.
        return f"{enterprise_id}#{self._generations.setdefault(enterprise_id, 0)}"

    def _reading(self, enterprise_id: str, read: Reader) -> Reader:
        key = self._key(enterprise_id)

        async def reading() -> list[Mapping]:
            listed = await read()
            # Expiring keeps the list under `key` as this returns, and would hold it (megabytes
            # for a large enterprise) until it is full: dropped once expired, or at once when
            # a change was made while it was read (nobody asks for the old key again).
            self._filled_by[key] = read_number = next(self._reads)
            stale = self._key(enterprise_id) != key
            asyncio.get_running_loop().call_later(
                0 if stale else self._ttl, self._expire, key, read_number
            )
            return listed

        return reading

    def _expire(self, key: str, read_number: int) -> None:
        if self._filled_by.get(key) == read_number:  # not filled again since
            del self._filled_by[key]
            self._kept.forget(key)


# One copy per client (a bot process has one), whichever services use it: the app's handlers
# and bulk runs share a service, but a service made apart over the same client sees the same.
# (Weak: a client closed and dropped takes its copy with it; the copy holds no reference to it.)
_listings: weakref.WeakKeyDictionary[ContextSMSClient, Listings] = weakref.WeakKeyDictionary()


def listings_of(client: ContextSMSClient) -> Listings:
    kept = _listings.get(client)
    if kept is None:
        kept = _listings[client] = Listings()
        # Every change made through the client, whoever makes it, drops the copy.
        client.on_mappings_changed(kept.changed)
    return kept


class MappingService:
    def __init__(self, client: ContextSMSClient) -> None:
        self._client = client
        self._listings = listings_of(client)

    async def all(self, enterprise_id: str, limit: Deadline) -> list[Mapping]:
        """The enterprise's mappings to show: read at most LIST_TTL ago, or since the last
        change made here."""
        return await self._listings.shown(enterprise_id, self._reader(enterprise_id, limit))

    async def of_channel(
        self, enterprise_id: str, channel_id: str, limit: Deadline
    ) -> list[Mapping]:
        return [m for m in await self.all(enterprise_id, limit) if m.messaging_app_id == channel_id]

    async def by_number(self, enterprise_id: str, number: str, limit: Deadline) -> Mapping | None:
        """The mapping of `number` as ContextSMS holds it now: a change is decided on it."""
        listed = await self._listings.current(enterprise_id, self._reader(enterprise_id, limit))
        return next((m for m in listed if m.phone_number == number), None)

    async def by_id(self, enterprise_id: str, mapping_id: str, limit: Deadline) -> Mapping | None:
        """The mapping `mapping_id` as ContextSMS holds it now: a change is decided on it."""
        listed = await self._listings.current(enterprise_id, self._reader(enterprise_id, limit))
        return next((m for m in listed if m.id == mapping_id), None)

    def _reader(self, enterprise_id: str, limit: Deadline) -> Reader:
        return lambda: self._client.list_mappings(enterprise_id, deadline=limit.remaining())

    async def map(
        self, enterprise_id: str, channel_id: str, number: str, name: str | None, limit: Deadline
    ) -> Mapped | TakenInEnterprise | TakenElsewhere:
        try:
            mapping = await self._client.add_mapping(
                enterprise_id,
                MappingCreate(phone_number=number, messaging_app_id=channel_id, name=name),
                deadline=limit.remaining(),
            )
        except DuplicateMapping:
            existing = await self.by_number(enterprise_id, number, limit)
            if existing is None:
                return TakenElsewhere(number)
            if existing.messaging_app_id == channel_id:
                return Mapped(existing, already=True)
            return TakenInEnterprise(existing)
        return Mapped(mapping)

    async def move_here(
        self, enterprise_id: str, channel_id: str, existing: Mapping | None, number: str,
        limit: Deadline,
    ) -> Moved | NotMapped:  # fmt: skip
        if existing is None:
            return NotMapped(number)
        return await self.move(existing, channel_id, limit)

    async def move(self, existing: Mapping, channel_id: str, limit: Deadline) -> Moved | NotMapped:
        """Route `existing` to `channel_id` instead of its channel."""
        if existing.messaging_app_id == channel_id:
            return Moved(existing, from_channel=None, already=True)
        try:
            moved = await self._client.update_mapping(
                existing.id, MappingUpdate(messaging_app_id=channel_id), deadline=limit.remaining()
            )
        except NotFound as exc:
            if exc.outcome_unknown:  # an earlier attempt may have moved it before it went
                raise
            return NotMapped(existing.phone_number)  # unmapped by someone since looked up
        return Moved(moved, from_channel=existing.messaging_app_id)

    async def unmap(
        self, channel_id: str, existing: Mapping | None, limit: Deadline
    ) -> Unmapped | InAnotherChannel:
        """Unmap `existing` (as just looked up by id) if it is still this channel's."""
        if existing is None:
            return Unmapped(None, already=True)
        if existing.messaging_app_id != channel_id:
            return InAnotherChannel(existing)
        try:
            await self._client.delete_mapping(existing.id, deadline=limit.remaining())
        except NotFound:
            # Unmapped by someone since it was looked up. (A 404 after an attempt of ours
            # that may have acted is the client's success, not this.)
            return Unmapped(existing.phone_number, already=True)
        return Unmapped(existing.phone_number)
