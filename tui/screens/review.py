"""Reading a session afterwards: phase by phase, the summary, and exports."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from model.records import Evaluation
from model.schema import RATINGS
from model.snapshot import Item, Snapshot
from tui.format import (
    NAME_WIDTH,
    TEXT_MAX,
    TITLE_WIDTH,
    case_line,
    clock_text,
    evaluation_text,
    item_state,
    kind_text,
    line,
    meeting_text,
    paragraph,
    plain,
    status_text,
)
from tui.i18n import language, t
from tui.messages import ExportRequested, HostFormRequested, ResumeRequested
from tui.room import Room
from tui.screens.base import CercleScreen
from tui.widgets.footer import Footer

# Everything on these pages was written in the session, on some laptop: each value is
# one plain line (``Text.append`` of a str never reads markup), cut to a sensible width.


def _items(snap: Snapshot, items: tuple[Item, ...]) -> Text:
    text = Text()
    if not items:
        text.append(t("review.nothing") + "\n", style="dim")
    for item in items:
        text.append(f"• [{kind_text(item.kind)}] ", style="cyan")
        text.append(line(item.text, TEXT_MAX))
        author = line(snap.author_name(item), NAME_WIDTH) or t("author.anonymous")
        text.append(f" — {author}", style="dim")
        state = item_state(item, snap)
        if state:
            text.append(f"  {state}", style="bold")
        text.append("\n")
    return text


def _fit(title: str, width: int) -> str:
    """``title`` on one line of exactly ``width`` cells (cut, or padded)."""
    shown = line(title, width)
    return shown + " " * (width - cell_len(shown))


def timeline(snap: Snapshot, width: int = 60) -> Text:
    """Planned against actual minutes per phase, as bars fitting in ``width`` columns."""
    lang = language()
    state = snap.control.phase
    rows = [(p.title.get(lang), p.minutes * 60_000, state.actual_for(i))
            for i, p in enumerate(snap.phases)]
    longest = max([max(planned, actual) for _, planned, actual in rows] + [1])
    label = max(10, min(24, width // 3))
    bars = max(8, width - label - 8)
    text = Text(t("review.timeline") + "\n", style="bold")
    for title, planned, actual in rows:
        text.append(_fit(title, label - 1) + " ")
        text.append("▒" * max(1, round(planned / longest * bars)), style="blue")
        text.append(f" {clock_text(planned)}\n", style="dim")
        text.append(" " * label)
        bar = round(actual / longest * bars)
        text.append("█" * bar, style="red" if actual > planned else "green")
        text.append(f" {clock_text(actual)}\n")
    text.append(f"▒ {t('review.planned')}  █ {t('review.actual')}\n", style="dim")
    return text


def evaluation_bars(evaluation: Evaluation) -> Text:
    """One line per rating, 5 down to 1: a bar and the count."""
    text = Text()
    most = max(evaluation.distribution) or 1
    for rating in reversed(RATINGS):
        count = evaluation.distribution[rating - 1]
        text.append(f"{rating} ", style="bold")
        text.append("█" * round(count / most * 20), style="green")
        text.append(f" {count}\n", style="dim")
    return text


def group_summary(snap: Snapshot) -> Text:
    """The case chosen, the evaluation and the next meeting (each only when there is one)."""
    text = Text()
    case = case_line(snap)
    if case:
        text.append(t("case.heading") + "\n", style="bold underline")
        text.append(case + "\n\n")
    evaluation = snap.evaluation
    if evaluation.count or evaluation.feedback:
        text.append(t("evaluation.heading") + "\n", style="bold underline")
        if evaluation.count:
            text.append(evaluation_text(evaluation) + "\n")
            text.append_text(evaluation_bars(evaluation))
        for feedback in evaluation.feedback:
            text.append(f"• “{line(feedback)}”\n", style="italic")
        text.append("\n")
    if snap.control.meeting is not None:
        text.append(t("meeting.heading") + "\n", style="bold underline")
        text.append(meeting_text(snap.control.meeting) + "\n")
    return text


def action_history(snap: Snapshot) -> Text:
    """Each action of the group's chain of sessions: its status at the end of each
    meeting it lived in, with the notes its owner and others left."""
    text = Text(t("review.history") + "\n", style="bold")
    tracks = snap.action_tracks()
    if not tracks:
        text.append(t("review.no_actions") + "\n", style="dim")
    for track in tracks:
        text.append("\n• " + line(track.text, TEXT_MAX), style="bold")
        if track.owner or track.due:
            owner = "→ " + line(track.owner, NAME_WIDTH) if track.owner else ""
            text.append("  " + " · ".join(p for p in (owner, line(track.due, 24)) if p),
                        style="dim")
        text.append("\n")
        for step in track.steps:
            text.append(f"    {line(step.title, 30)}: ", style="cyan")
            text.append(status_text(step.status))
            for note in step.notes:
                text.append(f" — “{line(note)}”", style="italic")
            text.append("\n")
    return text


class ReviewScreen(CercleScreen):
    """Read-only: the board as each phase closed, the summary, exports."""

    BINDINGS = [
        Binding("ctrl+e", "export", "key.export"),
        Binding("f5", "host_again", "key.host_again"),
        Binding("f6", "next_meeting", "key.continue_group"),
        Binding("escape", "back", "key.back_home"),
    ]

    def __init__(self, room: Room) -> None:
        super().__init__()
        self.room = room

    def compose(self) -> ComposeResult:
        snap = self.room.snapshot
        lang = language()
        options = [Option(t("review.summary"), id="summary"),
                   Option(t("review.timeline"), id="timeline")]
        if snap.action_tracks():  # actions decided here or carried over from earlier meetings
            options.append(Option(t("review.history"), id="history"))
        options += [Option(plain(f"{i + 1}. {line(p.title.get(lang), TITLE_WIDTH)}"),
                           id=f"phase-{i}")
                    for i, p in enumerate(snap.phases)]
        protocol = snap.protocol.name.get(lang) if snap.protocol else ""
        yield Static(plain(snap.info.title, TITLE_WIDTH, style="bold")
                     + plain(f"  ·  {line(protocol, TITLE_WIDTH)}", style="dim"),
            id="review-title")
        with Horizontal():
            yield OptionList(*options, id="phases")
            with VerticalScroll(id="page"):
                yield Static(id="content")
        yield Footer()

    def on_mount(self) -> None:
        self.show("summary")
        self.query_one(OptionList).focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self.show(event.option.id)

    def show(self, page: str) -> None:
        snap = self.room.snapshot
        content = self.query_one("#content", Static)
        if page == "summary":
            text = Text()
            for title, kinds, keep in (
                (t("export.contract"), ("contract",), None),
                (t("export.retained"), ("advice", "hypothesis"), "retained"),
                (t("export.actions"), ("action",), None),
                (t("export.learnings"), ("learning",), None),
            ):
                items = tuple(i for i in snap.items_of(*kinds) if not keep or i.retained)
                text.append(title + "\n", style="bold underline")
                text.append_text(_items(snap, items))
                text.append("\n")
            text.append_text(group_summary(snap))
            content.update(text)
        elif page == "timeline":
            content.update(timeline(snap, max(30, self.query_one("#page").size.width - 2)))
        elif page == "history":
            content.update(action_history(snap))
        else:
            index = int(page.removeprefix("phase-"))
            board, rebuilt = self._board_at(index)
            phase = snap.phases[index]
            text = Text(line(phase.title.get(language()), TITLE_WIDTH) + "\n", style="bold")
            text.append(paragraph(phase.instruction.get(language())) + "\n\n",
                        style="italic dim")
            text.append(t("review.board_at_end" if rebuilt else "review.board_now") + "\n",
                        style="bold")
            text.append_text(_items(board, board.items))
            content.update(text)

    def _board_at(self, index: int) -> tuple[Snapshot, bool]:
        """The board as phase ``index`` closed, and whether it could be rebuilt; else the
        board as it is now (the model says when the binding cannot fork the file)."""
        board = self.room.session.board_at(index)
        return (board, True) if board is not None else (self.room.snapshot, False)

    def action_export(self) -> None:
        self.post_message(ExportRequested(self.room))

    def action_host_again(self) -> None:
        """Open this session on the network again (a facilitator back after a crash)."""
        if self.room.path is not None:
            self.post_message(ResumeRequested(self.room.path))

    def action_next_meeting(self) -> None:
        """Start the group's next meeting from this one (its first round: the follow-up of
        the open actions)."""
        if self.room.path is not None:
            self.post_message(HostFormRequested(continue_from=self.room.path))

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit()
