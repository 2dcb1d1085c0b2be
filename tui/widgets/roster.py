"""Who is in the room: online or not, roles, raised hands in order, who is done."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.format import NAME_WIDTH, line
from tui.i18n import t
from tui.room import Member, count_done, hand_order
from tui.symbols import current as symbols

_BADGE = {"facilitator": "F", "client": "C", "scribe": "S"}


def roster_text(members: list[Member]) -> Text:
    marks = symbols()
    order = {m.id: n for n, m in enumerate(hand_order(members), start=1)}
    text = Text()
    text.append(t("roster.title"), style="bold underline")
    if any(m.me and "facilitator" in m.roles for m in members):
        # Who is done, at a glance, for the one who moves the phases on.
        done, total = count_done(members)
        if total:
            text.append("  " + t("participation.done", done=done, total=total),
                        style="bold green" if done == total else "dim")
    text.append("\n")
    for m in members:
        text.append("● " if m.online else "○ ", style="green" if m.online else "dim")
        name_style = "bold reverse magenta" if m.speaker else ("bold" if m.me else "")
        text.append(line(m.name, NAME_WIDTH), style=name_style)  # typed on their laptop
        if m.speaker:
            text.append(f" {marks.floor}", style="bold magenta")
        for role in m.roles:
            text.append(f" {_BADGE[role]}", style="reverse")
        if m.id in order:
            text.append(f" {marks.hand}{order[m.id]}", style="bold yellow")
        if m.done:
            text.append(f" {marks.done}", style="bold green")
        if m.typing:
            text.append(" …", style="dim")
        text.append("\n")
    text.append("\n" + t("roster.legend", hand=marks.hand, done=marks.done, floor=marks.floor),
                style="dim")
    return text


class Roster(Static):
    DEFAULT_CSS = """
    Roster { width: 26; height: 1fr; padding: 0 1; border-left: solid $primary-darken-2; }
    """

    def show(self, members: list[Member]) -> None:
        text = roster_text(members)
        if text.plain != getattr(self, "_shown", None) or text != getattr(self, "_text", None):
            self._shown, self._text = text.plain, text
            self.update(text)
