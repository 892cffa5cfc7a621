"""The Teams glue: activities in, cards out. The only module of the bot's behaviour that knows
Bot Framework types; everything it calls takes a `Conversation` and a `TeamDirectory` and
returns card dicts.

Besides messages and card actions, it keeps the storage's conversation references: where the
bot can post later (a notice to a channel that lost a number). One is recorded when the bot is
installed (a conversationUpdate adding the bot, an installationUpdate "add"), refreshed by every
other conversationUpdate, recorded for a channel the first time a message or card action
arrives there in this process (so channels mapped before the bot kept references have one),
and dropped when the bot is removed. An activity without a tenant changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import DeserializationError
from botbuilder.core import BotAdapter, InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount
from botbuilder.schema.teams import TeamInfo

from bot import activity_log
from bot.actions import TamperedAction, parse_invoke
from bot.adapter import (
    CARD_CONTENT_TYPE,
    RetryingCloudAdapter,
    card_activity,
    channel_of,
    conversation_tenant,
)
from bot.conversation import Conversation, Person, general_channel_name
from bot.credentials import OutboundTokenError
from bot.handlers import MappingBot
from bot.logs import event
from bot.storage.base import Storage
from bot.storage.models import ConversationRef
from cards.elements import Card

log = logging.getLogger("bot.teams")

CARD_ACTION = "adaptiveCard/action"  # the invoke of an Action.Execute click
CHANNEL_NAMES_TTL = 60.0
VERB_LOGGED = 64  # characters of a refused card verb that the log shows
MAX_TEAMS_CACHED = 10_000  # group ids kept in memory; the oldest go first
MAX_REFERENCES_SEEN = 10_000  # channels whose reference this process wrote; the oldest go first
HTML_CONTENT_TYPE = "text/html"


def tenant_of(activity: Activity) -> str | None:
    """`channelData.tenant.id`, else the activity's raw `conversation.tenantId`: botbuilder
    has no field of that name (its `tenant_id` is read from "tenantID"), so the value sits
    among the conversation's additional properties."""
    data = _dict(activity.channel_data)
    tenant = _dict(data.get("tenant")).get("id")
    if isinstance(tenant, str) and tenant.strip():
        return tenant.strip()
    return conversation_tenant(activity.conversation)


def html_of(activity: Activity) -> str | None:
    """The message's HTML form, which Teams sends besides its text (as an attachment of type
    text/html): the text flattens a pasted list's line breaks, the HTML keeps them."""
    for attachment in activity.attachments or []:
        content = getattr(attachment, "content", None)
        if getattr(attachment, "content_type", None) == HTML_CONTENT_TYPE and isinstance(
            content, str
        ):
            return content
    return None


def conversation_of(activity: Activity) -> Conversation:
    data: dict[str, Any] = _dict(activity.channel_data)
    conv = activity.conversation
    channel, team = (_dict(data.get(key)) for key in ("channel", "team"))
    # Only a channel's activities carry a channel; chats (personal, group) have none.
    # Ids are strings in every activity Teams sends; anything else is treated as absent.
    channel_id = _text(data.get("teamsChannelId")) or _text(channel.get("id"))
    team_id = _text(team.get("teamsTeamId")) or _text(team.get("id"))
    sender = activity.from_property
    object_id = _text(getattr(sender, "aad_object_id", None)) if sender is not None else None
    return Conversation(
        tenant_id=tenant_of(activity),
        channel_id=channel_id,
        channel_name=_text(channel.get("name")) or general_channel_name(channel_id, team_id),
        team_id=team_id,
        user=Person(object_id, _text(getattr(sender, "name", None))) if object_id else None,
        conversation_id=channel_of(conv.id if conv else None),
        personal=getattr(conv, "conversation_type", None) == "personal",
    )


def reference_of(activity: Activity, conversation: Conversation) -> ConversationRef | None:
    """The activity's conversation reference, as a plain dict the storage keeps; None when the
    activity names no tenant or conversation."""
    if not conversation.tenant_id or not conversation.conversation_id:
        return None
    reference: dict[str, Any] = TurnContext.get_conversation_reference(activity).serialize()
    # botbuilder drops the raw tenantId; a proactive message needs it.
    reference.setdefault("conversation", {})["tenantId"] = conversation.tenant_id
    reference["conversation"]["id"] = conversation.conversation_id
    return ConversationRef(
        conversation_id=conversation.conversation_id, tenant_id=conversation.tenant_id,
        team_id=conversation.team_id, channel_id=conversation.channel_id, reference=reference,
        updated_at=datetime.now(UTC),
    )  # fmt: skip


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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


class TeamsDirectory:
    """What Teams tells about one turn's team (a `TeamDirectory`), asked through TeamsInfo only
    when a handler needs it, with the answers kept by the `TeamsBot` across turns."""

    def __init__(self, owner: TeamsBot, turn_context: TurnContext, team_id: str | None) -> None:
        self._owner = owner
        self._turn_context = turn_context
        self._team_id = team_id

    async def channel_names(self) -> dict[str, str]:
        team_id = self._team_id
        if not team_id:
            return {}
        cached = self._owner._names.get(team_id)
        if cached and time.monotonic() - cached[0] < CHANNEL_NAMES_TTL:
            return cached[1]
        client = await TeamsInfo.get_teams_connector_client(self._turn_context)
        # msrest's call blocks: off the event loop.
        listed = await asyncio.to_thread(client.teams.get_teams_channels, team_id)
        found = {
            c.id: c.name or general_channel_name(c.id, team_id) or c.id
            for c in listed.conversations or []
            if c.id
        }
        self._owner._names[team_id] = (time.monotonic(), found)
        return found

    async def group_id(self) -> str | None:
        """The team's `aadGroupId` from Teams' team details; a team's group never changes, so
        it is asked once per team."""
        team_id = self._team_id
        if not team_id:
            return None
        groups = self._owner._groups
        if team_id in groups:
            return groups[team_id]
        client = await TeamsInfo.get_teams_connector_client(self._turn_context)
        details = await asyncio.to_thread(client.teams.get_team_details, team_id)
        group: str | None = getattr(details, "aad_group_id", None) or None
        if group is not None:
            if len(groups) >= MAX_TEAMS_CACHED:
                groups.pop(next(iter(groups)))
            groups[team_id] = group
        return group


class ClickedCard:
    """A `CardUpdater`: puts a new card in place of the activity `activity_id` of this turn's
    conversation (the card that was clicked, or the "working on it" card), as the bot of this
    turn, at any time after the turn has been answered."""

    def __init__(self, turn_context: TurnContext, activity_id: str) -> None:
        self.activity_id = activity_id
        self._claims = turn_context.turn_state.get(BotAdapter.BOT_IDENTITY_KEY)
        self._audience = turn_context.turn_state.get(BotAdapter.BOT_OAUTH_SCOPE_KEY)
        self._reference = TurnContext.get_conversation_reference(turn_context.activity)
        self._adapter = turn_context.adapter

    async def update(self, card: Card) -> None:
        update = card_activity(card)
        update.id = self.activity_id

        async def replace(context: TurnContext) -> None:
            await context.update_activity(update)

        adapter = self._adapter
        assert isinstance(adapter, RetryingCloudAdapter)  # the app's (app.py)
        await adapter.continue_raising(
            self._reference, replace, claims=self._claims, audience=self._audience
        )


class TeamsBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        bot: MappingBot,
        storage: Storage,
        *,
        action_budget: float,
        message_budget: float,
    ) -> None:
        """`storage` keeps the conversation references; `action_budget` and `message_budget`:
        how long a card action or a message may take before the bot answers "working on it"
        and finishes the card later (settings BOT_ACTION_BUDGET_SECONDS and
        BOT_MESSAGE_BUDGET_SECONDS)."""
        self.bot = bot
        self.storage = storage
        self.action_budget = action_budget
        self.message_budget = message_budget
        self._names: dict[str, tuple[float, dict[str, str]]] = {}
        self._groups: dict[str, str] = {}
        self._later: set[asyncio.Task[None]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()  # conversations with a reference

    async def on_turn(self, turn_context: TurnContext) -> None:
        # botbuilder reads Teams' channelData with msrest before the handlers of most activities
        # (members added, message updates and deletions, channel events), and that raises on a
        # channelData of another shape than Teams'. The sender's mistake: refused, nothing done,
        # and no apology posted for what nobody asked.
        try:
            await super().on_turn(turn_context)
        except DeserializationError as exc:
            _not_understood(turn_context.activity.type or "activity", exc)

    async def aclose(self, grace: float = 5.0) -> None:
        """Let cards that are being finished get their update, and references their write,
        for a little while; then the bot's own work (bulk runs, notices)."""
        if self._later:
            await asyncio.wait(self._later, timeout=grace)
        for task in list(self._later):
            task.cancel()
        await self.bot.aclose()

    def _later_task(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def _keep_reference(self, activity: Activity, conversation: Conversation) -> None:
        """A channel's reference, the first time a message or card action arrives from it in
        this process; written in the background, so that the answer does not wait for it."""
        key = conversation.conversation_id
        if not conversation.in_channel or key is None or key in self._seen:
            return
        reference = reference_of(activity, conversation)
        if reference is None:  # no tenant: nothing is recorded
            return
        self._seen[key] = None
        while len(self._seen) > MAX_REFERENCES_SEEN:
            self._seen.popitem(last=False)

        async def write() -> None:
            try:
                await self.storage.put_reference(reference)
            except Exception as exc:  # the next process (or an update) records it
                self._seen.pop(key, None)
                _reference_failed("put", exc)

        self._later_task(write())

    def directory(self, turn_context: TurnContext, conversation: Conversation) -> TeamsDirectory:
        return TeamsDirectory(self, turn_context, conversation.team_id)

    async def _within(self, work: asyncio.Future[Card], budget: float) -> Card | None:
        done, _ = await asyncio.wait({work}, timeout=budget)
        return work.result() if done else None

    def _finish_later(
        self, turn_context: TurnContext, conversation: Conversation,
        work: Awaitable[Card], activity_id: str | None,
    ) -> None:  # fmt: skip
        """When `work` is done, put its card in place of the "working on it" one."""
        updater = ClickedCard(turn_context, activity_id) if activity_id else None

        async def finish() -> None:
            try:
                card = await work
            except Exception:
                log.exception("a late card could not be finished")
                card = self.bot.failed(conversation)
            if updater is None:
                return
            try:
                await updater.update(card)
            except Exception:
                log.exception("could not update card %s", activity_id)

        self._later_task(finish())

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conversation = conversation_of(activity)
        self._keep_reference(activity, conversation)
        work = asyncio.ensure_future(
            self.bot.on_message(
                conversation, activity.text or "", self.directory(turn_context, conversation),
                html=html_of(activity),
            )
        )  # fmt: skip
        card = await self._within(work, self.message_budget)
        if card is not None:
            await turn_context.send_activity(card_activity(card))
            return
        activity_log.note(outcome="pending")
        sent = await turn_context.send_activity(card_activity(self.bot.pending(conversation)))
        self._finish_later(turn_context, conversation, work, sent.id if sent else None)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        response: InvokeResponse | None = await self._invoke(turn_context)
        if response is not None:
            # Kept where the adapter reads the HTTP answer from: botbuilder would send it
            # through the turn's send pipeline (a copy of the card, the middleware) to get there.
            turn_context.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = Activity(
                type=ActivityTypes.invoke_response, value=response
            )
        return response

    async def _invoke(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name != CARD_ACTION:
            # None of Teams' other invokes is ours: botbuilder answers them (501, or a health
            # check), reading their value with msrest, which raises on a value of another
            # shape than Teams'. That is the sender's mistake: a 400, and nothing done.
            try:
                answer: InvokeResponse | None = await super().on_invoke_activity(turn_context)
            except Exception as exc:
                _not_understood("invoke", exc)
                return InvokeResponse(status=400)
            return answer
        conversation = conversation_of(activity)
        try:
            action = parse_invoke(activity.value)
        except TamperedAction as exc:
            # What was sent, cut short: the log escapes it, and the verb was not one of ours.
            verb = _dict(_dict(activity.value).get("action")).get("verb")
            activity_log.note(verb=str(verb)[:VERB_LOGGED] if verb is not None else None)
            return card_invoke_response(self.bot.tampered(conversation, exc))
        self._keep_reference(activity, conversation)
        # The card that was clicked is the activity the invoke replies to.
        clicked = ClickedCard(turn_context, activity.reply_to_id) if activity.reply_to_id else None
        work = asyncio.ensure_future(
            self.bot.on_action(
                conversation, action, self.directory(turn_context, conversation), updater=clicked
            )
        )
        try:
            card = await self._within(work, self.action_budget)
        except Exception:
            log.exception("card action %s failed", action.verb.value)
            card = self.bot.failed(conversation)
        if card is None:
            self._finish_later(turn_context, conversation, work, activity.reply_to_id)
            activity_log.note(outcome="pending")
            card = self.bot.pending(conversation)
        return card_invoke_response(card)

    # -- installs, removals and conversation references -------------------------------------

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        removed = activity.members_removed or []
        if _is_bot(activity, removed):
            await self._forget(activity)
        else:
            await self._remember(activity)
        await super().on_conversation_update_activity(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context.activity)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._forget(turn_context.activity)

    async def _remember(self, activity: Activity) -> None:
        reference = reference_of(activity, conversation_of(activity))
        if reference is None:
            activity_log.note(outcome="refused")  # no tenant: nothing is recorded
            return
        try:
            await self.storage.put_reference(reference)
        except Exception as exc:  # the bot still answers; the next update records it
            _reference_failed("put", exc)

    async def _forget(self, activity: Activity) -> None:
        conversation = conversation_of(activity)
        if not conversation.tenant_id or not conversation.conversation_id:
            activity_log.note(outcome="refused")
            return
        try:
            kept = await self.storage.reference(conversation.conversation_id)
            # Another tenant's activity never removes a reference it did not make.
            if kept is None or (kept.tenant_id or "").lower() != conversation.tenant_id.lower():
                return
            await self.storage.remove_reference(conversation.conversation_id)
        except Exception as exc:
            _reference_failed("remove", exc)

    async def on_teams_members_added(
        self,
        teams_members_added: list[ChannelAccount],
        team_info: TeamInfo,
        turn_context: TurnContext,
    ) -> None:
        if not _is_bot(turn_context.activity, teams_members_added):
            return
        conversation = conversation_of(turn_context.activity)
        # Installed in a team: the welcome goes to General, where this event arrives. In a
        # personal or group chat there is no channel to map: it shows what the bot can do.
        await turn_context.send_activity(card_activity(await self.bot.welcome(conversation)))


def _is_bot(activity: Activity, members: list[ChannelAccount]) -> bool:
    bot_id = activity.recipient.id if activity.recipient else None
    return bot_id is not None and any(member.id == bot_id for member in members)


def _not_understood(kind: str, exc: Exception) -> None:
    """An activity whose fields botbuilder could not read: refused, one line, no trace."""
    activity_log.note(outcome="refused")
    event(log, "not_understood", {"activity": kind, "error": type(exc).__name__}, logging.WARNING)


def _reference_failed(op: str, exc: Exception) -> None:
    event(log, "reference_failed", {"op": op, "error": type(exc).__name__}, logging.WARNING)
