"""Small dialogs: confirm, edit an item, roles, extend the time, help, the F-keys."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from model.schema import ACTION_STATUSES
from model.snapshot import Item, Snapshot
from tui.format import NAME_WIDTH, kind_text, line, paragraph, plain, status_text
from tui.i18n import t
from tui.keys import fkey_number, fkey_of_digit
from tui.screens.base import CercleModal

FIELD_MAX = 10_000  # cells of a text in an edit field (it scrolls)


class Confirm(CercleModal):
    """Yes or no; dismisses with a bool."""

    BINDINGS = [
        Binding("escape", "dismiss(False)", "key.cancel"),
        Binding("left,right", "app.focus_next", show=False),
    ]

    def __init__(self, question: str, yes: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.yes = yes or t("button.yes")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question), classes="question")
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="warning", id="yes")
                yield Button(t("button.cancel"), id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ExtendTime(CercleModal):
    """How many minutes to add (or remove); dismisses with an int or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "key.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(t("extend.question"), classes="question")
            yield Input(value="5", id="minutes", type="integer")
            with Horizontal(classes="buttons"):
                for minutes in (1, 5, 10):
                    yield Button(f"+{minutes}", id=f"m{minutes}")
                yield Button("OK", variant="primary", id="ok")

    def on_mount(self) -> None:
        self.query_one("#minutes", Input).focus()

    def _done(self) -> None:
        value = self.query_one("#minutes", Input).value.strip()
        try:
            minutes = int(value)
        except ValueError:
            self.notify(t("extend.invalid"), severity="error")
            return
        if minutes == 0 or abs(minutes) > 240:
            self.notify(t("extend.invalid"), severity="error")
            return
        self.dismiss(minutes)

    def on_input_submitted(self) -> None:
        self._done()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._done()
        elif event.button.id:
            self.dismiss(int(event.button.id[1:]))


class EditItem(CercleModal):
    """Edit an item's text (and an action's owner, due date and status).

    Dismisses with a dict of what changed, ``{"delete": True}``, or None.
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "key.cancel")]

    def __init__(self, item: Item, snap: Snapshot, can_delete: bool) -> None:
        super().__init__()
        self.item = item
        self.snap = snap
        self.can_delete = can_delete
        # The fields as the form shows them: one plain line each (the text may come from
        # any laptop). Only what the person changes from these is written back.
        self.shown = {"text": line(item.text, FIELD_MAX), "due": line(item.due, 24),
                      "note": line(item.status_note, FIELD_MAX)}

    def compose(self) -> ComposeResult:
        item = self.item
        with Vertical(classes="dialog wide"):
            yield Label(plain(kind_text(item.kind)), classes="question")
            yield Input(value=self.shown["text"], id="text")
            if item.kind == "action":
                people = [(plain(p.name, NAME_WIDTH), p.id) for p in self.snap.participants]
                owner = item.owner if item.owner in {pid for _, pid in people} else Select.NULL
                status = item.status if item.status in ACTION_STATUSES else "open"
                yield Label(t("action.owner"))
                yield Select(people, value=owner, id="owner", prompt=t("action.owner"))
                yield Label(t("action.due"))
                yield Input(value=self.shown["due"], placeholder="2026-12-31", id="due")
                yield Label(t("action.status"))
                yield Select([(status_text(s), s) for s in ACTION_STATUSES],
                             value=status, id="status", allow_blank=False)
                yield Input(value=self.shown["note"], placeholder=t("action.note"), id="note")
            with Horizontal(classes="buttons"):
                yield Button(t("button.save"), variant="primary", id="save")
                if self.can_delete:
                    yield Button(t("button.delete"), variant="error", id="delete")
                yield Button(t("button.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    def _result(self) -> dict[str, object]:
        out: dict[str, object] = {}
        text = self.query_one("#text", Input).value.strip()
        if text and text != self.shown["text"].strip():
            out["text"] = text
        if self.item.kind == "action":
            owner = self.query_one("#owner", Select).value
            if owner is not Select.NULL and owner != self.item.owner:
                out["owner"] = owner
            due = self.query_one("#due", Input).value.strip()
            if due != self.shown["due"]:
                out["due"] = due
            status = self.query_one("#status", Select).value
            if status != (self.item.status or "open"):
                out["status"] = status
            note = self.query_one("#note", Input).value.strip()
            if note != self.shown["note"].strip():
                out["status_note"] = note
        return out

    def on_input_submitted(self) -> None:
        self.dismiss(self._result())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        match event.button.id:
            case "save":
                self.dismiss(self._result())
            case "delete":
                self.dismiss({"delete": True})
            case _:
                self.dismiss(None)


class Roles(CercleModal):
    """Give a role to a participant; dismisses with (role, participant id) or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "key.cancel")]

    def __init__(self, snap: Snapshot) -> None:
        super().__init__()
        self.snap = snap

    def compose(self) -> ComposeResult:
        people = [(plain(p.name, NAME_WIDTH), p.id) for p in self.snap.participants]
        with Vertical(classes="dialog"):
            yield Label(t("roles.title"), classes="question")
            yield Select([(t(f"role.{r}"), r) for r in ("client", "scribe", "facilitator")],
                         value="client", id="role", allow_blank=False)
            yield Select(people, id="who", prompt=t("roles.who"))
            with Horizontal(classes="buttons"):
                yield Button(t("button.assign"), variant="primary", id="assign")
                yield Button(t("roles.clear"), id="clear")
                yield Button(t("button.cancel"), id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        role = str(self.query_one("#role", Select).value)
        who = self.query_one("#who", Select).value
        if event.button.id == "assign" and who is not Select.NULL:
            self.dismiss((role, str(who)))
        elif event.button.id == "clear" and role != "facilitator":
            self.dismiss((role, ""))
        elif event.button.id == "cancel":
            self.dismiss(None)


class Help(CercleModal):
    """Every key of the screen underneath, with what it does."""

    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "key.close")]

    def __init__(self, rows: list[tuple[str, str]], intro: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.intro = intro

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            with VerticalScroll():
                if self.intro:  # the whole phase instruction, cut short in the live header
                    yield Static(Text(paragraph(self.intro)), classes="intro")
                yield Label(t("help.title"), classes="question")
                width = max((len(k) for k, _ in self.rows), default=4) + 2
                yield Static(Text("\n".join(f"{k:<{width}}{d}" for k, d in self.rows)))
            yield Static(t("help.footer"), classes="dim")


class FunctionKeys(CercleModal):
    """The F-keys of the screen underneath, numbered, for terminals that keep F-keys to
    themselves (Ctrl+F, then the number). Dismisses with the F-key chosen ("f5"), or
    None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "key.close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows  # (F-key, what it does), in the order of their numbers
        self.keys = {key for key, _ in rows}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="fkeys-dialog"):
            yield Label(t("fkeys.title"), classes="question")
            yield OptionList(*[Option(Text(f"{(fkey_number(key) or 0) % 10}  {description}"),
                                      id=key) for key, description in self.rows], id="fkeys")
            yield Static(t("fkeys.help"), classes="dim")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = 0 if self.rows else None
        choices.focus()

    def on_key(self, event: Key) -> None:
        key = fkey_of_digit(event.character or "")
        if key is not None:
            event.stop()
            if key in self.keys:
                self.dismiss(key)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
