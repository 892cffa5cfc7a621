"""Where a message or card action comes from, without Bot Framework types."""

from __future__ import annotations

from dataclasses import dataclass

GENERAL = "General"


def general_channel_name(channel_id: str | None, team_id: str | None) -> str | None:
    """Teams names no General channel: a team's General channel is the one whose id is the
    team's id. This is the one place that knows it."""
    return GENERAL if channel_id and channel_id == team_id else None


@dataclass(frozen=True)
class Conversation:
    tenant_id: str | None
    channel_id: str | None = None  # the Teams channel id; None outside a channel
    channel_name: str | None = None
    team_id: str | None = None

    @property
    def in_channel(self) -> bool:
        return self.channel_id is not None

    def known_channel_name(self, channel_id: str) -> str | None:
        """The name of a channel of this team that needs no lookup, if any."""
        if channel_id == self.channel_id and self.channel_name:
            return self.channel_name
        return general_channel_name(channel_id, self.team_id)
