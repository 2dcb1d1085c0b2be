"""Home: start a session, join one, open a file, or pick a recent session."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from model import sessionfile
from model.session import Session
from tui.format import TITLE_WIDTH, day_and_time, line, plain
from tui.i18n import t
from tui.messages import HostFormRequested, JoinFormRequested, LanguageToggled, ReviewRequested
from tui.paths import sessions_dir
from tui.platform import parse_user_path
from tui.screens.base import CercleScreen
from tui.widgets.footer import Footer


def _saved_at(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # gone since the folder was listed
        return 0.0


def recent_sessions(limit: int = 8) -> list[tuple[Path, str, float]]:
    """The most recently saved session files with their titles and when they were saved
    (unreadable ones skipped)."""
    files = sorted(((path, _saved_at(path)) for path in sessions_dir().glob("*.cercle")),
                   key=lambda found: found[1], reverse=True)
    out = []
    for path, saved in files[: limit * 2]:
        try:
            title = Session(sessionfile.load(path).doc).snapshot.info.title
        except sessionfile.SessionFileError:
            continue
        out.append((path, title, saved))
        if len(out) == limit:
            break
    return out


class HomeScreen(CercleScreen):
    BINDINGS = [
        Binding("f2", "host", "key.host"),
        Binding("f3", "join", "key.join"),
        Binding("f4", "language", "key.language"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="home"):
            yield Static(t("home.title"), id="home-title")
            yield Static(t("home.tagline"), classes="dim")
            with Horizontal(classes="buttons"):
                yield Button(t("home.host"), variant="primary", id="host")
                yield Button(t("home.join"), variant="success", id="join")
            yield Label(t("home.open"))
            with Horizontal(classes="row"):
                yield Input(placeholder=t("home.open_placeholder"), id="path")
                yield Button(t("home.review"), id="review")
                yield Button(t("home.continue"), id="continue")
            yield Label(t("home.recent"))
            yield OptionList(id="recent")
            yield Static(t("home.keys"), id="home-keys", classes="dim")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#host", Button).focus()
        self.refresh_recent()

    @work(thread=True, exclusive=True, group="recent")
    def refresh_recent(self) -> None:
        """Read the recent files after the first paint (loading them takes a moment)."""
        found = recent_sessions()
        self.app.call_from_thread(self._show_recent, found)

    def _show_recent(self, found: list[tuple[Path, str, float]]) -> None:
        recent = self.query_one("#recent", OptionList)
        recent.clear_options()
        if not found:
            recent.add_option(Option(t("home.no_recent"), disabled=True))
        for path, title, saved in found:
            # A title was written by whoever created the session: plain text, one line.
            recent.add_option(Option(
                plain(f"{line(title, TITLE_WIDTH)}  ·  {day_and_time(saved * 1000)}"),
                id=str(path)))
        if found:
            recent.highlighted = 0  # the latest: Enter opens it, no arrow key first

    def on_button_pressed(self, event: Button.Pressed) -> None:
        match event.button.id:
            case "host":
                self.action_host()
            case "join":
                self.action_join()
            case "review":
                self._open(self._typed_path())
            case "continue":
                path = self._typed_path()
                if path is not None:
                    self.post_message(HostFormRequested(continue_from=path))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._open(self._typed_path())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._open(Path(event.option.id))

    def _typed_path(self) -> Path | None:
        """The session file in the path field, as people type, paste or drop it (quoted,
        escaped, a file:// URL, ~), else the recent session highlighted; None, said, when
        it names no file."""
        typed = self.query_one("#path", Input).value
        recent = self.query_one("#recent", OptionList).highlighted_option
        if not typed.strip() and recent is not None and recent.id:
            return Path(recent.id)
        try:
            path = parse_user_path(typed)
        except ValueError:
            self.notify(t("home.give_path"), severity="warning")
            return None
        if not path.is_file():
            self.notify(t("home.not_a_file" if path.is_dir() else "home.no_file",
                          path=str(path)), severity="error", timeout=10)
            return None
        return path

    def _open(self, path: Path | None) -> None:
        if path is not None:
            self.post_message(ReviewRequested(path))

    def action_host(self) -> None:
        self.post_message(HostFormRequested())

    def action_join(self) -> None:
        self.post_message(JoinFormRequested())

    def action_language(self) -> None:
        self.post_message(LanguageToggled())
