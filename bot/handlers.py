"""The bot's behaviour: a message or a card action in, a card out. One handler per verb.

No Bot Framework types: `bot/teams.py` turns activities into `Conversation`s and back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, assert_never

from bot import activity_log
from bot.actions import ActionContext, ActionSigner, CardAction, CardVerb, TamperedAction
from bot.commands import Command, Verb, from_form, parse
from bot.conversation import Conversation
from bot.mappings import (
    InAnotherChannel,
    Mapped,
    MappingService,
    Moved,
    NotMapped,
    TakenElsewhere,
    TakenInEnterprise,
    Unmapped,
)
from bot.tenancy import NoEnterprise, enterprise_for
from cards.elements import Card
from cards.screens import PAGE_SIZE, Screens
from contextsms import (
    ContextSMSError,
    DeadlineExceeded,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    Unauthorized,
)
from contextsms.models import Mapping
from contextsms.retry import Deadline

log = logging.getLogger("bot")

ChannelNames = Callable[[], Awaitable[dict[str, str]]]

# How long one request may take at the API in all, retries included. Teams waits less (5 s
# for a card action, 15 s for a message): bot/teams.py answers in time with a "working on it"
# card and updates it when the work is done.
API_DEADLINE = 30.0


async def no_names() -> dict[str, str]:
    return {}


# What each API failure tells the person, most specific first.
API_FAILURES: list[tuple[type[ContextSMSError], str, str]] = [
    (Unauthorized, "The bot cannot sign in to ContextSMS",
     "An admin should check the bot's ContextSMS account."),
    (PermissionDenied, "Not allowed",
     "ContextSMS does not allow this bot's account to do that; ask your admin to check "
     "its rights."),
    (NotFound, "Not found",
     "ContextSMS does not know this organization or number; ask your admin to check the bot's "
     "enterprise setting."),
    (ServerError, "ContextSMS had a problem",
     "Try again in a minute; if it keeps failing, give support the reference below."),
    (TransportError, "ContextSMS cannot be reached", "Try again in a minute."),
    (ContextSMSError, "Something went wrong", "Try again in a minute."),
]  # fmt: skip


@dataclass(frozen=True)
class BotOptions:
    enterprise_id: str | None
    default_region: str = "US"
    product: str = "ContextSMS"
    deadline: float = API_DEADLINE


class Refusal(Exception):
    """A request we decline with a card (never an error trace). `outcome` names it in the
    activity log: "refused", or "invalid" for input that cannot be used."""

    def __init__(self, card: Card, outcome: str = "refused") -> None:
        super().__init__(outcome)
        self.card = card
        self.outcome = outcome


@dataclass
class Turn:
    """One message or action: where it comes from, its cards and its time budget."""

    conversation: Conversation
    screens: Screens
    enterprise_id: str
    limit: Deadline
    names: ChannelNames

    @property
    def channel_id(self) -> str:
        assert self.conversation.channel_id is not None  # routes that need one check first
        return self.conversation.channel_id

    async def channel_names(self) -> dict[str, str]:
        """The team's channel names as Teams tells them; none when Teams cannot say."""
        try:
            return await self.names()
        except Exception:  # a name is a nicety: callers fall back to the id
            log.warning("could not read channel names", exc_info=True)
            return {}

    async def channel_label(self, channel_id: str) -> str:
        known = self.conversation.known_channel_name(channel_id)
        if known:
            return known
        names = await self.channel_names()
        if channel_id in names:
            return names[channel_id]
        if channel_id == self.conversation.channel_id:
            return "this channel"
        return f"another channel ({channel_id})"


CommandHandler = Callable[[Turn, Command], Awaitable[Card]]
ActionHandler = Callable[[Turn, ActionContext, CardAction], Awaitable[Card]]


H = TypeVar("H", CommandHandler, ActionHandler)


@dataclass(frozen=True)
class Route(Generic[H]):
    handler: H
    in_channel: bool  # it maps numbers to the channel it comes from, so it needs one


class MappingBot:
    def __init__(self, service: MappingService, signer: ActionSigner, options: BotOptions) -> None:
        self.service = service
        self.signer = signer
        self.options = options
        self._commands: dict[Verb, Route[CommandHandler]] = {
            Verb.HELP: Route(self.help_command, in_channel=False),
            Verb.LIST: Route(self.list_command, in_channel=False),
            Verb.STATUS: Route(self.status_command, in_channel=True),
            Verb.MAP: Route(self.map_command, in_channel=True),
            Verb.REMAP: Route(self.remap_command, in_channel=True),
            Verb.UNMAP: Route(self.unmap_command, in_channel=True),
        }
        self._verbs: dict[CardVerb, Route[ActionHandler]] = {
            CardVerb.HELP: Route(self.on_help, in_channel=False),
            CardVerb.LIST: Route(self.on_list, in_channel=False),
            CardVerb.STATUS: Route(self.on_status, in_channel=True),
            CardVerb.MAP: Route(self.on_map_form, in_channel=True),
            CardVerb.REMAP: Route(self.on_remap_action, in_channel=True),
            CardVerb.REMAP_PICK: Route(self.on_remap_pick, in_channel=True),
            CardVerb.REMAP_MOVE: Route(self.on_remap_move, in_channel=True),
            CardVerb.UNMAP_ASK: Route(self.on_unmap_ask, in_channel=True),
            CardVerb.UNMAP_CONFIRM: Route(self.on_unmap_confirm, in_channel=True),
        }

    @property
    def card_verbs(self) -> frozenset[CardVerb]:
        """The card verbs this bot handles."""
        return frozenset(self._verbs)

    @property
    def command_verbs(self) -> frozenset[Verb]:
        return frozenset(self._commands)

    def screens(self, conversation: Conversation, enterprise_id: str) -> Screens:
        ctx = ActionContext(channel=conversation.channel_id or "", enterprise=enterprise_id)
        return Screens(self.signer, ctx, self.options.product, self.options.default_region)

    def _turn(self, conversation: Conversation, names: ChannelNames) -> Turn:
        try:
            enterprise_id = enterprise_for(conversation, self.options.enterprise_id)
        except NoEnterprise:
            screens = self.screens(conversation, "")
            raise Refusal(
                screens.problem(
                    "Not set up yet",
                    "This organization has no ContextSMS enterprise yet. Ask your admin or "
                    f"your {self.options.product} provider to finish the setup.",
                )
            ) from None
        return Turn(
            conversation, self.screens(conversation, enterprise_id), enterprise_id,
            Deadline(self.options.deadline), names,
        )  # fmt: skip

    def _screens(self, conversation: Conversation) -> Screens:
        return self.screens(conversation, self.options.enterprise_id or "")

    # -- entry points ---------------------------------------------------------------------

    def welcome(self, conversation: Conversation) -> Card:
        return self._screens(conversation).welcome()

    def pending(self, conversation: Conversation) -> Card:
        return self._screens(conversation).pending()

    def failed(self, conversation: Conversation) -> Card:
        """The card for work that raised: it may have changed something before it did."""
        activity_log.note(outcome="failed")
        return self._screens(conversation).outcome_unknown(
            "Something went wrong",
            "I could not finish this, so I cannot tell whether anything was changed.",
        )

    def tampered(self, conversation: Conversation, problem: TamperedAction) -> Card:
        """The card for a card action that is not one of ours, as sent (nothing was done)."""
        log.warning("tampered card action refused: %s", problem)
        activity_log.note(outcome="refused")
        return self._screens(conversation).problem(
            "This card action was not accepted",
            "The card's data was changed or is not one of mine, so nothing was done. "
            "Type `status` for a fresh card.",
        )

    async def on_message(
        self, conversation: Conversation, text: str, names: ChannelNames = no_names
    ) -> Card:
        command = parse(text, self.options.default_region)
        activity_log.note(verb=command.verb.value if command.verb else "unknown")
        try:
            turn = self._turn(conversation, names)
        except Refusal as refusal:
            activity_log.note(outcome=refusal.outcome)
            return refusal.card
        return await self._guard(turn, self._command(turn, command))

    async def on_action(
        self, conversation: Conversation, action: CardAction, names: ChannelNames = no_names
    ) -> Card:
        """A card's button, parsed by `bot.actions.parse_invoke`: checked, then handled."""
        activity_log.note(verb=action.verb.value)
        try:
            turn = self._turn(conversation, names)
            ctx = self.signer.verify(action)
        except Refusal as refusal:
            activity_log.note(outcome=refusal.outcome)
            return refusal.card
        except TamperedAction as exc:
            return self.tampered(conversation, exc)
        if ctx.channel != (conversation.channel_id or "") or ctx.enterprise != turn.enterprise_id:
            log.warning(
                "card action for another channel or enterprise refused (verb %r)",
                action.verb.value,
            )
            activity_log.note(outcome="refused")
            return turn.screens.problem(
                "This card belongs to another channel",
                "Nothing was changed. Use the cards in the channel they were sent to, or "
                "type `status` here.",
            )
        route = self._verbs[action.verb]
        if route.in_channel and not conversation.in_channel:
            activity_log.note(outcome="refused")
            return turn.screens.channel_only(action.verb.value)
        return await self._guard(turn, route.handler(turn, ctx, action))

    async def _guard(self, turn: Turn, work: Awaitable[Card]) -> Card:
        """Turn API failures into short cards; never a trace, a token or a password, and
        "nothing was changed" only when the client knows nothing was."""
        screens = turn.screens
        try:
            card = await work
        except Refusal as refusal:
            activity_log.note(outcome=refusal.outcome)
            return refusal.card
        except ContextSMSError as exc:
            # Logged with the server's message and requestId; the person gets a short card.
            log.warning("ContextSMS call failed: %s", exc)
            reference = exc.request_id if isinstance(exc, ServerError) else None
            if exc.outcome_unknown:
                activity_log.note(outcome="unknown")
                if isinstance(exc, DeadlineExceeded):
                    return screens.outcome_unknown(
                        "No answer from ContextSMS",
                        "ContextSMS did not confirm the change in time, so it may or may not "
                        "have been applied.",
                    )
                return screens.outcome_unknown(
                    "ContextSMS did not confirm the change",
                    "ContextSMS had a problem after it received the change, so it may or may "
                    "not have been applied.",
                    reference,
                )
            activity_log.note(outcome="failed")
            if isinstance(exc, DeadlineExceeded):
                return screens.problem(
                    "ContextSMS is slow to answer", "Nothing was changed. Try again in a minute."
                )
            title, advice = next((t, a) for cls, t, a in API_FAILURES if isinstance(exc, cls))
            return screens.problem(title, f"Nothing was changed. {advice}", reference)
        activity_log.note(outcome="ok")
        return card

    # -- typed commands (one handler per command) -----------------------------------------

    async def _command(self, turn: Turn, command: Command) -> Card:
        if command.verb is None:
            return turn.screens.help(turn.conversation.in_channel, unknown=command.word or None)
        route = self._commands[command.verb]
        if route.in_channel and not turn.conversation.in_channel:
            raise Refusal(turn.screens.channel_only(command.word))
        return await route.handler(turn, command)

    def _number(self, turn: Turn, command: Command) -> str:
        """The command's number, or a Refusal saying what is wrong with it or its name."""
        if command.number is None:
            raise Refusal(
                turn.screens.invalid_number(
                    command.number_text, command.problem or "it is not a number", command.word
                ),
                "invalid",
            )
        if command.name_problem is not None:
            raise Refusal(
                turn.screens.invalid_name(command.name or "", command.name_problem), "invalid"
            )
        return command.number

    async def help_command(self, turn: Turn, command: Command) -> Card:
        return turn.screens.help(turn.conversation.in_channel)

    async def list_command(self, turn: Turn, command: Command) -> Card:
        return await self._list_page(turn, 0)

    async def status_command(self, turn: Turn, command: Command) -> Card:
        return await self._status(turn)

    async def map_command(self, turn: Turn, command: Command) -> Card:
        return await self._map(turn, self._number(turn, command), command.name)

    async def remap_command(self, turn: Turn, command: Command) -> Card:
        number = self._number(turn, command)
        existing = await self.service.by_number(turn.enterprise_id, number, turn.limit)
        return await self._move_here(turn, existing, number)

    async def unmap_command(self, turn: Turn, command: Command) -> Card:
        number = self._number(turn, command)
        existing = await self.service.by_number(turn.enterprise_id, number, turn.limit)
        if existing is None or existing.messaging_app_id != turn.channel_id:
            return await self._status(
                turn, notice=f"{number} is not mapped to this channel; nothing to unmap."
            )
        return turn.screens.confirm_unmap(existing)

    # -- what commands and cards share ----------------------------------------------------

    async def _status(self, turn: Turn, notice: str | None = None, page: int = 0) -> Card:
        mappings = await self.service.of_channel(turn.enterprise_id, turn.channel_id, turn.limit)
        label = await turn.channel_label(turn.channel_id)
        pages = max(1, math.ceil(len(mappings) / PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        shown = mappings[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        return turn.screens.status(label, shown, notice, page, pages)

    async def _map(self, turn: Turn, number: str, name: str | None) -> Card:
        outcome = await self.service.map(
            turn.enterprise_id, turn.channel_id, number, name, turn.limit
        )
        match outcome:
            case Mapped(mapping, already):
                return turn.screens.mapped(mapping, already)
            case TakenInEnterprise(mapping):
                label = await turn.channel_label(mapping.messaging_app_id)
                return turn.screens.taken_in_enterprise(mapping, label)
            case TakenElsewhere(taken):
                return turn.screens.taken_elsewhere(taken)
            case _:
                assert_never(outcome)

    async def _move_here(self, turn: Turn, existing: Mapping | None, number: str) -> Card:
        outcome = await self.service.move_here(
            turn.enterprise_id, turn.channel_id, existing, number, turn.limit
        )
        match outcome:
            case NotMapped(missing):
                return turn.screens.not_mapped(missing)
            case Moved(mapping, from_channel, already):
                source = await turn.channel_label(from_channel) if from_channel else None
                return turn.screens.moved(mapping, source, already)
            case _:
                assert_never(outcome)

    async def _list_page(self, turn: Turn, page: int) -> Card:
        mappings = await self.service.all(turn.enterprise_id, turn.limit)
        by_channel: dict[str, list[Mapping]] = {}
        for mapping in mappings:
            by_channel.setdefault(mapping.messaging_app_id, []).append(mapping)
        # Page by numbers, keeping a channel's numbers together where they fit on a page.
        pages: list[list[tuple[str, list[Mapping]]]] = [[]]
        count = 0
        for channel_id, group in by_channel.items():
            for start in range(0, len(group), PAGE_SIZE):
                chunk = group[start : start + PAGE_SIZE]
                if count + len(chunk) > PAGE_SIZE and pages[-1]:
                    pages.append([])
                    count = 0
                pages[-1].append((channel_id, chunk))
                count += len(chunk)
        page = min(max(page, 0), len(pages) - 1)
        labelled = [(await turn.channel_label(ch), group) for ch, group in pages[page]]
        return turn.screens.list(labelled, page, len(pages))

    async def _mapping_here(self, turn: Turn, ctx: ActionContext) -> Mapping:
        existing = await self.service.by_id(turn.enterprise_id, ctx.mapping_id or "", turn.limit)
        return await self._still_here(turn, existing)

    async def _still_here(self, turn: Turn, existing: Mapping | None) -> Mapping:
        """The mapping a card acts on, if it is still this channel's; otherwise a Refusal
        whose card shows where it went (a second click shows the current state)."""
        if existing is None:
            raise Refusal(turn.screens.unmapped(None, already=True))
        if existing.messaging_app_id != turn.channel_id:
            label = await turn.channel_label(existing.messaging_app_id)
            raise Refusal(turn.screens.in_another_channel(existing, label))
        return existing

    async def _other_channels(self, turn: Turn) -> list[tuple[str, str]]:
        names = await turn.channel_names()
        return sorted(
            ((cid, name) for cid, name in names.items() if cid != turn.channel_id),
            key=lambda item: item[1].lower(),
        )

    # -- card actions (one handler per verb) ----------------------------------------------

    async def on_help(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return turn.screens.help(turn.conversation.in_channel)

    async def on_status(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._status(turn, page=ctx.page or 0)

    async def on_list(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._list_page(turn, ctx.page or 0)

    async def on_map_form(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        command = from_form(
            action.text_input("number") or "",
            action.text_input("name") or "",
            self.options.default_region,
        )
        return await self.map_command(turn, command)

    async def on_remap_action(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        existing = await self.service.by_id(turn.enterprise_id, ctx.mapping_id or "", turn.limit)
        if existing is None:
            return await self._status(
                turn, notice="That number is no longer mapped in your organization."
            )
        return await self._move_here(turn, existing, existing.phone_number)

    async def on_remap_pick(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        existing = await self._mapping_here(turn, ctx)
        return turn.screens.pick_channel(existing, await self._other_channels(turn))

    async def on_remap_move(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        target = action.text_input("target")
        channels = dict(await self._other_channels(turn))
        existing = await self.service.by_id(turn.enterprise_id, ctx.mapping_id or "", turn.limit)
        if existing is not None and target is not None and existing.messaging_app_id == target:
            return turn.screens.moved_away(existing, channels.get(target, target), already=True)
        # The target is the person's choice, so unsigned: it must be a channel of this team.
        if target is None or target not in channels:
            raise Refusal(
                turn.screens.problem("Choose one of this team's channels", "Nothing was changed."),
                "invalid",
            )
        existing = await self._still_here(turn, existing)
        moved = await self.service.move(existing, target, turn.limit)
        return turn.screens.moved_away(moved.mapping, channels[target], already=moved.already)

    async def on_unmap_ask(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return turn.screens.confirm_unmap(await self._mapping_here(turn, ctx))

    async def on_unmap_confirm(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        outcome = await self.service.unmap(
            turn.enterprise_id, turn.channel_id, ctx.mapping_id or "", turn.limit
        )
        match outcome:
            case InAnotherChannel(mapping):
                label = await turn.channel_label(mapping.messaging_app_id)
                return turn.screens.in_another_channel(mapping, label)
            case Unmapped(number, already):
                return turn.screens.unmapped(number, already)
            case _:
                assert_never(outcome)
