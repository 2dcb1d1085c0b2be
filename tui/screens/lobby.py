"""The join code in large characters, the session's words (people joining compare them
with the words beside the session in their list), the join link, and who has joined so
far."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.widgets import Button, Digits, Label, Static

from sync.codes import generate_code
from sync.fingerprint import fingerprint
from tui.format import NAME_WIDTH, TITLE_WIDTH, line, plain
from tui.i18n import labelled, t
from tui.messages import LobbyClosed, PeersUpdated, SessionChanged
from tui.room import Room
from tui.screens.base import CercleScreen
from tui.widgets.footer import Footer


class LobbyScreen(CercleScreen):
    """Shown to the host before the session starts, and on demand (Ctrl+K) later."""

    BINDINGS = [
        Binding("f2", "rotate", "key.rotate"),
        Binding("escape", "close", "key.close"),
    ]

    def __init__(self, room: Room, *, return_to_live: bool = True,
                 addresses: list[str] | None = None) -> None:
        super().__init__()
        self.room = room
        self.return_to_live = return_to_live
        self.addresses = addresses or []

    def compose(self) -> ComposeResult:
        with Vertical(id="lobby"):
            yield Label(plain(self.room.snapshot.info.title, TITLE_WIDTH), id="lobby-title")
            yield Label(t("lobby.code"), classes="dim")
            with Center():
                yield Digits(self._code(), id="code")
            yield Static(id="words")
            yield Static(id="link")
            yield Static(id="joined")
            with Horizontal(classes="buttons"):
                if self.return_to_live:
                    yield Button(t("lobby.begin"), variant="primary", id="begin")
                else:
                    yield Button(t("button.close"), variant="primary", id="begin")
                if self._is_host():
                    yield Button(t("lobby.rotate"), id="rotate")
        yield Footer()

    def _is_host(self) -> bool:
        return self.room.node is not None and "facilitator" in self.room.my_roles

    def _code(self) -> str:
        # A facilitator on another laptop may have changed it (rotation): one short line.
        return line(self.room.node.code, 24) if self.room.node else "------"

    def on_mount(self) -> None:
        self.render_state()
        self.query_one("#begin", Button).focus()

    def render_state(self) -> None:
        node = self.room.node
        if node is not None:
            addresses = self.addresses or ["127.0.0.1"]
            links = "\n".join(node.join_link(a) for a in addresses)
            self.query_one("#link", Static).update(Text(
                f"{t('lobby.link')}\n{links}\n"
                + labelled(t("lobby.address"), ", ".join(f"{a}:{node.port}" for a in addresses))))
            self.query_one("#code", Digits).update(self._code())
            self.query_one("#words", Static).update(self._words(node.tag or ""))
        # Names are whatever people typed on their own laptops: plain text, one line each.
        names = [line(m.name, NAME_WIDTH) + ("" if m.online else f" ({t('roster.offline')})")
                 for m in self.room.members()]
        self.query_one("#joined", Static).update(
            Text(t("lobby.joined", count=len(names)) + "\n" + ", ".join(names)))

    @staticmethod
    def _words(tag: str) -> Text:
        words = Text(t("lobby.words") + " ")
        words.append(fingerprint(tag), style="bold")
        words.append("\n" + t("lobby.words_hint"), style="dim")
        return words

    def on_peers_updated(self, message: PeersUpdated) -> None:
        if self.is_mounted:
            self.render_state()

    def on_session_changed(self, message: SessionChanged) -> None:
        if self.is_mounted:
            self.render_state()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "rotate":
            return self._is_host()
        return True

    def action_rotate(self) -> None:
        if self.room.node is not None:
            self.room.node.rotate_code(generate_code())  # tui.meeting keeps it
            self.render_state()
            self.notify(t("lobby.rotated"))

    def action_close(self) -> None:
        self._leave()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "rotate":
            self.action_rotate()
        elif event.button.id == "begin":
            self._leave()

    def _leave(self) -> None:
        self.post_message(LobbyClosed(begin=self.return_to_live))
