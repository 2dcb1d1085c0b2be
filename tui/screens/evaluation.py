"""The evaluation of a session: my rating (1–5) and one line of feedback; after
the end, the group's aggregate."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from model.records import Evaluation
from model.schema import FEEDBACK_MAX, RATINGS
from tui.format import evaluation_text, line
from tui.i18n import t
from tui.messages import SessionChanged
from tui.screens.base import RoomForm


def evaluation_spread(evaluation: Evaluation) -> str:
    """How many gave each rating, 5 down to 1, on one line: '5: 1 · 4: 2 · …'."""
    return " · ".join(f"{r}: {evaluation.distribution[r - 1]}" for r in reversed(RATINGS))


class Evaluate(RoomForm):
    """My rating (1–5) and one line of feedback; after the end, the group's aggregate."""

    BINDINGS = [Binding("escape", "dismiss(None)", "key.cancel")]

    def compose(self) -> ComposeResult:
        rating, feedback = self.room.session.my_evaluation
        with Vertical(classes="dialog wide", id="evaluation"):
            yield Label(t("evaluation.title"), classes="question")
            yield Static(t("evaluation.question"))
            with RadioSet(id="rating"):
                for value in RATINGS:
                    yield RadioButton(str(value), value=value == rating, id=f"r{value}")
            yield Input(value=line(feedback, FEEDBACK_MAX), placeholder=t("evaluation.feedback"),
                        id="feedback", max_length=FEEDBACK_MAX)
            yield Static(t("evaluation.private"), classes="dim")
            yield Static(id="aggregate")
            with Horizontal(classes="buttons"):
                yield Button(t("button.save"), variant="primary", id="save")
                if rating is not None or feedback:
                    yield Button(t("evaluation.withdraw"), id="withdraw")
                yield Button(t("button.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()
        self.show()

    def show(self) -> None:
        snap = self.room.snapshot
        aggregate = self.query_one("#aggregate", Static)
        if snap.control.phase.status != "ended" or not snap.evaluation.count:
            aggregate.display = False
            return
        aggregate.display = True
        aggregate.update(Text.assemble(
            (t("evaluation.group", summary=evaluation_text(snap.evaluation)), "bold"),
            ("   " + evaluation_spread(snap.evaluation), "dim")))

    def on_session_changed(self, message: SessionChanged) -> None:
        self.show()

    def _save(self) -> None:
        index = self.query_one(RadioSet).pressed_index
        rating = RATINGS[index] if index >= 0 else None
        feedback = self.query_one("#feedback", Input).value
        if rating is None and not feedback.strip():
            self.notify(t("evaluation.need_rating"), severity="warning")
            return
        error = self.room.act(self.room.session.evaluate, rating, feedback)
        if error:
            self.notify(error, severity="warning")
            return
        self.notify(t("evaluation.thanks"))
        self.dismiss(True)

    def _other(self, button: str) -> bool:
        if button != "withdraw":
            return False
        error = self.room.act(self.room.session.evaluate, None, "")
        if error:
            self.notify(error, severity="warning")
        else:
            self.dismiss(True)
        return True
