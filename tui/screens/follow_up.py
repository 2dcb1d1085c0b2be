"""The follow-up of actions: the actions, carried over first, their story, and a
status update with a note.

The dialog acts on the room directly and repaints when another laptop's change
arrives, so two people updating one action see both updates.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from model.schema import ACTION_STATUSES, FEEDBACK_MAX
from model.snapshot import Item, Snapshot
from tui.format import (
    MISSING,
    NAME_WIDTH,
    TEXT_MAX,
    TITLE_WIDTH,
    day,
    line,
    name,
    status_text,
)
from tui.i18n import t
from tui.messages import SessionChanged
from tui.room import Room
from tui.screens.base import RoomDialog


def follow_up_order(snap: Snapshot, me: str) -> tuple[list[Item], list[Item]]:
    """(carried actions, today's actions), each with mine first, in board order."""
    carried: list[Item] = []
    today: list[Item] = []
    for item in snap.items_of("action"):
        (carried if item.origin is not None else today).append(item)

    def mine_first(items: list[Item]) -> list[Item]:
        return sorted(items, key=lambda it: snap.owner_id(it) != me)

    return mine_first(carried), mine_first(today)


def owner_text(snap: Snapshot, item: Item) -> str:
    return line(snap.owner_label(item), NAME_WIDTH) or MISSING


def action_detail(snap: Snapshot, item: Item) -> Text:
    """Everything known about an action: owner, origin, earlier steps, today's updates.

    Every piece was written on some laptop, in this session or an earlier one: each
    is one plain line (``Text.append`` never reads markup)."""
    text = Text(line(" ".join(item.text.split()), TEXT_MAX) + "\n", style="bold")
    facts = [t("followup.owner", name=owner_text(snap, item))]
    if item.due:
        facts.append(t("followup.due", due=line(item.due, 24)))
    facts.append(status_text(item.status))
    text.append(" · ".join(facts) + "\n")
    if item.origin is not None:
        text.append(t("followup.origin", title=line(item.origin.title, TITLE_WIDTH),
                      day=day(item.origin.created)) + "\n", style="italic")
    for step in item.history:
        text.append("  " + t("followup.step", title=line(step.title, TITLE_WIDTH),
                             day=day(step.created)), style="dim")
        text.append(status_text(step.status))
        for earlier in step.updates:
            if earlier.note:
                text.append(" — " + t("followup.said", name=line(earlier.by, NAME_WIDTH),
                                      note=line(earlier.note)), style="dim")
        text.append("\n")
    if item.updates:
        text.append(t("followup.today") + "\n", style="bold")
    for update in item.updates:
        text.append("  " + t("followup.who", name=name(snap, update.by)), style="cyan")
        text.append(status_text(update.status))
        if update.note:
            text.append(" — " + t("followup.quote", note=line(update.note)))
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
                yield Select([(status_text(s), s) for s in ACTION_STATUSES], id="new-status",
                             allow_blank=False, value="open")
                yield Input(placeholder=t("followup.note"), id="note", max_length=FEEDBACK_MAX)
                yield Button(t("followup.update"), variant="primary", id="update")
            yield Static(id="may", classes="dim")

    def on_mount(self) -> None:
        self.show()
        self.query_one("#actions", OptionList).focus()

    def _option(self, snap: Snapshot, item: Item) -> Option:
        owner = snap.owner_id(item)
        shown = Text("● " if owner == self.room.me else "  ", style="bold green")
        shown.append(line(" ".join(item.text.split()), TITLE_WIDTH))
        who = t("followup.you") if owner == self.room.me else owner_text(snap, item)
        shown.append(f" — {who} · ", style="dim")
        shown.append(status_text(item.status), style="bold")
        if len(item.updates) > 1:
            shown.append(f" ({t('followup.updates', count=len(item.updates))})", style="dim")
        return Option(shown, id=item.id)

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
            # A status another program wrote is none of ours: the form starts at "open".
            self.query_one("#new-status", Select).value = \
                item.status if item.status in ACTION_STATUSES else "open"
        may.update(Text(t("followup.help") if allowed_here else
                        t("followup.not_yours", owner=owner_text(snap, item))))

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
        self.notify(t("followup.saved", status=status_text(status)))
        self.show()

    def on_input_submitted(self) -> None:
        self.update()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "update":
            self.update()
