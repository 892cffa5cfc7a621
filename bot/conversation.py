"""Where a message or card action comes from, without Bot Framework types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

GENERAL = "General"


def general_channel_name(channel_id: str | None, team_id: str | None) -> str | None:
    """Teams names no General channel: a team's General channel is the one whose id is the
    team's id. This is the one place that knows it."""
    return GENERAL if channel_id and channel_id == team_id else None


@dataclass(frozen=True)
class Person:
    """Who sent the activity: the trusted Entra object id of an authenticated activity."""

    object_id: str
    name: str | None = None


class TeamDirectory(Protocol):
    """What Teams can tell about the conversation's team, looked up only when needed (the
    glue implements it with TeamsInfo; tests with the connector stand-in)."""

    async def channel_names(self) -> dict[str, str]:
        """The team's channels, id to name; {} outside a team."""

    async def group_id(self) -> str | None:
        """The team's Microsoft 365 group id (`aadGroupId`), which Graph knows the team by;
        None outside a team."""


@dataclass(frozen=True)
class Conversation:
    tenant_id: str | None
    channel_id: str | None = None  # the Teams channel id; None outside a channel
    channel_name: str | None = None
    team_id: str | None = None
    user: Person | None = None
    conversation_id: str | None = None
    personal: bool = False  # a one-to-one chat with the bot (Teams' conversationType personal)

    @property
    def in_channel(self) -> bool:
        return self.channel_id is not None

    def known_channel_name(self, channel_id: str) -> str | None:
        """The name of a channel of this team that needs no lookup, if any."""
        if channel_id == self.channel_id and self.channel_name:
            return self.channel_name
        return general_channel_name(channel_id, self.team_id)


class CardUpdater(Protocol):
    """Puts a new card in place of the one a card action came from, later in the same work
    (a bulk run's progress). The glue implements it with the connector's update."""

    async def update(self, card: dict[str, Any]) -> None:
        """Replace the card; raises when Teams refuses or cannot be reached."""
