"""Bulk mapping in a channel: `map` followed by a list, or the form; the preview; applying it
with the card updated in place as it goes.

Applying answers at once with a progress card (Teams gives a card action 5 s) and goes on in
the background; the card is replaced through the turn's `CardUpdater` as rows finish. Where
there is none, the "Refresh" button shows the run as it is. A run is claimed before it is
applied, so a second click (or another instance) shows its state and applies nothing again.
A run stopped before its end (a shutdown, a killed process) is shown as stopped, with the
numbers that have no outcome, never as applying for ever.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING, assert_never

from bot.actions import ActionContext, CardAction
from bot.bulk import BulkMapper, BulkRun, RowKind, RunState, TooManyRows, read_lines, stopped
from bot.commands import Command
from bot.turn import Refusal, Turn
from cards.elements import Card

if TYPE_CHECKING:
    from bot.handlers import MappingBot

log = logging.getLogger("bot.bulk")

MANY = "map many numbers at once"  # what a refused person may not do
MOVE, NEW = "move", "new"  # the Apply buttons' choice (ActionContext.target)
# Teams puts the answer to a click in place of the card when that answer reaches it, a moment
# after the bot gave it: an update that came first would be overwritten, and the card would say
# "Applying…" for ever. A run's card updates start this long after the click was answered.
ANSWER_FIRST = 1.0
# At shutdown, how long a stopped run's card may take to say so (the process is ending).
STOP_CARD_SECONDS = 2.0


class BulkChat:
    def __init__(self, core: MappingBot, mapper: BulkMapper) -> None:
        self.core = core
        self.mapper = mapper
        self._tasks: set[asyncio.Task[None]] = set()
        # The stopped cards being sent at shutdown: kept, so that none is collected half-done.
        self._stopping: set[asyncio.Task[None]] = set()

    async def map_lines(self, turn: Turn, command: Command) -> Card:
        """`map` followed by several lines: owners and operators only, then the preview."""
        # The map route lets members in where their team allows it; a list is for owners.
        await self.core._owner_or_member(turn, MANY, owners_only=True)
        return await self._preview(turn, "\n".join(command.lines), len(command.lines))

    async def on_form(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        return turn.screens.bulk_form(self.mapper.max_rows)

    async def on_preview(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        typed = action.text_input("numbers") or ""
        count = sum(1 for line in typed.splitlines() if line.strip())
        if count == 0:
            raise Refusal(
                turn.screens.bulk_form(
                    self.mapper.max_rows, "Paste at least one number. Nothing was changed."
                ),
                "invalid",
            )
        return await self._preview(turn, typed, count)

    async def on_apply(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        """Claim the run, answer with its progress at once, and apply it in the background.
        A run claimed already (a second click) is shown as it is now."""
        run_id, tenant_id = ctx.mapping_id or "", self._tenant(turn)
        claimed = await self.mapper.claim(run_id, tenant_id=tenant_id, move=ctx.target == MOVE)
        if claimed is None:
            return await self._state(turn, await self.mapper.run(run_id, tenant_id=tenant_id))
        labels = await self._labels(turn, claimed)
        # The answer goes out as this returns: the updates wait until it surely arrived.
        card = _CardInPlace(turn, not_before=time.monotonic() + ANSWER_FIRST)
        task = asyncio.create_task(self._apply(turn, claimed, labels, card))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return turn.screens.bulk_progress(claimed, labels)

    async def on_show(self, turn: Turn, ctx: ActionContext, action: CardAction) -> Card:
        run = await self.mapper.run(ctx.mapping_id or "", tenant_id=self._tenant(turn))
        return await self._state(turn, run)

    async def aclose(self, grace: float = 5.0) -> None:
        """Let runs under way finish, for a little while; then stop them (the engine stores
        them as stopped, and each card says so, see `_apply`)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d bulk runs stopped unfinished at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    # -- what the handlers share ----------------------------------------------------------

    async def _preview(self, turn: Turn, typed: str, count: int) -> Card:
        """The preview of a list of `count` non-empty lines; nothing is changed."""
        limit = self.mapper.max_rows
        if count > limit:  # before reading them: the list may be long
            raise Refusal(turn.screens.bulk_too_many(count, limit), "invalid")
        entries = read_lines(typed, self.core.options.default_region)
        try:
            run = await self.mapper.preview(
                entries, enterprise_id=turn.enterprise_id, tenant_id=self._tenant(turn),
                team_id=turn.conversation.team_id, channel_id=turn.channel_id,
                by=turn.conversation.user, limit=turn.limit,
            )  # fmt: skip
        except TooManyRows:
            raise Refusal(turn.screens.bulk_too_many(len(entries), limit), "invalid") from None
        here = await turn.channel_label(turn.channel_id)
        return turn.screens.bulk_preview(run, here, await self._labels(turn, run))

    async def _state(self, turn: Turn, run: BulkRun | None) -> Card:
        """The card of a run as it is now."""
        if run is None:
            return turn.screens.bulk_unknown_run()
        labels = await self._labels(turn, run)
        match run.state:
            case RunState.PREVIEWED:
                here = await turn.channel_label(turn.channel_id)
                return turn.screens.bulk_preview(run, here, labels)
            case RunState.APPLYING if not stopped(run, datetime.now(UTC)):
                return turn.screens.bulk_progress(run, labels)
            case RunState.APPLYING | RunState.STOPPED:  # its process stopped or was killed
                return turn.screens.bulk_result(run, labels, interrupted=True)
            case RunState.DONE:
                return turn.screens.bulk_result(run, labels)
            case _:
                assert_never(run.state)

    async def _labels(self, turn: Turn, run: BulkRun) -> dict[str, str]:
        """The names of the channels the run's numbers are in now (moves come from there)."""
        moving = [row for row in run.rows if row.kind is RowKind.MOVE]
        channels = {row.current_channel for row in moving if row.current_channel}
        return {channel: await turn.channel_label(channel) for channel in sorted(channels)}

    @staticmethod
    def _tenant(turn: Turn) -> str:
        tenant = turn.conversation.tenant_id
        assert tenant is not None  # a turn is only made for an activity with a tenant
        return tenant

    async def _apply(
        self, turn: Turn, run: BulkRun, labels: dict[str, str], card: _CardInPlace
    ) -> None:
        """Apply a claimed run, the card updated as rows finish and at the end."""
        latest = run

        async def progress(now: BulkRun) -> None:
            nonlocal latest
            latest = now
            if now.state is RunState.DONE:
                await card.show(turn.screens.bulk_result(now, labels))
            else:
                await card.show(turn.screens.bulk_progress(now, labels))

        try:
            done = await self.mapper.apply(run, progress, by=turn.conversation.user)
        except asyncio.CancelledError:  # the bot is shutting down (aclose)
            await self._say_stopped(turn, latest, labels, card)
            raise
        except Exception as exc:  # the rows applied stand: the card says the rest is unknown
            # Where it stopped, without the error's text: it may quote a number.
            where = "".join(traceback.format_tb(exc.__traceback__))
            log.error("bulk run stopped (%s) at:\n%s", type(exc).__name__, where)
            await card.show(turn.screens.bulk_result(latest, labels, interrupted=True))
            return
        await card.show(turn.screens.bulk_result(done, labels))

    async def _say_stopped(
        self, turn: Turn, latest: BulkRun, labels: dict[str, str], card: _CardInPlace
    ) -> None:
        """Put the stopped card in place of "Applying…", for a short while at most: the process
        is ending. Its own task, so that a second cancel of the shutdown does not cut it."""

        async def say() -> None:
            run = latest
            try:  # what the engine stored when it stopped: later than the last report
                stored = await self.mapper.run(latest.run_id, tenant_id=latest.tenant_id)
            except Exception as exc:
                log.warning("stopped bulk run not read (%s)", type(exc).__name__)
            else:
                if stored is not None and len(stored.results) >= len(latest.results):
                    run = stored
            # A run that finished before the stop (its last report cut short) says Done.
            stopped_early = run.state is not RunState.DONE
            await card.show(turn.screens.bulk_result(run, labels, interrupted=stopped_early))

        saying = asyncio.create_task(say())
        self._stopping.add(saying)
        saying.add_done_callback(self._stopping.discard)
        _, late = await asyncio.wait({saying}, timeout=STOP_CARD_SECONDS)
        if late:
            saying.cancel()
            log.warning("stopped bulk run's card not updated in %.0f s", STOP_CARD_SECONDS)


class _CardInPlace:
    """The clicked card, replaced as a run goes on; each card sent once, never raising (the
    work goes on whatever becomes of the card), none before `not_before` (time.monotonic)."""

    def __init__(self, turn: Turn, *, not_before: float) -> None:
        self.updater = turn.updater
        self.not_before = not_before
        self.shown: Card | None = None

    async def show(self, card: Card) -> None:
        if self.updater is None or card == self.shown:
            return
        # Rows go on meanwhile: the engine reports again when this returns.
        await asyncio.sleep(max(0.0, self.not_before - time.monotonic()))
        try:
            await self.updater.update(card)
        except Exception as exc:
            log.warning("bulk card not updated (%s)", type(exc).__name__)
            return
        self.shown = card
