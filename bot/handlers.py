"""The bot's behaviour: a message or a card action in, a card out. One handler per verb.

No Bot Framework types: `bot/teams.py` turns activities into `Conversation`s and back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.actions import ActionSigner, TamperedAction
from bot.commands import Command, Verb, parse
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
from contextsms.phone import InvalidPhoneNumber, normalize
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
    """A request we decline with a card (never an error trace)."""

    def __init__(self, card: Card) -> None:
        super().__init__("refused")
        self.card = card


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
        assert self.conversation.channel_id is not None
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


class MappingBot:
    def __init__(self, service: MappingService, signer: ActionSigner, options: BotOptions) -> None:
        self.service = service
        self.signer = signer
        self.options = options
        self._verbs: dict[
            str, Callable[[Turn, dict[str, str], dict[str, Any]], Awaitable[Card]]
        ] = {
            "help": self.on_help,
            "status": self.on_status,
            "list": self.on_list,
            "map": self.on_map_form,
            "remap": self.on_remap_action,
            "remap.pick": self.on_remap_pick,
            "remap.move": self.on_remap_move,
            "unmap.ask": self.on_unmap_ask,
            "unmap.confirm": self.on_unmap_confirm,
        }

    def screens(self, conversation: Conversation, enterprise_id: str) -> Screens:
        ctx = {"ch": conversation.channel_id or "", "ent": enterprise_id}
        return Screens(self.signer, ctx, self.options.product)

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

    # -- entry points ---------------------------------------------------------------------

    def welcome(self, conversation: Conversation) -> Card:
        return self.screens(conversation, self.options.enterprise_id or "").welcome()

    def pending(self, conversation: Conversation) -> Card:
        return self.screens(conversation, self.options.enterprise_id or "").pending()

    def failed(self, conversation: Conversation) -> Card:
        return self.screens(conversation, self.options.enterprise_id or "").problem(
            "Something went wrong", "Nothing was changed. Try again in a minute."
        )

    async def on_message(
        self, conversation: Conversation, text: str, names: ChannelNames = no_names
    ) -> Card:
        command = parse(text, self.options.default_region)
        try:
            turn = self._turn(conversation, names)
            return await self._guard(turn, self._command(turn, command))
        except Refusal as refusal:
            return refusal.card

    async def on_action(
        self,
        conversation: Conversation,
        verb: str,
        data: Any,
        names: ChannelNames = no_names,
    ) -> Card:
        try:
            turn = self._turn(conversation, names)
            handler = self._verbs.get(verb)
            if handler is None:
                raise TamperedAction(f"unknown verb {verb!r}")
            ctx = self.signer.verify(verb, data)
            if (
                ctx.get("ch", "") != (conversation.channel_id or "")
                or ctx.get("ent") != turn.enterprise_id
            ):
                log.warning("card action for another channel or enterprise refused (verb %s)", verb)
                return turn.screens.problem(
                    "This card belongs to another channel",
                    "Nothing was changed. Use the cards in the channel they were sent to, or "
                    "type `status` here.",
                )
            inputs = data if isinstance(data, dict) else {}
            return await self._guard(turn, handler(turn, ctx, inputs))
        except TamperedAction as exc:
            log.warning("tampered card action refused (verb %s): %s", verb, exc)
            return self.screens(conversation, self.options.enterprise_id or "").problem(
                "This card action was not accepted",
                "The card's data was changed or is not one of mine, so nothing was done. "
                "Type `status` for a fresh card.",
            )
        except Refusal as refusal:
            return refusal.card

    async def _guard(self, turn: Turn, work: Awaitable[Card]) -> Card:
        """Turn API failures into short cards; never a trace, a token or a password."""
        screens = turn.screens
        try:
            return await work
        except Refusal as refusal:
            return refusal.card
        except DeadlineExceeded as exc:
            if exc.outcome_unknown:
                return screens.problem(
                    "No answer from ContextSMS",
                    "ContextSMS did not confirm the change in time, so it may or may not have "
                    "been applied. Check this channel's numbers before trying again.",
                )
            return screens.problem(
                "ContextSMS is slow to answer",
                "Nothing was changed. Try again in a minute.",
            )
        except ContextSMSError as exc:
            # Logged with the server's message and requestId; the person gets a short card.
            log.warning("ContextSMS call failed: %s", exc)
            title, advice = next((t, a) for cls, t, a in API_FAILURES if isinstance(exc, cls))
            reference = exc.request_id if isinstance(exc, ServerError) else None
            return screens.problem(title, f"Nothing was changed. {advice}", reference)

    # -- typed commands -------------------------------------------------------------------

    async def _command(self, turn: Turn, command: Command) -> Card:
        conversation = turn.conversation
        if command.verb is None:
            return turn.screens.help(conversation.in_channel, unknown=command.word or None)
        if command.verb is Verb.HELP:
            return turn.screens.help(conversation.in_channel)
        if command.verb is Verb.LIST:
            return await self._list_page(turn, 0)
        if not conversation.in_channel:
            return turn.screens.channel_only(command.word)
        if command.verb is Verb.STATUS:
            return await self._status(turn)
        if command.number is None:
            return turn.screens.invalid_number(
                command.number_text, command.problem or "it is not a number", command.word
            )
        if command.verb is Verb.MAP:
            return await self._map(turn, command.number, command.name)
        if command.verb is Verb.REMAP:
            existing = await self.service.by_number(turn.enterprise_id, command.number, turn.limit)
            return await self._move_here(turn, existing, command.number)
        existing = await self.service.by_number(turn.enterprise_id, command.number, turn.limit)
        if existing is None or existing.messaging_app_id != turn.channel_id:
            return await self._status(
                turn, notice=f"{command.number} is not mapped to this channel; nothing to unmap."
            )
        return turn.screens.confirm_unmap(existing)

    async def _status(self, turn: Turn, notice: str | None = None) -> Card:
        mappings = await self.service.of_channel(turn.enterprise_id, turn.channel_id, turn.limit)
        label = await turn.channel_label(turn.channel_id)
        return turn.screens.status(label, mappings, notice)

    async def _map(self, turn: Turn, number: str, name: str | None) -> Card:
        outcome = await self.service.map(
            turn.enterprise_id, turn.channel_id, number, name, turn.limit
        )
        if isinstance(outcome, Mapped):
            return turn.screens.mapped(outcome.mapping, outcome.already)
        if isinstance(outcome, TakenInEnterprise):
            label = await turn.channel_label(outcome.mapping.messaging_app_id)
            return turn.screens.taken_in_enterprise(outcome.mapping, label)
        assert isinstance(outcome, TakenElsewhere)
        return turn.screens.taken_elsewhere(outcome.number)

    async def _move_here(self, turn: Turn, existing: Mapping | None, number: str) -> Card:
        outcome = await self.service.move_here(
            turn.enterprise_id, turn.channel_id, existing, number, turn.limit
        )
        if isinstance(outcome, NotMapped):
            return turn.screens.not_mapped(outcome.number)
        assert isinstance(outcome, Moved)
        source = await turn.channel_label(outcome.from_channel) if outcome.from_channel else None
        return turn.screens.moved(outcome.mapping, source, outcome.already)

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

    # -- card actions (one handler per verb) ----------------------------------------------

    async def on_help(self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]) -> Card:
        return turn.screens.help(turn.conversation.in_channel)

    async def on_status(self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]) -> Card:
        if not turn.conversation.in_channel:
            return turn.screens.channel_only("status")
        return await self._status(turn)

    async def on_list(self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]) -> Card:
        page = ctx.get("page", "0")
        return await self._list_page(turn, int(page) if page.isdigit() else 0)

    async def on_map_form(self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]) -> Card:
        if not turn.conversation.in_channel:
            return turn.screens.channel_only("map")
        typed = inputs.get("number")
        name = inputs.get("name")
        typed = typed.strip() if isinstance(typed, str) else ""
        name = name.strip()[:60] or None if isinstance(name, str) else None
        try:
            number = normalize(typed, self.options.default_region)
        except InvalidPhoneNumber as exc:
            return turn.screens.invalid_number(typed, exc.reason, "map")
        return await self._map(turn, number, name)

    async def on_remap_action(
        self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]
    ) -> Card:
        existing = await self.service.by_id(turn.enterprise_id, ctx.get("id", ""), turn.limit)
        if existing is None:
            return await self._status(
                turn, notice="That number is no longer mapped in your organization."
            )
        return await self._move_here(turn, existing, existing.phone_number)

    async def on_remap_pick(self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]) -> Card:
        existing = await self._mapping_here(turn, ctx)
        return turn.screens.pick_channel(existing, await self._other_channels(turn))

    async def on_remap_move(self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]) -> Card:
        target = inputs.get("target")
        channels = dict(await self._other_channels(turn))
        existing = await self.service.by_id(turn.enterprise_id, ctx.get("id", ""), turn.limit)
        if existing is not None and existing.messaging_app_id == target:
            return turn.screens.moved_away(existing, channels.get(target, target), already=True)
        # The target is the person's choice, so unsigned: it must be a channel of this team.
        if not isinstance(target, str) or target not in channels:
            return turn.screens.problem(
                "Choose one of this team's channels", "Nothing was changed."
            )
        existing = await self._still_here(turn, existing)
        moved = await self.service.move_here(
            turn.enterprise_id, target, existing, existing.phone_number, turn.limit
        )
        assert isinstance(moved, Moved)
        return turn.screens.moved_away(moved.mapping, channels[target], already=False)

    async def _mapping_here(self, turn: Turn, ctx: dict[str, str]) -> Mapping:
        existing = await self.service.by_id(turn.enterprise_id, ctx.get("id", ""), turn.limit)
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

    async def on_unmap_ask(self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]) -> Card:
        return turn.screens.confirm_unmap(await self._mapping_here(turn, ctx))

    async def on_unmap_confirm(
        self, turn: Turn, ctx: dict[str, str], inputs: dict[str, Any]
    ) -> Card:
        outcome = await self.service.unmap(
            turn.enterprise_id, turn.channel_id, ctx.get("id", ""), turn.limit
        )
        if isinstance(outcome, InAnotherChannel):
            label = await turn.channel_label(outcome.mapping.messaging_app_id)
            return turn.screens.in_another_channel(outcome.mapping, label)
        assert isinstance(outcome, Unmapped)
        return turn.screens.unmapped(outcome.number, outcome.already)
