"""The bot's behaviour: a message or a card action in, a card out. One handler per verb.

Every command and card action acts on the enterprise its conversation's tenant (or team) is
linked to (`bot.tenancy`), and only for the people its route lets in (`Access`): anyone may
ask for help, any member of a linked team may look, owners change (or every member, where
their own team's option says so), owners set up with a code (or anyone, in a personal chat of
an organization not linked yet), operators of the reseller run the operator commands.
Every mapping change is recorded in the audit trail, whatever its outcome.

No Bot Framework types: `bot/teams.py` turns activities into `Conversation`s and back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, assert_never

from bot import activity_log
from bot.actions import ActionContext, ActionSigner, CardAction, CardVerb, TamperedAction
from bot.audit import Audit
from bot.branding import Brand, Branding
from bot.bulk import BulkMapper
from bot.bulk_chat import BulkChat
from bot.commands import OPERATOR_VERBS, Command, Verb, from_form, parse
from bot.conversation import CardUpdater, Conversation, TeamDirectory
from bot.finding import FindHandlers
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
from bot.notices import Notices, NumberLeft
from bot.operations import InvalidEnterpriseForm, Operations, enterprise_form
from bot.payment import Paid, PaymentGate, PaymentUnknown, Unpaid
from bot.permissions import Allowed, CannotTell, NotAllowed, Permissions, Role
from bot.storage.models import AuditAction
from bot.tenancy import Linked, NoTenant, SetupRefused, Tenancy
from bot.turn import (
    ON_THE_LINK,
    OWNER,
    SET_UP,
    Access,
    ActionHandler,
    BotOptions,
    Change,
    CommandHandler,
    Refusal,
    Route,
    Turn,
    no_longer_mapped,
    page_of,
)
from cards.elements import Card
from cards.operator import link_target
from cards.screens import PAGE_SIZE, Screens
from contextsms import (
    ContextSMSError,
    DeadlineExceeded,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from contextsms.models import Mapping
from contextsms.retry import Deadline

log = logging.getLogger("bot")

# What each API failure tells the person, most specific first.
API_FAILURES: list[tuple[type[ContextSMSError], str, str]] = [
    (Unauthorized, "The bot cannot sign in to ContextSMS",
     "An admin should check the bot's ContextSMS account."),
    (PermissionDenied, "Not allowed",
     "ContextSMS does not allow this bot's account to do that; ask your admin to check "
     "its rights."),
    (NotFound, "Not found",
     "ContextSMS does not know this organization or number; ask your provider to check this "
     "organization's setup."),
    (RateLimited, "ContextSMS is busy",
     "It asked the bot to slow down; try again in a minute."),
    (ServerError, "ContextSMS had a problem",
     "Try again in a minute; if it keeps failing, give support the reference below."),
    (TransportError, "ContextSMS cannot be reached", "Try again in a minute."),
    (ContextSMSError, "Something went wrong", "Try again in a minute."),
]  # fmt: skip


class MappingBot:
    def __init__(
        self, service: MappingService, signer: ActionSigner, options: BotOptions, *,
        tenancy: Tenancy, permissions: Permissions, audit: Audit, operations: Operations,
        branding: Branding, payments: PaymentGate, notices: Notices, bulk: BulkMapper,
    ) -> None:  # fmt: skip
        self.service = service
        self.signer = signer
        self.options = options
        self.tenancy = tenancy
        self.permissions = permissions
        self.audit = audit
        self.operations = operations
        self.branding = branding
        self.payments = payments
        self.notices = notices
        self.find = FindHandlers(self)
        self.bulk = BulkChat(self, bulk)
        history = "see this team's history"
        settings = "change who may map numbers in this team"
        many = "map many numbers at once"
        self._commands: dict[Verb, Route[CommandHandler]] = {
            Verb.HELP: Route(self.help_command, Access.ANYONE),
            Verb.SETUP: Route(self.setup_command, Access.ANYONE),
            Verb.LIST: Route(self.list_command, Access.READ),
            Verb.STATUS: Route(self.status_command, Access.READ, in_channel=True),
            Verb.MAP: Route(self.map_command, Access.CHANGE, in_channel=True),
            Verb.REMAP: Route(self.remap_command, Access.CHANGE, in_channel=True),
            Verb.UNMAP: Route(self.unmap_command, Access.CHANGE, in_channel=True),
            Verb.HISTORY: Route(self.history_command, Access.MANAGE, what=history),
            Verb.SETTINGS: Route(self.settings_command, Access.MANAGE, what=settings),
            Verb.FIND: Route(self.find.find_command, Access.READ),
            Verb.ENTERPRISES: Route(self.enterprises_command, Access.OPERATOR),
            Verb.NEW_ENTERPRISE: Route(self.new_enterprise_command, Access.OPERATOR),
            Verb.INVITE: Route(self.invite_command, Access.OPERATOR),
            Verb.LINKS: Route(self.links_command, Access.OPERATOR),
            Verb.UNLINK: Route(self.unlink_command, Access.OPERATOR),
        }
        change, operator = Access.CHANGE, Access.OPERATOR
        self._verbs: dict[CardVerb, Route[ActionHandler]] = {
            CardVerb.HELP: Route(self.on_help, Access.ANYONE),
            CardVerb.SETUP: Route(self.on_setup, Access.ANYONE),
            CardVerb.LIST: Route(self.on_list, Access.READ),
            CardVerb.STATUS: Route(self.on_status, Access.READ, in_channel=True),
            CardVerb.MAP: Route(self.on_map_form, change, in_channel=True, changes=True),
            CardVerb.REMAP: Route(self.on_remap_action, change, in_channel=True, changes=True),
            CardVerb.REMAP_PICK: Route(self.on_remap_pick, change, in_channel=True, changes=True),
            CardVerb.REMAP_MOVE: Route(self.on_remap_move, change, in_channel=True, changes=True),
            CardVerb.UNMAP_ASK: Route(self.on_unmap_ask, change, in_channel=True, changes=True),
            CardVerb.UNMAP_CONFIRM: Route(
                self.on_unmap_confirm, change, in_channel=True, changes=True
            ),
            CardVerb.HISTORY: Route(self.on_history, Access.MANAGE, what=history),
            CardVerb.SETTINGS: Route(self.on_settings, Access.MANAGE, what=settings),
            CardVerb.SETTINGS_MEMBERS_ON: Route(
                self.on_members_may_change, Access.MANAGE, what=settings, changes=True
            ),
            CardVerb.SETTINGS_MEMBERS_OFF: Route(
                self.on_only_owners_change, Access.MANAGE, what=settings, changes=True
            ),
            CardVerb.FIND: Route(self.find.on_find, Access.READ),
            CardVerb.FIND_UNMAP_ASK: Route(
                self.find.on_unmap_ask, change, in_channel=True, changes=True
            ),
            CardVerb.FIND_UNMAP_CONFIRM: Route(
                self.find.on_unmap_confirm, change, in_channel=True, changes=True
            ),
            CardVerb.BULK_FORM: Route(self.bulk.on_form, Access.MANAGE, in_channel=True, what=many),
            CardVerb.BULK_PREVIEW: Route(
                self.bulk.on_preview, Access.MANAGE, in_channel=True, what=many, changes=True
            ),
            CardVerb.BULK_APPLY: Route(
                self.bulk.on_apply, Access.MANAGE, in_channel=True, what=many, changes=True
            ),
            CardVerb.BULK_SHOW: Route(self.bulk.on_show, Access.MANAGE, in_channel=True, what=many),
            CardVerb.ENTERPRISES: Route(self.on_enterprises, operator),
            CardVerb.ENTERPRISE_NEW: Route(self.on_enterprise_new, operator),
            CardVerb.ENTERPRISE_CREATE: Route(self.on_enterprise_create, operator, changes=True),
            CardVerb.INVITE: Route(self.on_invite, operator, changes=True),
            CardVerb.LINKS: Route(self.on_links, operator),
            CardVerb.UNLINK_ASK: Route(self.on_unlink_ask, operator),
            CardVerb.UNLINK_CONFIRM: Route(self.on_unlink_confirm, operator, changes=True),
        }

    @property
    def card_verbs(self) -> frozenset[CardVerb]:
        """The card verbs this bot handles."""
        return frozenset(self._verbs)

    @property
    def command_verbs(self) -> frozenset[Verb]:
        return frozenset(self._commands)

    def screens(
        self, conversation: Conversation, enterprise_id: str = "", brand: Brand | None = None
    ) -> Screens:
        """The cards of this conversation in `brand` (the deployment's by default), their
        buttons signed for its tenant, its channel and `enterprise_id` ("" where none is
        linked)."""
        ctx = ActionContext(
            channel=conversation.channel_id or "", enterprise=enterprise_id,
            tenant=conversation.tenant_id,
        )  # fmt: skip
        return Screens(
            self.signer, ctx, brand or self.branding.default, self.options.default_region
        )

    async def aclose(self) -> None:
        """Let bulk runs and notices under way finish, for a little while."""
        await self.bulk.aclose()
        await self.notices.aclose()

    async def _turn(
        self, conversation: Conversation, directory: TeamDirectory, permission_wait: float,
        updater: CardUpdater | None = None,
    ) -> Turn:  # fmt: skip
        """The turn of this conversation, with its link and its brand (raises NoTenant)."""
        link = await self.tenancy.link_of(conversation)
        enterprise_id = link.enterprise_id if link else ""
        brand = await self.branding.brand_of(link.enterprise_id if link else None)
        return Turn(
            conversation, self.screens(conversation, enterprise_id, brand), link,
            Deadline(self.options.deadline), directory, self.permissions.is_operator(conversation),
            permission_wait, updater,
        )  # fmt: skip

    def _no_tenant(self, conversation: Conversation) -> Card:
        log.warning("activity without a tenant refused")
        activity_log.note(outcome="refused")
        return self.screens(conversation).no_tenant()

    # -- entry points ---------------------------------------------------------------------

    async def welcome(self, conversation: Conversation) -> Card:
        """The card of the bot's install: in a team, the welcome; in a chat, what it can do.
        In the brand of the organization's enterprise where it is linked already."""
        try:
            link = await self.tenancy.link_of(conversation)
        except NoTenant:
            link = None
        enterprise_id = link.enterprise_id if link else ""
        brand = await self.branding.brand_of(link.enterprise_id if link else None)
        screens = self.screens(conversation, enterprise_id, brand)
        if conversation.team_id or conversation.in_channel:
            return screens.welcome()
        return screens.help(in_channel=False)

    def pending(self, conversation: Conversation) -> Card:
        return self.screens(conversation).pending()

    def failed(self, conversation: Conversation) -> Card:
        """The card for work that raised: it may have changed something before it did."""
        activity_log.note(outcome="failed")
        return self.screens(conversation).outcome_unknown(
            "Something went wrong",
            "I could not finish this, so I cannot tell whether anything was changed.",
        )

    def tampered(self, conversation: Conversation, problem: TamperedAction) -> Card:
        """The card for a card action that is not one of ours, as sent (nothing was done)."""
        log.warning("tampered card action refused: %s", problem)
        activity_log.note(outcome="refused")
        return self.screens(conversation).problem(
            "This card action was not accepted",
            "The card's data was changed or is not one of mine, so nothing was done. "
            "Type `status` for a fresh card.",
        )

    async def on_message(
        self, conversation: Conversation, text: str, directory: TeamDirectory,
        html: str | None = None,
    ) -> Card:  # fmt: skip
        """A typed message; `html` is its HTML form where Teams sent one."""
        command = parse(text, self.options.default_region, html=html)
        try:
            turn = await self._turn(conversation, directory, self.options.permission_wait_message)
        except NoTenant:
            activity_log.note(verb=command.verb.value if command.verb else "unknown")
            return self._no_tenant(conversation)
        hidden = command.verb in OPERATOR_VERBS and not turn.operator
        known = command.verb is not None and not hidden
        activity_log.note(verb=command.verb.value if command.verb and known else "unknown")
        return await self._guard(turn, self._command(turn, command, known))

    async def on_action(
        self, conversation: Conversation, action: CardAction, directory: TeamDirectory,
        updater: CardUpdater | None = None,
    ) -> Card:  # fmt: skip
        """A card's button, parsed by `bot.actions.parse_invoke`: checked, then handled.
        `updater` replaces the clicked card later, for work that reports as it goes."""
        activity_log.note(verb=action.verb.value)
        try:
            ctx = self.signer.verify(action)
        except TamperedAction as exc:
            return self.tampered(conversation, exc)
        try:
            turn = await self._turn(
                conversation, directory, self.options.permission_wait_action, updater
            )
        except NoTenant:
            return self._no_tenant(conversation)
        route = self._verbs[action.verb]
        refusal = self._foreign(turn, ctx, route)
        if refusal is not None:
            log.warning("card action refused: %s (verb %r)", refusal[0], action.verb.value)
            activity_log.note(outcome="refused")
            return refusal[1]
        return await self._guard(turn, self._act(turn, route, ctx, action))

    def _foreign(
        self, turn: Turn, ctx: ActionContext, route: Route[ActionHandler]
    ) -> tuple[str, Card] | None:
        """Why a genuine card may not act here: made in another tenant, in another channel, or
        for another enterprise than this conversation's link (cards made before tenants were
        signed carry none, and are judged by their channel and enterprise)."""
        conversation, screens = turn.conversation, turn.screens
        if ctx.tenant is not None and ctx.tenant != conversation.tenant_id:
            return "another tenant", screens.foreign_tenant()
        if ctx.channel != (conversation.channel_id or ""):
            return "another channel", screens.problem(
                "This card belongs to another channel",
                "Nothing was changed. Use the cards in the channel they were sent to, or "
                "type `status` here.",
            )
        if route.access not in ON_THE_LINK:
            return None
        if ctx.enterprise == "":
            # Made where no enterprise was linked: such a card carries no change.
            return ("no enterprise", screens.relinked()) if route.changes else None
        if turn.link is not None and turn.link.enterprise_id != ctx.enterprise:
            return "another enterprise", screens.relinked()
        return None

    async def _guard(self, turn: Turn, work: Awaitable[Card]) -> Card:
        """Turn API failures into short cards; never a trace, a token or a password, and
        "nothing was changed" only when the client knows nothing was. A change under way is
        recorded with its outcome."""
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
            outcome = "unknown" if exc.outcome_unknown else "failed"
            await self._record(turn, outcome, reference)
            activity_log.note(outcome=outcome)
            if exc.outcome_unknown:
                if isinstance(exc, DeadlineExceeded):
                    return screens.outcome_unknown(
                        "No answer from ContextSMS",
                        "ContextSMS did not confirm the change in time, so it may or may not "
                        "have been applied.",
                        enterprises=turn.about_enterprises,
                    )
                return screens.outcome_unknown(
                    "ContextSMS did not confirm the change",
                    "ContextSMS had a problem after it received the change, so it may or may "
                    "not have been applied.",
                    reference,
                    enterprises=turn.about_enterprises,
                )
            if isinstance(exc, DeadlineExceeded):
                return screens.problem(
                    "ContextSMS is slow to answer", "Nothing was changed. Try again in a minute."
                )
            title, advice = next((t, a) for cls, t, a in API_FAILURES if isinstance(exc, cls))
            return screens.problem(title, f"Nothing was changed. {advice}", reference)
        activity_log.note(outcome="ok")
        return card

    # -- who may do what ------------------------------------------------------------------

    async def _admit(self, turn: Turn, route: Route[Any], word: str) -> None:
        """Raise a Refusal unless this person may use `route` here. Before any call to
        ContextSMS, so that a refused person changes nothing."""
        screens, conversation = turn.screens, turn.conversation
        match route.access:
            case Access.ANYONE | Access.OPERATOR:
                return  # operator routes are hidden from others before this
            case Access.READ | Access.CHANGE | Access.MANAGE:
                pass
            case _:
                assert_never(route.access)
        if turn.link is None:
            if route.access is Access.MANAGE and turn.operator:
                return  # an operator's history of every organization; settings need a link
            raise Refusal(screens.not_linked())
        if route.in_channel and not conversation.in_channel:
            raise Refusal(screens.channel_only(word))
        if route.access is Access.READ:
            return
        # Managing is for owners even where every member may change mappings.
        await self._owner_or_member(turn, route.what, owners_only=route.access is Access.MANAGE)

    async def _owner_or_member(self, turn: Turn, what: str, *, owners_only: bool) -> None:
        """Raise a Refusal unless this person may change this team (an operator, an owner, or
        a member where the team lets every member and `owners_only` is not asked)."""
        screens = turn.screens
        answer = await self._may_change(turn, owners_only=owners_only)
        match answer:
            case Allowed(role):
                if owners_only and role is Role.MEMBER:  # never, from Permissions: be sure
                    raise Refusal(screens.not_allowed(OWNER, what))
            case NotAllowed(who_can):
                raise Refusal(screens.not_allowed(who_can, what))
            case CannotTell(reason):
                log.warning("permissions could not be checked: %s", reason)
                raise Refusal(screens.cannot_tell(what))
            case _:
                assert_never(answer)

    async def _may_change(
        self, turn: Turn, *, owners_only: bool
    ) -> Allowed | NotAllowed | CannotTell:
        try:
            return await asyncio.wait_for(
                self.permissions.may_change(
                    turn.conversation, turn.directory, owners_only=owners_only
                ),
                turn.permission_wait,
            )
        except TimeoutError:  # Teams would give up on the answer: refused, never guessed
            log.warning("permissions check took over %.1f s", turn.permission_wait)
            return CannotTell("timeout")
        except Exception as exc:  # never allowed by default: what cannot be checked is refused
            log.warning("permissions check failed (%s)", type(exc).__name__, exc_info=True)
            return CannotTell(type(exc).__name__)

    async def _record(self, turn: Turn, outcome: str, request_id: str | None = None) -> None:
        """Record the change under way, if any, with its outcome (the audit never raises)."""
        change, turn.change = turn.change, None
        if change is None:
            return
        await self.audit.record(
            change.action, outcome, conversation=turn.conversation, by=turn.conversation.user,
            enterprise_id=turn.enterprise_id, number=change.number, before=change.before,
            after=change.after, request_id=request_id,
        )  # fmt: skip

    # -- typed commands (one handler per command) -----------------------------------------

    async def _command(self, turn: Turn, command: Command, known: bool) -> Card:
        if command.verb is None or not known:
            # An operator command typed by anyone else reads as a word the bot does not know.
            return turn.screens.help(
                turn.conversation.in_channel, unknown=command.word or None,
                operator=turn.operator,
            )  # fmt: skip
        route = self._commands[command.verb]
        await self._admit(turn, route, command.word)
        return await route.handler(turn, command)

    async def _act(
        self, turn: Turn, route: Route[ActionHandler], ctx: ActionContext, action: CardAction
    ) -> Card:
        if route.access is Access.OPERATOR and not turn.operator:
            return turn.screens.help(turn.conversation.in_channel)
        await self._admit(turn, route, action.verb.value)
        return await route.handler(turn, ctx, action)

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
        return turn.screens.help(turn.conversation.in_channel, operator=turn.operator)

    async def setup_command(self, turn: Turn, command: Command) -> Card:
        return await self._setup(turn, command.argument)

    async def list_command(self, turn: Turn, command: Command) -> Card:
        return await self._list_page(turn, 0)

    async def status_command(self, turn: Turn, command: Command) -> Card:
        return await self._status(turn)

    async def map_command(self, turn: Turn, command: Command) -> Card:
        if len(command.lines) > 1:
            return await self.bulk.map_lines(turn, command)
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

    async def history_command(self, turn: Turn, command: Command) -> Card:
        return await self._history(turn, None, 0)

    async def settings_command(self, turn: Turn, command: Command) -> Card:
        return await self._settings(turn)

    async def enterprises_command(self, turn: Turn, command: Command) -> Card:
        return await self._enterprises_page(turn, 0)

    async def new_enterprise_command(self, turn: Turn, command: Command) -> Card:
        return turn.screens.enterprise_form()

    async def invite_command(self, turn: Turn, command: Command) -> Card:
        words = command.argument.split()
        if not words:
            raise Refusal(
                turn.screens.operator_usage("invite", "an enterprise id, e.g. `invite E0000002`"),
                "invalid",
            )
        return await self._invite(turn, words[0], team_scoped="team" in map(str.lower, words[1:]))

    async def links_command(self, turn: Turn, command: Command) -> Card:
        return await self._links_page(turn, 0)

    async def unlink_command(self, turn: Turn, command: Command) -> Card:
        target = command.argument.strip()
        if not target:
            raise Refusal(
                turn.screens.operator_usage("unlink", "a tenant id or a team id"), "invalid"
            )
        return await self._confirm_unlink(turn, target)

    # -- what commands and cards share ----------------------------------------------------

    async def _status(self, turn: Turn, notice: str | None = None, page: int = 0) -> Card:
        mappings = await self.service.of_channel(turn.enterprise_id, turn.channel_id, turn.limit)
        label = await turn.channel_label(turn.channel_id)
        shown, page, pages = page_of(mappings, page)
        return turn.screens.status(label, shown, notice, page, pages)

    async def paid(self, turn: Turn) -> None:
        """Raise a Refusal unless the enterprise may map and move numbers now (its
        subscription is active, or cannot be checked and the deployment allows it then)."""
        answer = await self.payments.check(turn.enterprise_id, turn.limit)
        match answer:
            case Paid():
                return
            case Unpaid(status):
                raise Refusal(turn.screens.payment_required(status))
            case PaymentUnknown(reason):
                log.warning("payment check failed (%s): change refused", reason)
                raise Refusal(turn.screens.payment_unknown())
            case _:
                assert_never(answer)

    def notify_left(
        self, turn: Turn, number: str, from_channel: str, to_channel: str | None,
        to_label: str | None,
    ) -> None:  # fmt: skip
        """Tell the channel that lost `number` where it went, unless it is this one (its card
        says so already). In the background: the change stands whatever becomes of it."""
        if from_channel == turn.conversation.channel_id or not turn.conversation.tenant_id:
            return
        self.notices.number_left(
            NumberLeft(
                tenant_id=turn.conversation.tenant_id, enterprise_id=turn.enterprise_id,
                numbers=(number,), from_channel=from_channel, to_channel=to_channel,
                to_label=to_label, by=turn.conversation.user,
            ),
            turn.screens.brand,
        )  # fmt: skip

    async def _map(self, turn: Turn, number: str, name: str | None) -> Card:
        await self.paid(turn)
        turn.change = Change(AuditAction.MAP, number, after=turn.channel_id)
        outcome = await self.service.map(
            turn.enterprise_id, turn.channel_id, number, name, turn.limit
        )
        match outcome:
            case Mapped(mapping, already):
                await self._done(turn, changed=not already)
                return turn.screens.mapped(mapping, already)
            case TakenInEnterprise(mapping):
                await self._done(turn, changed=False)
                label = await turn.channel_label(mapping.messaging_app_id)
                return turn.screens.taken_in_enterprise(mapping, label)
            case TakenElsewhere(taken):
                await self._done(turn, changed=False)
                return turn.screens.taken_elsewhere(taken)
            case _:
                assert_never(outcome)

    async def _done(self, turn: Turn, *, changed: bool) -> None:
        """The change under way is over: recorded if it changed something."""
        if changed:
            await self._record(turn, "ok")
        turn.change = None

    async def _move_here(self, turn: Turn, existing: Mapping | None, number: str) -> Card:
        if existing is not None and existing.messaging_app_id != turn.channel_id:
            await self.paid(turn)
        if existing is not None:
            turn.change = Change(
                AuditAction.REMAP, number, existing.messaging_app_id, turn.channel_id
            )
        outcome = await self.service.move_here(
            turn.enterprise_id, turn.channel_id, existing, number, turn.limit
        )
        match outcome:
            case NotMapped(missing):
                await self._done(turn, changed=False)
                return turn.screens.not_mapped(missing)
            case Moved(mapping, from_channel, already):
                await self._done(turn, changed=not already)
                source = await turn.channel_label(from_channel) if from_channel else None
                if from_channel and not already:
                    here = await turn.channel_label(turn.channel_id)
                    self.notify_left(
                        turn, mapping.phone_number, from_channel, turn.channel_id, here
                    )
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

    async def _setup(self, turn: Turn, typed_code: str) -> Card:
        """Link this tenant (or team) with a setup code. The code is never shown or logged."""
        if not typed_code.strip():
            return turn.screens.setup_without_code()
        await self._may_set_up(turn)
        result = await self.tenancy.setup(turn.conversation, typed_code)
        match result:
            case Linked(link, previous):
                # A team with a link of its own keeps acting on it: the card says so, and its
                # buttons are signed for the link this conversation acts on now.
                acting = await self.tenancy.link_of(turn.conversation) or link
                screens = self.screens(turn.conversation, acting.enterprise_id)
                return screens.linked(link, previous, acting)
            case SetupRefused(problem):
                raise Refusal(turn.screens.setup_refused(problem))
            case _:
                assert_never(result)

    async def _may_set_up(self, turn: Turn) -> None:
        """Raise a Refusal unless this person may link here: in a team, an owner of it or an
        operator; in a personal chat, anyone while the organization has no link yet (re-linking
        is an owner's, in a team, or an operator's); never in a group chat. Before the code is
        looked at: a refused attempt neither uses the code nor counts as a failure."""
        if turn.conversation.team_id is not None:
            await self._owner_or_member(turn, SET_UP, owners_only=True)
        elif turn.operator:
            return
        elif not turn.conversation.personal:
            # A group chat can hold guests and people of other organizations: nobody there
            # is known to speak for the organization.
            raise Refusal(turn.screens.setup_in_a_team_or_personal_chat())
        elif turn.link is not None:
            raise Refusal(turn.screens.relink_in_a_team())

    async def _history(self, turn: Turn, before: str | None, page: int) -> Card:
        """This team's latest changes; an operator outside a team sees every organization's."""
        conversation = turn.conversation
        whole = turn.operator and conversation.team_id is None
        if not whole and conversation.team_id is None:
            raise Refusal(turn.screens.channel_only("history"))
        entries = await self.audit.history(
            tenant_id=None if whole else conversation.tenant_id,
            team_id=None if whole else conversation.team_id,
            before_id=before, limit=PAGE_SIZE + 1,
        )  # fmt: skip
        older = entries[PAGE_SIZE - 1].entry_id if len(entries) > PAGE_SIZE else None
        names = {} if whole else await turn.channel_names()
        return turn.screens.history(entries[:PAGE_SIZE], names, page=page, older=older, whole=whole)

    def _in_team(self, turn: Turn) -> None:
        """Settings are a team's own: typed elsewhere, they say where to type them."""
        if turn.conversation.team_id is None:
            raise Refusal(turn.screens.channel_only("settings"))

    async def _settings(self, turn: Turn) -> Card:
        self._in_team(turn)
        members = await self.tenancy.members_may_change(turn.conversation)
        return turn.screens.settings(members)

    async def _members_may_change(self, turn: Turn, value: bool) -> Card:
        self._in_team(turn)
        await self.tenancy.set_members_may_change(
            turn.conversation, value, enterprise_id=turn.link.enterprise_id if turn.link else None
        )
        notice = (
            "Every member of this team may now map, move and unmap numbers."
            if value
            else "Only this team's owners may now map, move and unmap numbers."
        )
        return turn.screens.settings(value, notice)

    async def _enterprises_page(self, turn: Turn, page: int) -> Card:
        rows = await self.operations.enterprises(deadline=turn.limit.remaining())
        return turn.screens.enterprises(*page_of(rows, page))

    async def _invite(self, turn: Turn, enterprise_id: str, *, team_scoped: bool) -> Card:
        """A setup code, shown only in the operator's personal chat with the bot."""
        if not turn.conversation.personal:  # as Teams says: never guessed from ids
            raise Refusal(turn.screens.invite_in_private())
        try:
            issued = await self.operations.invite(
                enterprise_id, by=turn.person, team_scoped=team_scoped,
                deadline=turn.limit.remaining(),
            )  # fmt: skip
        except NotFound:
            raise Refusal(turn.screens.unknown_enterprise(enterprise_id), "invalid") from None
        return turn.screens.invite(issued)

    async def _links_page(self, turn: Turn, page: int) -> Card:
        return turn.screens.links(*page_of(await self.tenancy.links(), page))

    async def _confirm_unlink(self, turn: Turn, target: str) -> Card:
        wanted = target.lower()
        matches = [x for x in await self.tenancy.links() if link_target(x).lower() == wanted]
        if not matches:
            raise Refusal(turn.screens.unlinked(target, []), "invalid")
        # Unlinking a tenant leaves its teams' own links: the card says which stay.
        tenants = {x.tenant_id for x in matches if x.team_id is None}
        staying = [x for x in await self.tenancy.links() if x.team_id and x.tenant_id in tenants]
        return turn.screens.confirm_unlink(target, matches, staying)

    # -- card actions (one handler per verb) ----------------------------------------------

    async def on_help(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return turn.screens.help(turn.conversation.in_channel, operator=turn.operator)

    async def on_setup(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._setup(turn, action.text_input("code") or "")

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
            return await self._status(turn, notice=no_longer_mapped(None))
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
        await self.paid(turn)
        turn.change = Change(AuditAction.REMAP, existing.phone_number, turn.channel_id, target)
        outcome = await self.service.move(existing, target, turn.limit)
        match outcome:
            case NotMapped(number):
                await self._done(turn, changed=False)
                return await self._status(turn, notice=no_longer_mapped(number))
            case Moved(mapping, _, already):
                await self._done(turn, changed=not already)
                return turn.screens.moved_away(mapping, channels[target], already=already)
            case _:
                assert_never(outcome)

    async def on_unmap_ask(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return turn.screens.confirm_unmap(await self._mapping_here(turn, ctx))

    async def on_unmap_confirm(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        existing = await self.service.by_id(turn.enterprise_id, ctx.mapping_id or "", turn.limit)
        if existing is not None and existing.messaging_app_id == turn.channel_id:
            turn.change = Change(AuditAction.UNMAP, existing.phone_number, turn.channel_id)
        outcome = await self.service.unmap(turn.channel_id, existing, turn.limit)
        match outcome:
            case InAnotherChannel(mapping):
                label = await turn.channel_label(mapping.messaging_app_id)
                return turn.screens.in_another_channel(mapping, label)
            case Unmapped(number, already):
                await self._done(turn, changed=not already)
                return turn.screens.unmapped(number, already)
            case _:
                assert_never(outcome)

    async def on_history(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._history(turn, ctx.mapping_id, ctx.page or 0)

    async def on_settings(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._settings(turn)

    async def on_members_may_change(
        self, turn: Turn, ctx: ActionContext, action: CardAction
    ) -> Card:
        return await self._members_may_change(turn, True)

    async def on_only_owners_change(
        self, turn: Turn, ctx: ActionContext, action: CardAction
    ) -> Card:
        return await self._members_may_change(turn, False)

    async def on_enterprises(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._enterprises_page(turn, ctx.page or 0)

    async def on_enterprise_new(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return turn.screens.enterprise_form()

    async def on_enterprise_create(
        self, turn: Turn, ctx: ActionContext, action: CardAction
    ) -> Card:
        values = {k: action.text_input(k) or "" for k in ("name", "contact", "number", "email")}
        try:
            form = enterprise_form(**values, region=self.options.default_region)
        except InvalidEnterpriseForm as exc:
            raise Refusal(
                turn.screens.enterprise_form(values, list(exc.problems)), "invalid"
            ) from None
        turn.about_enterprises = True
        created = await self.operations.new_enterprise(
            form, by=turn.conversation.user, deadline=turn.limit.remaining()
        )
        return turn.screens.enterprise_created(created.enterprise_id, created.name)

    async def on_invite(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._invite(turn, ctx.mapping_id or "", team_scoped=False)

    async def on_links(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._links_page(turn, ctx.page or 0)

    async def on_unlink_ask(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return await self._confirm_unlink(turn, ctx.mapping_id or "")

    async def on_unlink_confirm(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        target = ctx.mapping_id or ""
        removed = await self.operations.unlink(target, by=turn.conversation.user)
        return turn.screens.unlinked(target, removed)
