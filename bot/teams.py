"""The Teams glue: activities in, cards out. The only module of the bot's behaviour that knows
Bot Framework types; everything it calls takes a `Conversation` and returns card dicts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from botbuilder.core import BotAdapter, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import Activity, Attachment, ChannelAccount
from botbuilder.schema.teams import TeamInfo

from bot import activity_log
from bot.actions import TamperedAction, parse_invoke
from bot.conversation import Conversation, general_channel_name
from bot.credentials import OutboundTokenError
from bot.handlers import ChannelNames, MappingBot
from cards.elements import Card

log = logging.getLogger("bot.teams")

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_ACTION = "adaptiveCard/action"  # the invoke of an Action.Execute click
CHANNEL_NAMES_TTL = 60.0
VERB_LOGGED = 64  # characters of a refused card verb that the log shows


def conversation_of(activity: Activity) -> Conversation:
    data: dict[str, Any] = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conv = activity.conversation
    channel, team, tenant = (_dict(data.get(key)) for key in ("channel", "team", "tenant"))
    # Only a channel's activities carry a channel; chats (personal, group) have none.
    channel_id = data.get("teamsChannelId") or channel.get("id") or None
    tenant_id = tenant.get("id") or (getattr(conv, "tenant_id", None) if conv else None)
    team_id = team.get("teamsTeamId") or team.get("id")
    return Conversation(
        tenant_id=tenant_id,
        channel_id=channel_id,
        channel_name=channel.get("name") or general_channel_name(channel_id, team_id),
        team_id=team_id,
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def card_activity(card: Card) -> Activity:
    return MessageFactory.attachment(Attachment(content_type=CARD_CONTENT_TYPE, content=card))


async def on_turn_error(context: TurnContext, error: Exception) -> None:
    """The adapter's last resort for a turn that raised. The turn may have changed something
    before it failed, so the person is told to look rather than told nothing changed."""
    activity_log.note(outcome="failed")
    if isinstance(error, OutboundTokenError):
        raise error  # nothing can be posted: the HTTP edge answers for it
    log.error("unhandled error in a turn", exc_info=error)
    try:
        await context.send_activity(
            "Sorry, something went wrong, and I can't tell whether your request was carried "
            "out. Type `status` in the channel to see its numbers now."
        )
    except Exception as exc:
        log.error("could not tell the person about it either (%s)", type(exc).__name__)


def card_invoke_response(card: Card) -> InvokeResponse:
    return InvokeResponse(
        status=200, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}
    )


class TeamsBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        bot: MappingBot,
        *,
        action_budget: float,
        message_budget: float,
    ) -> None:
        """`action_budget` and `message_budget`: how long a card action or a message may take
        before the bot answers "working on it" and finishes the card later (settings
        BOT_ACTION_BUDGET_SECONDS and BOT_MESSAGE_BUDGET_SECONDS)."""
        self.bot = bot
        self.action_budget = action_budget
        self.message_budget = message_budget
        self._names: dict[str, tuple[float, dict[str, str]]] = {}
        self._later: set[asyncio.Task[None]] = set()

    async def aclose(self, grace: float = 5.0) -> None:
        """Let cards that are being finished get their update, for a little while."""
        if self._later:
            await asyncio.wait(self._later, timeout=grace)
        for task in self._later:
            task.cancel()

    async def _within(self, work: asyncio.Future[Card], budget: float) -> Card | None:
        done, _ = await asyncio.wait({work}, timeout=budget)
        return work.result() if done else None

    def _finish_later(
        self, turn_context: TurnContext, conversation: Conversation,
        work: Awaitable[Card], activity_id: str | None,
    ) -> None:  # fmt: skip
        """When `work` is done, put its card in place of the "working on it" one."""
        claims = turn_context.turn_state.get(BotAdapter.BOT_IDENTITY_KEY)
        audience = turn_context.turn_state.get(BotAdapter.BOT_OAUTH_SCOPE_KEY)
        reference = TurnContext.get_conversation_reference(turn_context.activity)
        adapter = turn_context.adapter

        async def finish() -> None:
            try:
                card = await work
            except Exception:
                log.exception("a late card could not be finished")
                card = self.bot.failed(conversation)
            if not activity_id:
                return
            update = card_activity(card)
            update.id = activity_id

            async def replace(context: TurnContext) -> None:
                await context.update_activity(update)

            try:
                await adapter.continue_conversation_with_claims(
                    claims, reference, audience, replace
                )
            except Exception:
                log.exception("could not update card %s", activity_id)

        task = asyncio.create_task(finish())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def channel_names(self, turn_context: TurnContext, conversation: Conversation) -> ChannelNames:
        async def names() -> dict[str, str]:
            team_id = conversation.team_id
            if not team_id:
                return {}
            cached = self._names.get(team_id)
            if cached and time.monotonic() - cached[0] < CHANNEL_NAMES_TTL:
                return cached[1]
            channels = await TeamsInfo.get_team_channels(turn_context, team_id)
            found = {
                c.id: c.name or general_channel_name(c.id, team_id) or c.id
                for c in channels
                if c.id
            }
            self._names[team_id] = (time.monotonic(), found)
            return found

        return names

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conversation = conversation_of(activity)
        work = asyncio.ensure_future(
            self.bot.on_message(
                conversation, activity.text or "", self.channel_names(turn_context, conversation)
            )
        )
        card = await self._within(work, self.message_budget)
        if card is not None:
            await turn_context.send_activity(card_activity(card))
            return
        activity_log.note(outcome="pending")
        sent = await turn_context.send_activity(card_activity(self.bot.pending(conversation)))
        self._finish_later(turn_context, conversation, work, sent.id if sent else None)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != CARD_ACTION:
            return await super().on_invoke_activity(turn_context)
        conversation = conversation_of(activity)
        try:
            action = parse_invoke(activity.value)
        except TamperedAction as exc:
            # What was sent, cut short: the log escapes it, and the verb was not one of ours.
            verb = _dict(_dict(activity.value).get("action")).get("verb")
            activity_log.note(verb=str(verb)[:VERB_LOGGED] if verb is not None else None)
            return card_invoke_response(self.bot.tampered(conversation, exc))
        work = asyncio.ensure_future(
            self.bot.on_action(conversation, action, self.channel_names(turn_context, conversation))
        )
        try:
            card = await self._within(work, self.action_budget)
        except Exception:
            log.exception("card action %s failed", action.verb.value)
            card = self.bot.failed(conversation)
        if card is None:
            # The card that was clicked is the activity the invoke replies to.
            self._finish_later(turn_context, conversation, work, activity.reply_to_id)
            activity_log.note(outcome="pending")
            card = self.bot.pending(conversation)
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
