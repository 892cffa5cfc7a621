"""The Teams glue: activities in, cards out. The only module of the bot's behaviour that knows
Bot Framework types; everything it calls takes a `Conversation` and returns card dicts."""

from __future__ import annotations

import logging
import time
from typing import Any

from botbuilder.core import InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import Activity, Attachment, ChannelAccount
from botbuilder.schema.teams import TeamInfo

from bot.conversation import Conversation
from bot.handlers import ChannelNames, MappingBot
from cards.elements import Card

log = logging.getLogger("bot.teams")

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CHANNEL_NAMES_TTL = 60.0


def conversation_of(activity: Activity) -> Conversation:
    data: dict[str, Any] = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conv = activity.conversation
    conv_type = (getattr(conv, "conversation_type", None) or "personal") if conv else "personal"
    channel, team, tenant = (_dict(data.get(key)) for key in ("channel", "team", "tenant"))
    channel_id = data.get("teamsChannelId") or channel.get("id")
    if conv_type != "channel" and not channel_id:
        channel_id = None
    tenant_id = tenant.get("id") or (getattr(conv, "tenant_id", None) if conv else None)
    return Conversation(
        tenant_id=tenant_id,
        conversation_type="channel" if channel_id else conv_type,
        channel_id=channel_id,
        channel_name=channel.get("name")
        or ("General" if channel_id and channel_id == team.get("id") else None),
        team_id=team.get("teamsTeamId") or team.get("id"),
        user_name=activity.from_property.name if activity.from_property else None,
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def card_activity(card: Card) -> Activity:
    return MessageFactory.attachment(Attachment(content_type=CARD_CONTENT_TYPE, content=card))


def card_invoke_response(card: Card) -> InvokeResponse:
    return InvokeResponse(
        status=200, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}
    )


class TeamsBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, bot: MappingBot) -> None:
        self.bot = bot
        self._names: dict[str, tuple[float, dict[str, str]]] = {}

    def channel_names(self, turn_context: TurnContext, conversation: Conversation) -> ChannelNames:
        async def names() -> dict[str, str]:
            team_id = conversation.team_id
            if not team_id:
                return {}
            cached = self._names.get(team_id)
            if cached and time.monotonic() - cached[0] < CHANNEL_NAMES_TTL:
                return cached[1]
            channels = await TeamsInfo.get_team_channels(turn_context, team_id)
            found = {c.id: c.name or "General" for c in channels if c.id}
            self._names[team_id] = (time.monotonic(), found)
            return found

        return names

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conversation = conversation_of(activity)
        card = await self.bot.on_message(
            conversation, activity.text or "", self.channel_names(turn_context, conversation)
        )
        await turn_context.send_activity(card_activity(card))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        conversation = conversation_of(activity)
        action = _dict(_dict(activity.value).get("action"))
        verb = str(action.get("verb") or "")
        try:
            card = await self.bot.on_action(
                conversation,
                verb,
                action.get("data"),
                self.channel_names(turn_context, conversation),
            )
        except Exception:
            log.exception("card action %r failed", verb)
            card = self.bot.screens(conversation, "").problem(
                "Something went wrong", "Nothing was changed. Try again in a minute."
            )
        return card_invoke_response(card)

    async def on_teams_members_added(
        self,
        teams_members_added: list[ChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if not any(member.id == bot_id for member in teams_members_added):
            return
        conversation = conversation_of(turn_context.activity)
        # Installed in a team: the welcome goes to General, where this event arrives. In a
        # personal or group chat there is no channel to map: show what the bot can do.
        card = (
            self.bot.welcome(conversation)
            if conversation.team_id or conversation.in_channel
            else self.bot.screens(conversation, "").help(in_channel=False)
        )
        await turn_context.send_activity(card_activity(card))
