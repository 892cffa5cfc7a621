"""The cards of bulk mapping in a channel: the form, the preview of a list, its progress and
its result. A list holds up to hundreds of numbers with names of any characters: every card
shows the counts of all of them and as many rows as fit, and says how many it does not show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from bot.actions import CardVerb
from bot.bulk import BulkRow, BulkRun, RowKind, RowOutcome, RowResult
from cards.base import TYPED_LIMIT, ScreenBase, number_text
from cards.elements import CARD_SIZE_LIMIT, Card, Element, card_size, facts, heading, text
from cards.markdown import plain

# Characters of the list's text box. A line is a number and an optional name: this is room for
# 500 lines with short names, and far under what a card action may carry.
BULK_INPUT_LIMIT = 24_000
# Characters of a name or a channel on a row: rows are many, and an emoji is 12 bytes as sent.
BULK_NAME_SHOWN = 40
BULK_DETAIL_SHOWN = 80
# Bytes of a card kept free for what the brand adds after the rows are measured.
BRAND_MARGIN = 1024
# A list typed back into the form only when it is this small (bytes as sent).
ECHO_LIMIT = 12 * 1024

# The preview's groups, what needs a decision or cannot be done first.
KIND_ORDER = (
    RowKind.INVALID, RowKind.FOREIGN, RowKind.MOVE, RowKind.DUPLICATE, RowKind.NEW, RowKind.HERE,
)  # fmt: skip
KIND_TITLES: dict[RowKind, str] = {
    RowKind.INVALID: "Cannot be used",
    RowKind.FOREIGN: "Another organization's",
    RowKind.MOVE: "In another channel",
    RowKind.DUPLICATE: "Listed twice",
    RowKind.NEW: "New",
    RowKind.HERE: "Already here",
}
# The result's groups: failures first, then what was not done, then what was.
OUTCOME_ORDER = (
    RowOutcome.FAILED, RowOutcome.UNKNOWN, RowOutcome.REFUSED, RowOutcome.UNPAID,
    RowOutcome.SKIPPED, RowOutcome.MAPPED, RowOutcome.MOVED, RowOutcome.ALREADY,
)  # fmt: skip
OUTCOME_TITLES: dict[RowOutcome, str] = {
    RowOutcome.FAILED: "Failed, not changed",
    RowOutcome.UNKNOWN: "Unknown: may or may not be mapped",
    RowOutcome.REFUSED: "Refused, not changed",
    RowOutcome.UNPAID: "Not changed: the subscription is not active",
    RowOutcome.SKIPPED: "Skipped",
    RowOutcome.MAPPED: "Mapped here",
    RowOutcome.MOVED: "Moved here",
    RowOutcome.ALREADY: "Already here",
}
PROBLEMS = frozenset({RowOutcome.FAILED, RowOutcome.UNKNOWN, RowOutcome.REFUSED, RowOutcome.UNPAID})


def worked_rows(run: BulkRun) -> list[BulkRow]:
    """The rows applying the run changes: the new numbers, and those of other channels when
    the person chose to move them."""
    worked = {RowKind.NEW, RowKind.MOVE} if run.move else {RowKind.NEW}
    return [row for row in run.rows if row.kind in worked]


def done_of(run: BulkRun) -> int:
    """How many of `worked_rows(run)` have an outcome."""
    worked = {RowKind.NEW, RowKind.MOVE} if run.move else {RowKind.NEW}
    return sum(1 for result in run.results if result.row.kind in worked)


def counts_text(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@dataclass(frozen=True)
class _Group:
    title: str
    rows: list[str]  # each row's text, in the order shown


class BulkScreens(ScreenBase):
    """Bound to one conversation, as every screen: see `cards.screens.Screens`."""

    def bulk_form(self, max_rows: int, notice: str | None = None, value: str = "") -> Card:
        """The form for a list: a multi-line box and its Preview button."""
        from cards.screens import example_number  # cards.screens is made of these screens

        e164, national = example_number(self.region)
        body: list[Element] = [heading("Map many numbers")]
        if notice:
            body.append(text(notice, weight="Bolder"))
        body += [
            text(
                f"Paste up to {max_rows} numbers, one a line, each optionally followed by a "
                "name. You see what will happen to each before anything changes."
            ),
            {
                "type": "Input.Text", "id": "numbers", "label": "Numbers, one a line",
                "isMultiline": True, "isRequired": True, "maxLength": BULK_INPUT_LIMIT,
                "placeholder": f"{e164} Front desk\n{national} Sales",
                "errorMessage": "Paste at least one number",
                "value": value if card_size({"v": value}) <= ECHO_LIMIT else "",
            },
        ]  # fmt: skip
        return self.card(
            body,
            [
                self.act("Preview", CardVerb.BULK_PREVIEW, style="positive", inputs=True),
                self.act("This channel's numbers", CardVerb.STATUS),
            ],
        )

    def bulk_too_many(self, count: int, max_rows: int) -> Card:
        return self.card(
            [
                heading("Too many numbers at once", "attention"),
                text(
                    f"The list has {count} lines; at most {max_rows} numbers are mapped at "
                    "once. Nothing was changed. Split the list and send each part on its own."
                ),
            ],
            [
                self.act("Map many numbers", CardVerb.BULK_FORM),
                self.act("This channel's numbers", CardVerb.STATUS),
            ],
        )

    def bulk_unknown_run(self) -> Card:
        return self.card(
            [
                heading("This list is not known any more", "attention"),
                text(
                    "I have no record of this list, so this click changed nothing. Send the "
                    "list again for a new preview."
                ),
            ],
            [
                self.act("Map many numbers", CardVerb.BULK_FORM),
                self.act("This channel's numbers", CardVerb.STATUS),
            ],
        )

    # -- the preview ----------------------------------------------------------------------

    def bulk_preview(self, run: BulkRun, channel: str, labels: Mapping[str, str]) -> Card:
        """What applying the list will do to each number, and the buttons that apply it.
        `labels` names the channels the numbers are in now."""
        kinds = Counter(row.kind for row in run.rows)
        new, move = kinds[RowKind.NEW], kinds[RowKind.MOVE]
        body: list[Element] = [
            heading(f"Map {counts_text(len(run.rows), 'number', 'numbers')} to "
                    f"{plain(channel, BULK_NAME_SHOWN)}?"),
            text("Here is what would happen to each. Nothing has been changed yet."),
            facts([(KIND_TITLES[k], str(kinds[k])) for k in KIND_ORDER if kinds[k]]),
        ]  # fmt: skip
        if move:
            body.append(
                text(
                    f"{counts_text(move, 'number is', 'numbers are')} mapped to other channels "
                    "of your organization: they are moved here only if you choose to move them, "
                    "and those channels are told.",
                    subtle=True,
                )
            )
        actions: list[Element] = []
        if new:
            actions.append(
                self.act(f"Map {new} here", CardVerb.BULK_APPLY, style="positive",
                         mapping_id=run.run_id, target="new")
            )  # fmt: skip
        if move:
            title = f"Map {new} and move {move} here" if new else f"Move {move} here"
            actions.append(
                self.act(title, CardVerb.BULK_APPLY, mapping_id=run.run_id, target="move")
            )
        if not actions:
            body.append(text("There is nothing to map or move in this list.", weight="Bolder"))
        actions += [
            self.act("Map other numbers", CardVerb.BULK_FORM),
            self.act("This channel's numbers", CardVerb.STATUS),
        ]
        groups = [
            _Group(KIND_TITLES[k], [self._planned(r, labels) for r in run.rows if r.kind is k])
            for k in KIND_ORDER
        ]
        return self._with_rows(body, groups, actions)

    def _planned(self, row: BulkRow, labels: Mapping[str, str]) -> str:
        match row.kind:
            case RowKind.NEW:
                what = "will be mapped here"
            case RowKind.HERE:
                what = "already mapped here"
            case RowKind.MOVE:
                what = f"now in {self._channel(row.current_channel, labels)}"
            case RowKind.FOREIGN:
                what = "mapped by another organization: it cannot be mapped here"
            case RowKind.INVALID:
                what = plain(row.problem or row.entry.problem or "not a number", BULK_DETAIL_SHOWN)
            case RowKind.DUPLICATE:
                what = plain(row.problem or "listed on an earlier line", BULK_DETAIL_SHOWN)
            case _:
                assert_never(row.kind)
        return f"{self._who(row)}: {what}"

    # -- applying and the result ----------------------------------------------------------

    def bulk_progress(self, run: BulkRun, labels: Mapping[str, str]) -> Card:
        """A run under way: how far it is, and what went wrong so far."""
        total, done = len(worked_rows(run)), done_of(run)
        body: list[Element] = [
            heading(f"Applying… {min(done, total)} of {total}"),
            text(
                "This card changes as the numbers are mapped. Clicking again applies nothing twice."
            ),
        ]
        body += self._outcome_counts(run.results)
        problems = [r for r in run.results if r.outcome in PROBLEMS]
        groups = self._outcome_groups(problems, labels)
        return self._with_rows(
            body, groups,
            [self.act("Refresh", CardVerb.BULK_SHOW, style="positive", mapping_id=run.run_id)],
        )  # fmt: skip

    def bulk_result(
        self, run: BulkRun, labels: Mapping[str, str], *, interrupted: bool = False
    ) -> Card:
        """A run's outcome for each number, failures first. `interrupted`: the work stopped
        before the end, so the numbers without an outcome may or may not have changed."""
        outcomes = Counter(r.outcome for r in run.results)
        unknown = outcomes[RowOutcome.UNKNOWN]
        failed = sum(outcomes[o] for o in PROBLEMS)
        if interrupted:
            title, style = "Stopped before the end", "attention"
        elif failed:
            title, style = "Done, with problems", "warning"
        else:
            title, style = "Done", "good"
        body: list[Element] = [heading(title, style)]
        if interrupted:
            left = len(worked_rows(run)) - done_of(run)
            what = (
                f"{counts_text(left, 'number has', 'numbers have')} no outcome and may or may "
                "not have changed: check this channel's numbers."
                if left
                else "Every number has its outcome below."
            )
            body.append(
                text(
                    "Applying the list stopped before the end (the bot restarted, or something "
                    f"went wrong). {what}"
                )
            )
            if left or unknown:
                body.append(
                    text(
                        "To finish, send the list again or use Map more numbers: the numbers "
                        "already mapped show as already here, and only the others are mapped.",
                        weight="Bolder",
                    )
                )
        body += self._outcome_counts(run.results)
        if unknown:
            body.append(
                text(
                    f"For {counts_text(unknown, 'number', 'numbers')} {self.product}'s answer "
                    "was lost, so I cannot tell whether it changed: it may or may not have been "
                    "applied. Check this channel's numbers before trying again.",
                    weight="Bolder",
                )
            )
        groups = self._outcome_groups(run.results, labels)
        return self._with_rows(
            body, groups,
            [
                self.act(
                    "Show this channel's numbers now"
                    if unknown or interrupted
                    else "This channel's numbers",
                    CardVerb.STATUS, style="positive",
                ),
                self.act("Map more numbers", CardVerb.BULK_FORM),
            ],
        )  # fmt: skip

    def _outcome_counts(self, results: Sequence[RowResult]) -> list[Element]:
        outcomes = Counter(r.outcome for r in results)
        pairs = [(OUTCOME_TITLES[o], str(outcomes[o])) for o in OUTCOME_ORDER if outcomes[o]]
        return [facts(pairs)] if pairs else []

    def _outcome_groups(
        self, results: Sequence[RowResult], labels: Mapping[str, str]
    ) -> list[_Group]:
        return [
            _Group(
                OUTCOME_TITLES[outcome],
                [self._outcome(r, labels) for r in results if r.outcome is outcome],
            )
            for outcome in OUTCOME_ORDER
        ]

    def _outcome(self, result: RowResult, labels: Mapping[str, str]) -> str:
        row = result.row
        detail = plain(result.detail, BULK_DETAIL_SHOWN) if result.detail else ""
        if result.outcome is RowOutcome.MOVED and row.current_channel:
            detail = f"from {self._channel(row.current_channel, labels)}"
        return f"{self._who(row)}: {detail}" if detail else self._who(row)

    # -- rows -------------------------------------------------------------------------------

    def _who(self, row: BulkRow) -> str:
        entry = row.entry
        if entry.number is None:  # the line as typed, its name included
            return f"Line {entry.line}: **{plain(entry.typed, TYPED_LIMIT)}**"
        name = f", {plain(entry.name, BULK_NAME_SHOWN)}" if entry.name else ""
        return f"Line {entry.line}: {number_text(entry.number)}{name}"

    def _channel(self, channel_id: str | None, labels: Mapping[str, str]) -> str:
        if not channel_id:
            return "another channel"
        return f"**{plain(labels.get(channel_id, channel_id), BULK_NAME_SHOWN)}**"

    def _with_rows(self, body: list[Element], groups: list[_Group], actions: list[Element]) -> Card:
        """The card with as many of the groups' rows as fit under Teams' limit: the first rows
        of every group (taken in turns), each group saying how many of its rows are not
        shown."""
        groups = [g for g in groups if g.rows]
        notes = [text(f"…and {len(g.rows)} more not shown.", subtle=True) for g in groups]
        titles = [
            {**text(f"{g.title} ({len(g.rows)})", weight="Bolder"), "separator": True}
            for g in groups
        ]
        budget = (
            CARD_SIZE_LIMIT - BRAND_MARGIN - card_size(self.card(body + titles + notes, actions))
        )
        shown = [0] * len(groups)
        full = [False] * len(groups)
        for i in range(max((len(g.rows) for g in groups), default=0)):
            for g, group in enumerate(groups):
                if full[g] or i >= len(group.rows):
                    continue
                cost = card_size(text(group.rows[i])) + 1
                if cost > budget:
                    full[g] = True
                    continue
                budget -= cost
                shown[g] += 1
        rows: list[Element] = []
        for group, title, count in zip(groups, titles, shown, strict=True):
            rows.append(title)
            rows += [text(row) for row in group.rows[:count]]
            if count < len(group.rows):
                rows.append(text(f"…and {len(group.rows) - count} more not shown.", subtle=True))
        return self.card(body + rows, actions)
