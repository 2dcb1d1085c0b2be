"""Files the app writes, and what a person is told when it cannot: the exports (in a
thread worker, off the event loop) and the session file of an offline room."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from model import sessionfile
from model.protocols import builtin_protocols
from model.session import Session
from tests.sync.mesh import until
from tests.tui.test_flows import loopback_app, type_into
from tui import exports, paths
from tui.app import CercleApp
from tui.room import Room
from tui.screens.live import LiveScreen
from tui.screens.review import ReviewScreen
from tui.settings import Settings


def said(app: CercleApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def noted(path: Path) -> Room:
    session = Session.create(title="Atelier", protocol=builtin_protocols()["codev"], name="Anne")
    session.add_item("note", "contexte")
    return Room(session, path=path)


async def test_export_runs_in_a_thread_and_says_where(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    write = exports.write_exports

    def recording(*args: Any) -> list[Path]:
        threads.append(threading.current_thread())
        return write(*args)

    monkeypatch.setattr("tui.app.write_exports", recording)
    room = noted(tmp_path / "atelier.cercle")
    app = loopback_app(start="live", room=room)
    async with app.run_test() as pilot:
        await until(lambda: isinstance(app.screen, LiveScreen), what="the live screen")
        await pilot.press("ctrl+e")
        await until(lambda: any(m.startswith("Exported to") for m in said(app)), what="done")
        assert threads and threads[0] is not threading.main_thread()
    folder = paths.exports_dir()  # CERCLE_HOME/exports under tests
    for ext in ("md", "html", "json"):
        assert "contexte" in (folder / f"atelier.{ext}").read_text(encoding="utf-8")
        assert not (tmp_path / f"atelier.{ext}").exists()  # not beside the session file
    assert folder.is_absolute()
    assert f"Exported to {folder}: atelier.md, atelier.json, atelier.html" in said(app)


async def test_exports_go_to_the_documents_folder(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Where people look for them (not in the hidden data folder of the session files)."""
    monkeypatch.delenv("CERCLE_HOME")
    documents = tmp_path / "Documents"
    monkeypatch.setattr(platformdirs, "user_documents_path", lambda: documents)
    for folders in ("user_data_path", "user_config_path"):  # nothing of the real home
        monkeypatch.setattr(platformdirs, folders, lambda *a, **k: tmp_path / "data")
    room = noted(tmp_path / "data" / "sessions" / "atelier.cercle")
    room.path.parent.mkdir(parents=True)  # type: ignore[union-attr]
    app = loopback_app(start="live", room=room, settings=Settings())
    async with app.run_test() as pilot:
        await until(lambda: isinstance(app.screen, LiveScreen), what="the live screen")
        await pilot.press("ctrl+e")
        await until(lambda: any(m.startswith("Exported to") for m in said(app)), what="done")
    assert (documents / "Cercle" / "atelier.md").is_file()
    assert f"Exported to {documents / 'Cercle'}: atelier.md" in "\n".join(said(app))


def test_a_session_without_a_file_is_named_after_its_title(tmp_path: Path) -> None:
    session = Session.create(title="Le cas de Claire (janvier)",
                             protocol=builtin_protocols()["codev"], name="Anne")
    written = exports.write_exports(session.snapshot, None, "fr", tmp_path)
    assert [p.name for p in written] == ["le-cas-de-claire-janvier.md",
                                         "le-cas-de-claire-janvier.json",
                                         "le-cas-de-claire-janvier.html"]


def refuse_with(code: int) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, "refused by the test")
    return refuse


@pytest.mark.parametrize(("breakage", "reason"), [
    ("a file where the folder should be", "cannot create the exports folder"),
    ("the disk is full", "the disk is full"),
    ("no permission", "cannot write here (permission denied or read-only)"),
])
async def test_an_export_that_cannot_be_written_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breakage: str, reason: str) -> None:
    path = tmp_path / "atelier.cercle"
    if breakage == "a file where the folder should be":
        home = tmp_path / "home"
        home.mkdir()
        (home / "exports").write_text("a file, not a folder")
        monkeypatch.setenv("CERCLE_HOME", str(home))
    elif breakage == "the disk is full":  # the disk fills as the data is flushed
        monkeypatch.setattr(sessionfile.os, "fsync", refuse_with(errno.ENOSPC))
    else:  # tests may run as root, whom a read-only folder does not stop
        monkeypatch.setattr(sessionfile.tempfile, "mkstemp", refuse_with(errno.EACCES))
    room = Room(noted(tmp_path / "x.cercle").session, path=path, read_only=True)
    app = loopback_app(start="review", room=room)
    async with app.run_test() as pilot:
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        await pilot.press("ctrl+e")
        await until(lambda: any(m.startswith("Export failed") for m in said(app)),
                    what="the failure")
        [message] = [m for m in said(app) if m.startswith("Export failed")]
        assert reason in message
        assert ("exports" if breakage.startswith("a file") else "atelier.md") in message
        [notice] = [n for n in app._notifications if n.message == message]
        assert notice.severity == "error"
        assert isinstance(app.screen, ReviewScreen)  # the app goes on


async def test_an_offline_change_that_cannot_be_saved_is_said_and_kept(
        tmp_path: Path) -> None:
    """The folder of the session file is gone: the change stays on screen and in
    memory, the person is told; once the folder is back, the next change saves both."""
    folder = tmp_path / "sessions"
    room = noted(folder / "atelier.cercle")  # the folder does not exist (yet)
    app = loopback_app(start="live", room=room)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, LiveScreen), what="the live screen")
        await until(lambda: bool(app.screen.query("#composer #text")), what="the composer")
        await pilot.pause()
        await type_into(pilot, "#composer #text", "gardée en mémoire")
        await pilot.press("enter")
        await until(lambda: any(m.startswith("Not saved") for m in said(app)), what="told")
        [message] = [m for m in said(app) if m.startswith("Not saved")]
        assert "the folder does not exist" in message and "kept here" in message
        assert "gardée en mémoire" in {i.text for i in room.snapshot.items}
        assert not (folder / "atelier.cercle").exists()
        folder.mkdir()
        await type_into(pilot, "#composer #text", "et celle-ci")
        await pilot.press("enter")
        await until(lambda: "Saved again." in said(app), what="saved again")
    saved = Session(sessionfile.load(folder / "atelier.cercle").doc).snapshot
    assert {i.text for i in saved.items} == {"contexte", "gardée en mémoire", "et celle-ci"}
