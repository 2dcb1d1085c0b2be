"""Paths people type, paste or drop into the app (the home screen's file field, the host
form's protocol file) are read as ``tui.platform.parse_user_path`` reads them, on each
system; a path to nothing is said plainly."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from textual.widgets import Input

from model import sessionfile
from model.protocols import builtin_protocols
from model.session import Session
from tests.sync.mesh import until
from tests.test_cli import GOOD_PROTOCOL
from tests.tui.test_flows import loopback_app
from tui.app import CercleApp
from tui.screens.home import HomeScreen
from tui.screens.host import HostScreen
from tui.screens.lobby import LobbyScreen
from tui.screens.review import ReviewScreen


@pytest.fixture
def past(tmp_path: Path) -> Path:
    """A session file in a folder whose name has a space and an apostrophe, as many do."""
    folder = tmp_path / "Mes séances d'équipe"
    folder.mkdir()
    session = Session.create(title="Séance passée", protocol=builtin_protocols()["codev"],
                             name="Anne")
    path = folder / "past session.cercle"
    sessionfile.save(path, session.doc)
    return path


def notices(app: CercleApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


@pytest.mark.parametrize("system", ["linux", "darwin", "win32"])
@pytest.mark.parametrize("form", ["double-quoted", "single-quoted", "file-url"])
async def test_home_opens_a_pasted_or_dropped_path(monkeypatch: pytest.MonkeyPatch,
                                                   past: Path, system: str,
                                                   form: str) -> None:
    text = {"double-quoted": f'"{past}"',  # Windows' "Copy as path", most drops
            "single-quoted": f"'{past}'",  # GNOME Terminal's drop
            "file-url": "file://" + quote(str(past))}[form]
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        monkeypatch.setattr(sys, "platform", system)
        app.screen.query_one("#path", Input).value = text
        app.screen.query_one("#path", Input).focus()
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.room.path == past


async def test_a_mac_drop_escapes_spaces(monkeypatch: pytest.MonkeyPatch, past: Path) -> None:
    escaped = str(past).replace(" ", "\\ ").replace("'", "\\'")  # Terminal.app's drop
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        monkeypatch.setattr(sys, "platform", "darwin")
        app.screen.query_one("#path", Input).value = escaped + " "  # a drop ends in a space
        await pilot.click("#review")
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")


@pytest.mark.parametrize(("name", "says"), [
    ("missing.cercle", "There is no file at"), ("", "is a folder")])
async def test_a_path_to_nothing_is_said(past: Path, name: str, says: str) -> None:
    target = past.parent / name if name else past.parent
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        for button in ("#review", "#continue"):
            app.screen.query_one("#path", Input).value = f'"{target}"'
            await pilot.click(button)
            await pilot.pause()
            assert isinstance(app.screen, HomeScreen)
            assert f"{says}" in notices(app) and str(target) in notices(app)


async def test_nothing_typed_is_said() -> None:
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#path", Input).value = '  ""  '
        await pilot.click("#continue")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert "Type the path of a .cercle file, or choose a recent session." in notices(app)


async def test_next_meeting_of_a_dropped_file(past: Path) -> None:
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#path", Input).value = f"'{past}'"
        await pilot.click("#continue")
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        assert isinstance(app.screen, HostScreen)
        assert app.screen.continue_from == past


async def test_the_host_form_reads_a_dropped_protocol_file(tmp_path: Path) -> None:
    mine = tmp_path / "My protocols" / "weekly.toml"
    mine.parent.mkdir()
    mine.write_text(GOOD_PROTOCOL, encoding="utf-8")
    app = loopback_app(start="host", name="Anne")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        app.screen.query_one("#title", Input).value = "Hebdo"
        app.screen.query_one("#protocol-file", Input).value = f"'{tmp_path}/My protocols/nope'"
        await pilot.click("#start")
        await pilot.pause()
        assert isinstance(app.screen, HostScreen)
        assert "There is no protocol file at" in notices(app) and "nope" in notices(app)
        app.screen.query_one("#protocol-file", Input).value = "file://" + quote(str(mine))
        await pilot.click("#start")
        await until(lambda: isinstance(app.screen, LobbyScreen), what="the lobby")
        assert app.room is not None and app.room.snapshot.protocol is not None
        assert app.room.snapshot.protocol.key == "weekly"
