"""The header of a live session: title, phase n of N, the timer, who holds which role."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from model.snapshot import Snapshot
from tui.format import TITLE_WIDTH, clock_text, line, name, plain
from tui.i18n import labelled, language, t
from tui.symbols import current as symbols

BAR_WIDTH = 20


def timer_level(remaining_ms: int, planned_ms: int) -> str:
    """ok, amber (last fifth or last two minutes), red (time is up)."""
    if remaining_ms <= 0:
        return "red"
    if remaining_ms <= max(planned_ms // 5, 0) or remaining_ms <= 120_000:
        return "amber"
    return "ok"


_STYLES = {"ok": "bold green", "amber": "bold #e0a000", "red": "bold red"}


def timer_text(snap: Snapshot, now_ms: int, width: int = BAR_WIDTH) -> tuple[Text, str]:
    """The bar and ``mm:ss`` of the current phase, with its level."""
    phase = snap.current_phase
    state = snap.control.phase
    if phase is None:
        return Text(""), "ok"
    planned = (phase.minutes + state.extra_minutes) * 60_000
    remaining = state.remaining_ms(phase.minutes, now_ms)
    level = timer_level(remaining, planned)
    used = 1.0 if planned <= 0 else min(1.0, max(0.0, 1 - remaining / planned))
    filled = round(used * width)
    style = _STYLES[level]
    text = Text()
    text.append("█" * filled, style=style)
    text.append("░" * (width - filled), style="dim")
    text.append(f" {clock_text(remaining)}", style=style)
    if state.status == "paused":
        text.append(f" {symbols().paused} {t('timer.paused')}", style="bold")
    elif state.status == "waiting":
        text.append(f" {t('timer.waiting')}", style="dim")
    elif state.status == "ended":
        text = Text(t("timer.ended"), style="bold")
    if state.extra_minutes:
        text.append(f" (+{state.extra_minutes} min)", style="dim")
    return text, level


def floor_line(snap: Snapshot) -> str:
    """Who has the floor, or where the round stands ("" when nobody has it); plain text."""
    floor = snap.control.floor
    if floor.in_round:
        status = t("round.status", n=floor.turn + 1, total=len(floor.order),
                   name=name(snap, floor.speaker))
        following = floor.next_in_round()
        return status + " · " + (t("round.then", name=name(snap, following)) if following
                                 else t("round.last"))
    if floor.round_done:
        return t("round.done")
    return t("floor.speaker", name=name(snap, floor.speaker)) if floor.speaker else ""


class PhaseHeader(Static):
    """Renders a snapshot's title, phase and timer; the screen ticks it every second."""

    DEFAULT_CSS = "PhaseHeader { height: auto; }"

    def show(self, snap: Snapshot, now_ms: int) -> str:
        """Render and return the timer level (the screen rings the bell on red)."""
        lang = language()
        phase = snap.current_phase
        state = snap.control.phase
        # Title, phase titles and names all come from the document: plain text, one line.
        line1 = plain(snap.info.title, TITLE_WIDTH, style="bold")
        if phase is not None:
            line1.append("  ·  ")
            line1.append(t("header.phase", n=state.index + 1, total=len(snap.phases)),
                         style="dim")
            line1.append(f" {line(phase.title.get(lang), TITLE_WIDTH)}", style="bold cyan")
        bar, level = timer_text(snap, now_ms)
        line2 = Text.assemble(bar)
        roles = snap.control.roles
        people = [labelled(t("role.facilitator"), name(snap, roles.facilitator))]
        if roles.client:
            people.append(labelled(t("role.client"), name(snap, roles.client)))
        if roles.scribe:
            people.append(labelled(t("role.scribe"), name(snap, roles.scribe)))
        line2.append("   " + " · ".join(people), style="italic")
        lines = [line1, line2]
        floor = floor_line(snap)
        if floor:  # for everyone: the speaker, or the round's progress
            marks = symbols()
            mark = marks.done if snap.control.floor.round_done else marks.floor
            lines.append(Text(f"{mark} {floor}", style="bold magenta"))
        self.update(Text("\n").join(lines))
        return level
