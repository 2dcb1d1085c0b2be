"""The group's next meeting: the facilitator sets (or clears) its date, time,
length and place; the form stays open on a mistake and says why."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from model.control import MEETING_MAX_MINUTES, PLACE_MAX, valid_date, valid_time
from model.snapshot import Snapshot
from tui.format import line, meeting_text
from tui.i18n import t
from tui.screens.base import RoomForm


def default_minutes(snap: Snapshot) -> int:
    """The length the model gives a meeting set without one: this protocol with its follow-up."""
    return sum(p.minutes for p in snap.phases) + sum(
        p.minutes for p in snap.info.follow_up_phases)


def example_date(today: date | None) -> str:
    """A date to show as an example: four weeks on, the rhythm of many groups."""
    return ((today or date.today()) + timedelta(weeks=4)).isoformat()


def meeting_form_problem(day: str, at: str, place: str, length: str,
                         today: date | None = None) -> tuple[str, str]:
    """Why these form values cannot be the next meeting, for people, and the
    field to fix (("", "") when they are fine)."""
    example = example_date(today)
    if not day:
        return t("meeting.need_date", example=example), "date"
    if not valid_date(day):
        return t("meeting.bad_date", value=day, example=example), "date"
    if today is not None and date.fromisoformat(day) < today:
        return t("meeting.past", value=day), "date"
    if at and not valid_time(at):
        return t("meeting.bad_time", value=at), "time"
    if len(place) > PLACE_MAX:
        return t("meeting.bad_place", max=PLACE_MAX), "place"
    if length and not (length.isdigit() and int(length) <= MEETING_MAX_MINUTES):
        return t("meeting.bad_minutes", max=MEETING_MAX_MINUTES), "length"
    return "", ""


class NextMeetingDialog(RoomForm):
    """The facilitator sets (or clears) the group's next meeting; stays open on a mistake."""

    BINDINGS = [Binding("escape", "dismiss(None)", "key.cancel")]

    def compose(self) -> ComposeResult:
        snap = self.room.snapshot
        meeting = snap.control.meeting
        with Vertical(classes="dialog wide", id="meeting"):
            yield Label(t("meeting.title"), classes="question")
            with Grid(id="meeting-when"):
                yield Label(t("meeting.date"))
                yield Label(t("meeting.time"))
                yield Label(t("meeting.minutes"))
                today = datetime.fromtimestamp(self.room.clock()).date()
                # The meeting was set on the facilitator's laptop: one plain line each.
                yield Input(value=line(meeting.date, 10) if meeting else "",
                            placeholder=example_date(today),
                            id="date", max_length=10)
                yield Input(value=line(meeting.time, 5) if meeting else "", placeholder="18:30",
                            id="time", max_length=5)
                yield Input(value=str(meeting.minutes) if meeting and meeting.minutes else "",
                            placeholder=str(default_minutes(snap)), id="length", max_length=3)
            yield Label(t("meeting.place"))
            yield Input(value=line(meeting.place, PLACE_MAX) if meeting else "",
                        placeholder=t("meeting.place_placeholder"), id="place",
                        max_length=PLACE_MAX)
            yield Static(id="error")
            with Horizontal(classes="buttons"):
                yield Button(t("button.save"), variant="primary", id="save")
                if meeting is not None:
                    yield Button(t("meeting.clear"), variant="error", id="clear")
                yield Button(t("button.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#date", Input).focus()

    def _say(self, problem: str) -> None:
        error = self.query_one("#error", Static)
        error.update(Text(problem))  # it may quote what was typed
        error.set_class(bool(problem), "error")

    def _save(self) -> None:
        values = [self.query_one(f"#{name}", Input).value.strip()
                  for name in ("date", "time", "place", "length")]
        day, at, place, length = values
        today = datetime.fromtimestamp(self.room.clock()).date()
        problem, wrong = meeting_form_problem(day, at, place, length, today)
        if wrong:  # the cursor goes where the mistake is
            self.query_one(f"#{wrong}", Input).focus()
        if not problem:
            problem = self.room.act(self.room.session.set_next_meeting, day, at, place,
                                    int(length) if length else None) or ""
        self._say(problem)
        if not problem:
            meeting = self.room.snapshot.control.meeting
            self.notify(t("meeting.line", meeting=meeting_text(meeting)) if meeting else "")
            self.dismiss(True)

    def _other(self, button: str) -> bool:
        if button != "clear":
            return False
        problem = self.room.act(self.room.session.clear_next_meeting)
        self._say(problem or "")
        if not problem:
            self.dismiss(True)
        return True
