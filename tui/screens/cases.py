"""Choosing today's case: propose a situation, vote for one, and (the facilitator)
choose it.

The dialog holds the room and acts on it directly, so it can stay open on a
refusal (a vote for a proposal just deleted) and repaint itself when another
laptop's change arrives (``SessionChanged`` reaches every screen of the stack).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.format import TITLE_WIDTH, case_line, line, name
from tui.i18n import t
from tui.messages import SessionChanged
from tui.screens.base import RoomDialog
from tui.symbols import current as symbols

PROPOSAL_MAX = 120  # characters of a proposed case's title


class Tally(OptionList):
    """The proposals, most votes first; Enter or Space votes for the highlighted one.

    Typing a letter here starts a proposal instead: someone who opens the dialog
    to propose would otherwise vote with each space of their sentence.
    """

    BINDINGS = [Binding("space", "select", show=False)]

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character and not event.character.isspace():
            field = self.screen.query_one("#proposal", Input)
            field.focus()
            field.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()


class Cases(RoomDialog):
    """Propose a situation, vote for one, and (the facilitator) choose today's case."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="cases"):
            yield Label(t("case.title"), classes="question")
            yield Static(t("case.help"), classes="dim")
            yield Tally(id="tally")
            yield Static(id="chosen")
            yield Input(placeholder=t("case.placeholder"), id="proposal",
                        max_length=PROPOSAL_MAX, select_on_focus=False)
            with Horizontal(classes="buttons"):
                if "facilitator" in self.room.my_roles:
                    yield Button(t("case.choose"), variant="primary", id="choose")
                yield Button(t("button.close"), id="close")

    def on_mount(self) -> None:
        self.show()
        tally = self.query_one(Tally)
        (tally if tally.option_count and self.room.snapshot.tally else
         self.query_one("#proposal", Input)).focus()

    def show(self) -> None:
        """Fill the tally from the latest snapshot, keeping the highlighted proposal."""
        snap = self.room.snapshot
        tally = self.query_one(Tally)
        current = tally.highlighted_option.id if tally.highlighted_option else None
        mine = self.room.session.my_vote
        options = []
        for row in snap.tally:
            shown = Text("● " if row.proposal == mine else "  ", style="bold green")
            shown.append(f"{row.votes:>2}  ", style="bold")
            shown.append(line(" ".join(row.text.split()), TITLE_WIDTH))
            shown.append(f" — {name(snap, row.proposer)}", style="dim")
            if row.proposal == snap.control.case:
                shown.append(f"  {symbols().retained} {t('case.chosen')}", style="bold")
            options.append(Option(shown, id=row.proposal))
        if not options:
            options.append(Option(Text(t("case.none"), style="dim"), disabled=True))
        tally.set_options(options)
        ids = [row.proposal for row in snap.tally]
        if ids:
            tally.highlighted = ids.index(current) if current in ids else 0
        self.query_one("#chosen", Static).update(Text(case_line(snap)))

    def on_session_changed(self, message: SessionChanged) -> None:
        self.show()

    def _act(self, intent: Callable[..., object], *args: object) -> bool:
        error = self.room.act(intent, *args)
        if error:
            self.notify(error, severity="warning")
        self.show()
        return error is None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        proposal = event.option.id or ""
        if proposal:
            again = proposal == self.room.session.my_vote  # voting again withdraws the vote
            self._act(self.room.session.vote, "" if again else proposal)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = " ".join(event.value.split())
        if not text:
            return
        if self._act(self.room.session.add_item, "proposal", text):
            event.input.value = ""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "choose":
            highlighted = self.query_one(Tally).highlighted_option
            proposal = highlighted.id if highlighted else None
            if self._act(self.room.session.choose_case, proposal):
                self.notify(case_line(self.room.snapshot))
                self.dismiss(True)
        else:
            self.dismiss(None)
