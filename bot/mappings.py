"""The product's actions on mappings, over the ContextSMS client. No Bot Framework types.

Each method takes a `Deadline`: all the API calls of one request share it, retries included
(`BotOptions.deadline`). It is longer than Teams waits: bot/teams.py answers in time with a
"working on it" card and replaces it when the work is done.

A failed change raises the client's `ContextSMSError`, whose `outcome_unknown` says whether it
may have been applied; each outcome that is known is a value of its own below.
"""

from __future__ import annotations

from dataclasses import dataclass

from contextsms import ContextSMSClient, DuplicateMapping, NotFound
from contextsms.models import Mapping, MappingCreate, MappingUpdate
from contextsms.retry import Deadline


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


class MappingService:
    def __init__(self, client: ContextSMSClient) -> None:
        self._client = client

    async def all(self, enterprise_id: str, limit: Deadline) -> list[Mapping]:
        return await self._client.list_mappings(enterprise_id, deadline=limit.remaining())

    async def of_channel(
        self, enterprise_id: str, channel_id: str, limit: Deadline
    ) -> list[Mapping]:
        return [m for m in await self.all(enterprise_id, limit) if m.messaging_app_id == channel_id]

    async def by_number(self, enterprise_id: str, number: str, limit: Deadline) -> Mapping | None:
        return next(
            (m for m in await self.all(enterprise_id, limit) if m.phone_number == number), None
        )

    async def by_id(self, enterprise_id: str, mapping_id: str, limit: Deadline) -> Mapping | None:
        return next((m for m in await self.all(enterprise_id, limit) if m.id == mapping_id), None)

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
