"""The facilitator's dialogs for the floor and for time: who speaks, the round,
the plan against the clock and who has not taken part yet.

Both read the shared document only: the floor they change reaches every
laptop through it, while the plan and participation view stays on the
facilitator's screen (and out of every export).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from model.participation import participation
from model.snapshot import PlanRow, Snapshot
from tui.format import NAME_WIDTH, TITLE_WIDTH, clock_text, line, plain
from tui.i18n import language, t
from tui.room import Member, hand_order
from tui.screens.base import CercleModal, RoomDialog
from tui.symbols import current as symbols
from tui.widgets.phase_header import floor_line

Cell = str | Text
Rows = list[tuple[str, tuple[Cell, ...]]]  # (row key, cells)


def floor_options(snap: Snapshot, members: Sequence[Member]) -> list[Option | None]:
    """The choices of the floor dialog: raised hands in order, everyone else,
    then taking the floor back and the round. ``None`` separates groups."""
    floor = snap.control.floor
    marks = symbols()
    queue = [m for m in hand_order(members) if m.id != floor.speaker]
    queued = {m.id for m in queue}
    options: list[Option | None] = [Option(Text(t("floor.hands"), style="bold"), disabled=True)]
    # Names are typed on each laptop: plain text (an Option reads a str as markup).
    options += [Option(plain(f"{marks.hand}{n} {line(m.name, NAME_WIDTH)}"), id=f"give:{m.id}")
                for n, m in enumerate(queue, 1)]
    if not queue:
        options.append(Option(t("floor.no_hands"), disabled=True))
    options.append(Option(Text(t("floor.others"), style="bold"), disabled=True))
    for m in members:
        if m.id == floor.speaker:
            options.append(Option(plain(f"{marks.floor} {line(m.name, NAME_WIDTH)}"),
                                  disabled=True))
        elif m.id not in queued:
            options.append(Option(plain(f"   {line(m.name, NAME_WIDTH)}"), id=f"give:{m.id}"))
    options.append(None)
    if floor.speaker:
        options.append(Option(t("floor.take_back"), id="back"))
    if floor.in_round:
        options.append(Option(t("round.next"), id="next"))
    if floor.order and floor.turn > 0:
        options.append(Option(t("round.previous"), id="previous"))
    options.append(Option(t("round.start"), id="round"))
    return options


class FloorDialog(CercleModal):
    """Give the floor, take it back, start or walk a round.

    Dismisses with ``"give:<participant id>"``, ``"back"``, ``"round"``,
    ``"next"``, ``"previous"``, or None.
    """

    BINDINGS = [Binding("escape,ctrl+g", "dismiss(None)", "key.close")]

    def __init__(self, snap: Snapshot, members: Sequence[Member]) -> None:
        super().__init__()
        self.snap = snap
        self.members = list(members)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="floor-dialog"):
            yield Label(t("floor.title"), classes="question")
            status = floor_line(self.snap) or t("floor.nobody")
            yield Static(Text(status), id="floor-status")
            yield OptionList(*floor_options(self.snap, self.members), id="floor-choices")
            yield Static(t("floor.help"), classes="dim")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        first = next((i for i in range(choices.option_count)
                      if not choices.get_option_at_index(i).disabled), None)
        choices.highlighted = first
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


def planned_text(minutes: int, added: int) -> str:
    """``20``, or ``20+5`` when minutes were added (``20-5`` when taken away)."""
    return f"{minutes}{added:+d}" if added else str(minutes)


def plan_rows(rows: Sequence[PlanRow]) -> Rows:
    """The plan table: phase, planned (+ added), actual, overtime; the current phase marked."""
    lang = language()
    out: Rows = []
    for row in rows:
        style = "bold" if row.current else ""
        mark = f"{symbols().current} " if row.current else "  "
        title = Text(mark + line(row.title.get(lang), TITLE_WIDTH), style=style)
        visited = row.actual_ms > 0 or row.current
        out.append((str(row.index), (
            title,
            planned_text(row.planned_minutes, row.extended_minutes),
            Text(clock_text(row.actual_ms) if visited else "—", style=style),
            Text(f"+{clock_text(row.overtime_ms)}", style="bold red") if row.overtime_ms else "",
        )))
    planned = sum(r.planned_minutes for r in rows)
    added = sum(r.extended_minutes for r in rows)
    over = sum(r.overtime_ms for r in rows)
    out.append(("total", (
        Text("  " + t("plan.total"), style="italic"),
        planned_text(planned, added),
        clock_text(sum(r.actual_ms for r in rows)),
        f"+{clock_text(over)}" if over else "",
    )))
    return out


def participation_rows(snap: Snapshot) -> Rows:
    return [(p.id, (plain(p.name, NAME_WIDTH, style="bold yellow" if p.silent else ""),
                    symbols().done if p.spoke else "—", str(p.written)))
            for p in participation(snap)]


def participation_summary(snap: Snapshot) -> str:
    """The phase, then who has not spoken and who has not written yet."""
    people = participation(snap)
    phase = snap.current_phase
    lines = [t("participation.phase",
               phase=line(phase.title.get(language()), TITLE_WIDTH) if phase else "")]
    silent = [line(p.name, NAME_WIDTH) for p in people if not p.spoke]
    unwritten = [line(p.name, NAME_WIDTH) for p in people if not p.written]
    lines.append(t("participation.not_spoken", names=", ".join(silent)) if silent
                 else t("participation.all_spoke"))
    lines.append(t("participation.not_written", names=", ".join(unwritten)) if unwritten
                 else t("participation.all_wrote"))
    return "\n".join(lines)


def fill(table: DataTable[Cell], rows: Rows) -> None:
    """Show ``rows``: cells changed in place when the rows are the same, else anew."""
    keys = [key for key, _ in rows]
    if [k.value for k in table.rows] != keys:
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        return
    columns = list(table.columns)
    for key, cells in rows:
        for column, cell in zip(columns, cells, strict=True):
            if table.get_cell(key, column) != cell:
                table.update_cell(key, column, cell)


class PlanDialog(RoomDialog):
    """The plan (planned against actual time) and who has taken part in this
    phase, for the facilitator only; kept up to date every second."""

    BINDINGS = [Binding("escape,f2", "dismiss(None)", "key.close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="plan-dialog"):
            yield Label(t("plan.title"), classes="question")
            with TabbedContent(id="plan-tabs"):
                with TabPane(t("plan.tab"), id="plan"):
                    yield DataTable[Cell](id="plan-table", cursor_type="none")
                    yield Static(t("plan.note"), classes="dim")
                with TabPane(t("participation.tab"), id="participation"):
                    yield Static(id="participation-summary")
                    yield DataTable[Cell](id="participation-table", cursor_type="none")
                    yield Static(t("participation.note"), classes="dim")

    def on_mount(self) -> None:
        self.query_one("#plan-table", DataTable).add_columns(
            t("plan.phase"), t("plan.planned"), t("plan.actual"), t("plan.over"))
        self.query_one("#participation-table", DataTable).add_columns(
            t("participation.name"), t("participation.spoke"), t("participation.written"))
        self.show()
        self.set_interval(1.0, self.show)

    def show(self) -> None:
        snap = self.room.snapshot
        fill(self.query_one("#plan-table", DataTable), plan_rows(snap.plan(self.room.now_ms())))
        fill(self.query_one("#participation-table", DataTable), participation_rows(snap))
        summary = participation_summary(snap)
        if summary != getattr(self, "_summary", None):  # an update costs a layout
            self._summary = summary
            self.query_one("#participation-summary", Static).update(Text(summary))
