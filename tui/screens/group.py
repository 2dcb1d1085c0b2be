"""The group's screens in a live session: the case, the follow-up, the evaluation,
the next meeting.

Each dialog holds the room and acts on it directly, so it can stay open on a
refusal (a bad date, a vote for a proposal just deleted) and repaint itself
when another laptop's change arrives (``SessionChanged`` reaches every screen
of the stack). ``allowed`` is what the live screen's ``check_action`` asks:
a key that does not fit the moment is hidden from the footer.

When the keys are offered:

- **Cases** (proposing, voting, choosing): in the opening of the session — the
  follow-up phases of a continued session and the first phase after them — or
  in any phase whose kinds list proposals, until a case is chosen; the
  facilitator keeps the key afterwards to change the choice.
- **Follow-up**: whenever the session holds actions (carried over or decided
  today), also after the end. It opens by itself on entering a follow-up phase
  for whoever owns carried actions, and the instruction line points at it.
- **Evaluation**: in the last phase and after the end.
- **Next meeting**: the facilitator, in the last phase and after the end.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, OptionList, RadioButton, RadioSet, Select, Static
from textual.widgets.option_list import Option

from model import rules
from model.control import MEETING_MAX_MINUTES, PLACE_MAX, NextMeeting, valid_date, valid_time
from model.records import Evaluation
from model.schema import ACTION_STATUSES, FEEDBACK_MAX, RATINGS
from model.snapshot import Item, Snapshot
from tui.i18n import language, t
from tui.messages import SessionChanged
from tui.room import Room
from tui.screens.base import RoomDialog, RoomForm

ACTIONS = ("cases", "follow_up", "evaluate", "next_meeting")
PROPOSAL_MAX = 120  # characters of a proposed case's title


# -- when each key is offered (the rules themselves are model.rules') --------------------------
def allowed(action: str, room: Room) -> bool:
    """Whether the live screen offers ``action`` (one of ``ACTIONS``) right now."""
    snap = room.snapshot
    match action:
        case "cases":
            return bool(rules.may_propose(snap, room.me))
        case "follow_up":
            return bool(snap.items_of("action"))
        case "evaluate":
            return bool(rules.may_evaluate(snap, room.me))
        case "next_meeting":
            return bool(rules.may_control(snap, room.me, "meeting")) and rules.closing(snap)
    return False


def owns_carried(room: Room) -> bool:
    """Whether this person owns one of the actions carried over (the follow-up opens)."""
    snap = room.snapshot
    return any(snap.owner_id(item) == room.me for item in snap.carried_actions())


# -- texts shared with the live and review screens ------------------------------------------
def _number(value: float) -> str:
    text = f"{value:.1f}"
    return text.replace(".", ",") if language() == "fr" else text


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).date().isoformat() if ms else ""


def case_line(snap: Snapshot) -> str:
    """'Case: <title> (<proposer>)' once a case is chosen, else ""."""
    item = snap.item(snap.control.case) if snap.control.case else None
    if item is None:
        return ""
    return t("case.line", title=" ".join(item.text.split()), client=snap.name_of(item.speaker))


def meeting_text(meeting: NextMeeting) -> str:
    """The date, time, length and place of a next meeting, on one line."""
    when = meeting.date
    if meeting.time:
        when += f" {meeting.time}"
        if meeting.minutes:
            when += f" ({meeting.minutes} min)"
    else:
        when += f" ({t('meeting.whole_day')})"
    return when + (f", {meeting.place}" if meeting.place else "")


def evaluation_text(evaluation: Evaluation) -> str:
    """'mean 4.5 / 5 (ratings: 2)', or "" with no rating."""
    if not evaluation.count:
        return ""
    return t("evaluation.summary", mean=_number(evaluation.mean), count=evaluation.count)


def evaluation_spread(evaluation: Evaluation) -> str:
    """How many gave each rating, 5 down to 1, on one line: '5: 1 · 4: 2 · …'."""
    return " · ".join(f"{r}: {evaluation.distribution[r - 1]}" for r in reversed(RATINGS))


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


def instruction(snap: Snapshot, text: str) -> str:
    """The live screen's instruction line with what the group decided: the case
    before the phase's text, a pointer to the follow-up in its phase, and after
    the end the next meeting and the evaluation."""
    if snap.control.phase.status == "ended":
        parts = [text]
        if snap.control.meeting is not None:
            parts.append(t("meeting.line", meeting=meeting_text(snap.control.meeting)))
        if snap.evaluation.count:
            parts.append(t("evaluation.line", summary=evaluation_text(snap.evaluation)))
        return " ".join(parts)
    phase = snap.current_phase
    if phase is not None and phase.follow_up and snap.items_of("action"):
        text = f"{t('followup.pointer')} {text}"
    case = case_line(snap)
    return f"{case} · {text}" if case else text


# -- choosing the case ------------------------------------------------------------------------
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
            line = Text("● " if row.proposal == mine else "  ", style="bold green")
            line.append(f"{row.votes:>2}  ", style="bold")
            line.append(" ".join(row.text.split()))
            line.append(f" — {snap.name_of(row.proposer)}", style="dim")
            if row.proposal == snap.control.case:
                line.append(f"  ★ {t('case.chosen')}", style="bold")
            options.append(Option(line, id=row.proposal))
        if not options:
            options.append(Option(Text(t("case.none"), style="dim"), disabled=True))
        tally.set_options(options)
        ids = [row.proposal for row in snap.tally]
        if ids:
            tally.highlighted = ids.index(current) if current in ids else 0
        self.query_one("#chosen", Static).update(case_line(snap))

    def on_session_changed(self, message: SessionChanged) -> None:
        self.show()

    def _act(self, intent: object, *args: object) -> bool:
        error = self.room.act(intent, *args)  # type: ignore[arg-type]
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


# -- the follow-up of actions -------------------------------------------------------------------
def follow_up_order(snap: Snapshot, me: str) -> tuple[list[Item], list[Item]]:
    """(carried actions, today's actions), each with mine first, in board order."""
    carried, today = [], []
    for item in snap.items_of("action"):
        (carried if item.origin is not None else today).append(item)

    def mine_first(items: list[Item]) -> list[Item]:
        return sorted(items, key=lambda it: snap.owner_id(it) != me)

    return mine_first(carried), mine_first(today)


def action_detail(snap: Snapshot, item: Item) -> Text:
    """Everything known about an action: owner, origin, earlier steps, today's updates."""
    text = Text(" ".join(item.text.split()) + "\n", style="bold")
    facts = [t("followup.owner", name=snap.owner_label(item) or "—")]
    if item.due:
        facts.append(t("followup.due", due=item.due))
    facts.append(t(f"status.{item.status or 'open'}"))
    text.append(" · ".join(facts) + "\n")
    if item.origin is not None:
        text.append(t("followup.origin", title=item.origin.title,
                      day=_day(item.origin.created)) + "\n", style="italic")
    for step in item.history:
        text.append("  " + t("followup.step", title=step.title, day=_day(step.created)),
                    style="dim")
        text.append(t(f"status.{step.status}"))
        for update in step.updates:
            if update.note:
                text.append(" — " + t("followup.said", name=update.by, note=update.note),
                            style="dim")
        text.append("\n")
    if item.updates:
        text.append(t("followup.today") + "\n", style="bold")
    for update in item.updates:
        text.append("  " + t("followup.who", name=snap.name_of(update.by)), style="cyan")
        text.append(t(f"status.{update.status}"))
        if update.note:
            text.append(" — " + t("followup.quote", note=update.note))
        text.append("\n")
    return text


class FollowUp(RoomDialog):
    """The actions, carried over first: their story, and a status update with a note."""

    def __init__(self, room: Room) -> None:
        super().__init__(room)
        self._status_for = ""  # the action whose status the form shows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall", id="follow-up"):
            yield Label(t("followup.title"), classes="question")
            yield OptionList(id="actions")
            with VerticalScroll(id="detail-box"):
                yield Static(id="detail")
            with Horizontal(classes="row", id="update-row"):
                yield Select([(t(f"status.{s}"), s) for s in ACTION_STATUSES], id="new-status",
                             allow_blank=False, value="open")
                yield Input(placeholder=t("followup.note"), id="note", max_length=FEEDBACK_MAX)
                yield Button(t("followup.update"), variant="primary", id="update")
            yield Static(id="may", classes="dim")

    def on_mount(self) -> None:
        self.show()
        self.query_one("#actions", OptionList).focus()

    def _option(self, snap: Snapshot, item: Item) -> Option:
        owner = snap.owner_id(item)
        line = Text("● " if owner == self.room.me else "  ", style="bold green")
        line.append(" ".join(item.text.split()))
        who = t("followup.you") if owner == self.room.me else (snap.owner_label(item) or "—")
        line.append(f" — {who} · ", style="dim")
        line.append(t(f"status.{item.status or 'open'}"), style="bold")
        if len(item.updates) > 1:
            line.append(f" ({t('followup.updates', count=len(item.updates))})", style="dim")
        return Option(line, id=item.id)

    def show(self) -> None:
        snap = self.room.snapshot
        actions = self.query_one("#actions", OptionList)
        current = actions.highlighted_option.id if actions.highlighted_option else None
        carried, today = follow_up_order(snap, self.room.me)
        options: list[Option] = []
        ids: list[str | None] = []
        for heading, items in ((t("followup.carried"), carried), (t("followup.decided"), today)):
            if not items:
                continue
            options.append(Option(Text(heading, style="bold underline"), disabled=True))
            ids.append(None)
            for item in items:
                options.append(self._option(snap, item))
                ids.append(item.id)
        if not options:
            options.append(Option(Text(t("followup.none"), style="dim"), disabled=True))
        actions.set_options(options)
        if current is not None and current in ids:
            actions.highlighted = ids.index(current)
        elif any(ids):
            actions.highlighted = next(i for i, found in enumerate(ids) if found)
        self._show_selected()

    def _selected(self) -> Item | None:
        option = self.query_one("#actions", OptionList).highlighted_option
        return self.room.snapshot.item(option.id) if option and option.id else None

    def _show_selected(self) -> None:
        snap = self.room.snapshot
        item = self._selected()
        detail = self.query_one("#detail", Static)
        may = self.query_one("#may", Static)
        allowed_here = item is not None and not self.room.read_only and \
            self.room.session.may_update(item)
        for selector in ("#new-status", "#note", "#update"):
            self.query_one(selector).disabled = not allowed_here
        if item is None:
            detail.update("")
            may.update("")
            return
        detail.update(action_detail(snap, item))
        if item.id != self._status_for:  # the form follows the action, not each repaint
            self._status_for = item.id
            self.query_one("#new-status", Select).value = item.status or "open"
        may.update(t("followup.help") if allowed_here else
                   t("followup.not_yours", owner=snap.owner_label(item) or "—"))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_selected()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if not self.query_one("#new-status").disabled:
            self.query_one("#new-status").focus()

    def on_session_changed(self, message: SessionChanged) -> None:
        self.show()

    def update(self) -> None:
        """Record the form's status and note for the highlighted action."""
        item = self._selected()
        if item is None:
            return
        status = str(self.query_one("#new-status", Select).value)
        note = self.query_one("#note", Input)
        error = self.room.act(self.room.session.update_action, item.id, status, note.value)
        if error:
            self.notify(error, severity="warning")
            return
        note.value = ""
        self.notify(t("followup.saved", status=t(f"status.{status}")))
        self.show()

    def on_input_submitted(self) -> None:
        self.update()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "update":
            self.update()


# -- evaluation --------------------------------------------------------------------------------
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
            yield Input(value=feedback, placeholder=t("evaluation.feedback"), id="feedback",
                        max_length=FEEDBACK_MAX)
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


# -- the next meeting --------------------------------------------------------------------------
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
                yield Input(value=meeting.date if meeting else "", placeholder=example_date(today),
                            id="date", max_length=10)
                yield Input(value=meeting.time if meeting else "", placeholder="18:30",
                            id="time", max_length=5)
                yield Input(value=str(meeting.minutes) if meeting and meeting.minutes else "",
                            placeholder=str(default_minutes(snap)), id="length", max_length=3)
            yield Label(t("meeting.place"))
            yield Input(value=meeting.place if meeting else "",
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
        error.update(problem)
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
