"""Starting a session: title, protocol, your name, and the label people looking for
sessions see (public: anyone on the network reads it)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from model import sessionfile
from model.continuation import group_of
from model.protocols import DEFAULT_PROTOCOL, ProtocolError, builtin_protocols, load_protocol
from model.session import Session
from sync.discovery import DEFAULT_LABEL, MAX_LABEL_BYTES
from tui import identity
from tui.format import line, plain
from tui.i18n import language, t
from tui.messages import HostRequested
from tui.platform import parse_user_path
from tui.screens.base import CercleScreen
from tui.widgets.footer import Footer


def default_label(name: str) -> str:
    """The label a session is announced with before anyone changes it: "Cercle · Anne"
    (the session does not exist yet: ``tui.meeting.default_label`` says the same of it)."""
    name = " ".join(name.split())
    return f"{DEFAULT_LABEL} · {name}" if name else DEFAULT_LABEL


class HostScreen(CercleScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "key.back_home")]

    def __init__(self, name: str = "", title: str = "",
                 continue_from: Path | None = None, protocol: str = "",
                 label: str = "") -> None:
        super().__init__()
        self.person = name
        self.session_title = title
        self.continue_from = continue_from
        self.protocol = protocol or DEFAULT_PROTOCOL  # a built-in key, or a file's path
        self.label = label  # from the command line; else it follows the name
        self._last_name = name

    def compose(self) -> ComposeResult:
        lang = language()
        protocols = [(f"{p.name.get(lang)} ({sum(ph.minutes for ph in p.phases_for(False))} "
                      "min)", key) for key, p in builtin_protocols().items()]
        with Vertical(id="form"):
            yield Static(t("host.heading"), classes="heading")
            if self.continue_from is not None:
                # A file's name is anyone's: plain text.
                yield Static(plain(t("host.continuing", file=self.continue_from.name)),
                             id="continuing")
            yield Label(t("host.title"))
            yield Input(value=line(self.session_title), placeholder=t("host.title_placeholder"),
                        id="title")
            yield Label(t("host.protocol"))
            builtin = self.protocol in builtin_protocols()
            yield Select(protocols, value=self.protocol if builtin else DEFAULT_PROTOCOL,
                         allow_blank=False, id="protocol")
            yield Input(value="" if builtin else line(self.protocol),
                        placeholder=t("host.protocol_file"), id="protocol-file")
            yield Static(id="protocol-info", classes="dim")
            yield Label(t("host.name"))
            yield Input(value=line(self.person), placeholder=t("host.name_placeholder"), id="name")
            yield Label(t("host.label"))
            yield Input(value=line(self.label or default_label(self.person), MAX_LABEL_BYTES),
                        max_length=MAX_LABEL_BYTES, id="label")
            yield Static(t("host.label_public"), classes="dim")
            with Horizontal(classes="buttons"):
                yield Button(t("host.start"), variant="primary", id="start")
                yield Button(t("button.cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()
        self._describe(self.protocol)
        if self.continue_from is not None:
            self._read_previous(self.continue_from)

    @work(thread=True, exclusive=True, group="previous")
    def _read_previous(self, path: Path) -> None:
        """The previous meeting's title, and the label its group was last announced with
        from this computer (a file takes a moment to read: after the first paint)."""
        try:
            snap = Session(sessionfile.load(path).doc).snapshot
        except sessionfile.SessionFileError:
            return  # said when the session is started from it
        self.app.call_from_thread(self._previous_read, snap.info.title,
                                  identity.kept_label(group_of(snap).id))

    def _previous_read(self, title: str, label: str) -> None:
        # A title is whoever created the session's text: plain, one line.
        self.query_one("#continuing", Static).update(
            plain(t("host.continuing", file=line(title, 60))))
        field = self.query_one("#label", Input)
        if label and not self.label and field.value in (default_label(self._last_name), ""):
            field.value = line(label, MAX_LABEL_BYTES)

    def _describe(self, key: str) -> None:
        proto = builtin_protocols().get(key)
        if proto is not None:
            lang = language()
            phases = " · ".join(f"{p.title.get(lang)} {p.minutes}′"
                                for p in proto.phases_for(False))
            self.query_one("#protocol-info", Static).update(plain(phases, 400))

    def on_select_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._describe(event.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        """The label follows the name, until the person writes a label of their own."""
        if event.input.id != "name":
            return
        label = self.query_one("#label", Input)
        if label.value in (default_label(self._last_name), ""):
            label.value = default_label(event.value)
        self._last_name = event.value

    def on_input_submitted(self) -> None:
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._start()
        else:
            self.app.pop_screen()

    def _protocol_source(self) -> str | Path | None:
        """The protocol chosen: a file typed, pasted or dropped in its field (quoted,
        escaped, a file:// URL, ~), else the built-in one selected; None, said, when the
        field names no file."""
        field = self.query_one("#protocol-file", Input)
        if not field.value.strip():
            return str(self.query_one("#protocol", Select).value)
        try:
            path = parse_user_path(field.value)
        except ValueError:
            path = None
        if path is None or not path.is_file():
            self.notify(t("host.no_protocol_file", path=str(path or field.value.strip())),
                        severity="error", timeout=10)
            field.focus()
            return None
        return path

    def _start(self) -> None:
        title = self.query_one("#title", Input).value.strip()
        name = self.query_one("#name", Input).value.strip()
        if not title and self.continue_from is None:  # a continued session has a default
            self.notify(t("host.need_title"), severity="warning")
            self.query_one("#title", Input).focus()
            return
        if not name:
            self.notify(t("host.need_name"), severity="warning")
            self.query_one("#name", Input).focus()
            return
        source = self._protocol_source()
        if source is None:
            return
        try:
            protocol = load_protocol(source)
        except ProtocolError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        label = self.query_one("#label", Input).value.strip() or default_label(name)
        self.post_message(HostRequested(title=title, protocol=protocol, name=name, label=label,
                                        continue_from=self.continue_from))
