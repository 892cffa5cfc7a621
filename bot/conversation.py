"""Where a message or card action comes from, without Bot Framework types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conversation:
    tenant_id: str | None
    conversation_type: str  # "channel", "personal" or "groupChat"
    channel_id: str | None = None  # the Teams channel id; None outside a channel
    channel_name: str | None = None
    team_id: str | None = None
    user_name: str | None = None

    @property
    def in_channel(self) -> bool:
        return self.channel_id is not None
