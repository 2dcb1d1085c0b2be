"""OS glue (tui/platform.py), each system's branch from any system: the system's
languages, paths as people paste or drop them, and stopping when asked."""

from __future__ import annotations

import asyncio
import ctypes
import signal
import subprocess
import sys
import threading
from pathlib import Path, PureWindowsPath
from types import SimpleNamespace
from typing import Any

import pytest

from tui import i18n, platform
from tui.platform import parse_user_path

# -- the system's languages ---------------------------------------------------------


def _windows(monkeypatch: pytest.MonkeyPatch, langid: int | None) -> None:
    """Pretend to be Windows, whose GetUserDefaultUILanguage answers ``langid``."""
    monkeypatch.setattr(sys, "platform", "win32")
    if langid is None:
        monkeypatch.delattr(ctypes, "windll", raising=False)
        return
    kernel32 = SimpleNamespace(GetUserDefaultUILanguage=lambda: langid)
    monkeypatch.setattr(ctypes, "windll", SimpleNamespace(kernel32=kernel32), raising=False)


@pytest.mark.parametrize(("langid", "tags"), [
    (0x040C, ["fr_FR"]), (0x0C0C, ["fr_CA"]), (0x080C, ["fr_BE"]), (0x0409, ["en_US"]),
    (0x0407, ["de_DE"]),
    (0x7C0C, ["fr"]),  # a variant Python does not list: its primary language
    (0x00FF, []),  # no such language
])
def test_windows_interface_language(monkeypatch: pytest.MonkeyPatch, langid: int,
                                    tags: list[str]) -> None:
    _windows(monkeypatch, langid)
    assert platform.system_languages() == tags


def test_windows_without_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    _windows(monkeypatch, None)
    assert platform.system_languages() == []


def _macos(monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]) -> list[list[str]]:
    """Pretend to be macOS, whose `defaults read -g KEY` answers ``answers[KEY]``: a
    text printed, an int exit code, or an exception raised. Returns the commands run."""
    monkeypatch.setattr(sys, "platform", "darwin")
    commands: list[list[str]] = []

    def run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        assert options["timeout"] <= 2
        answer = answers.get(command[-1], 1)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, int):
            return subprocess.CompletedProcess(command, answer, "", "does not exist")
        return subprocess.CompletedProcess(command, 0, answer, "")

    monkeypatch.setattr(platform.subprocess, "run", run)
    return commands


def test_macos_preferred_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _macos(monkeypatch, {"AppleLanguages": '(\n    "fr-FR",\n    "en-FR"\n)\n'})
    assert platform.system_languages() == ["fr-FR", "en-FR"]
    assert commands == [["/usr/bin/defaults", "read", "-g", "AppleLanguages"]]


def test_macos_unquoted_list(monkeypatch: pytest.MonkeyPatch) -> None:
    _macos(monkeypatch, {"AppleLanguages": "(\n    en,\n    fr\n)\n"})
    assert platform.system_languages() == ["en", "fr"]


def test_macos_falls_back_to_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _macos(monkeypatch, {"AppleLanguages": 1, "AppleLocale": "fr_FR\n"})
    assert platform.system_languages() == ["fr_FR"]
    assert [c[-1] for c in commands] == ["AppleLanguages", "AppleLocale"]


@pytest.mark.parametrize("failure", [
    subprocess.TimeoutExpired("defaults", 1.0), FileNotFoundError("defaults"),
    PermissionError(13, "denied")])
def test_macos_silent_or_slow(monkeypatch: pytest.MonkeyPatch, failure: Exception) -> None:
    _macos(monkeypatch, {"AppleLanguages": failure, "AppleLocale": failure})
    assert platform.system_languages() == []


def test_linux_asks_no_one(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _macos(monkeypatch, {"AppleLanguages": '("fr-FR")'})
    monkeypatch.setattr(sys, "platform", "linux")
    assert platform.system_languages() == []
    assert commands == []


@pytest.fixture
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a terminal that says English, and i18n asking the (faked)
    system again (tests/tui/conftest.py keeps it out of the other tests)."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setattr(i18n, "system_languages", platform.system_languages)


@pytest.mark.usefixtures("english_locale")
def test_french_windows_gets_french(monkeypatch: pytest.MonkeyPatch) -> None:
    _windows(monkeypatch, 0x040C)
    try:
        assert i18n.set_language(None) == "fr"
        assert i18n.set_language("en") == "en"  # --lang and the settings still win
    finally:
        i18n.set_language("en")


@pytest.mark.usefixtures("english_locale")
def test_french_mac_in_an_english_terminal_gets_french(monkeypatch: pytest.MonkeyPatch) -> None:
    _macos(monkeypatch, {"AppleLanguages": '(\n    "de-CH",\n    "fr-CH",\n    "en"\n)'})
    assert i18n.locale_language() == "fr"  # the first language Cercle has


@pytest.mark.usefixtures("english_locale")
def test_unsupported_system_language_leaves_it_to_the_locale(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _macos(monkeypatch, {"AppleLanguages": '("de-DE")'})
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert i18n.locale_language() == "fr"
    _windows(monkeypatch, None)
    assert i18n.locale_language() == "fr"


# -- paths people paste or drop -------------------------------------------------


def _as_windows(path: Path) -> PureWindowsPath:
    return PureWindowsPath(str(path))


@pytest.mark.parametrize("text", [
    '"C:\\Users\\Zoë\\Documents\\jan.cercle"',  # Explorer's "Copy as path"
    "C:\\Users\\Zoë\\Documents\\jan.cercle",
    "'C:\\Users\\Zoë\\Documents\\jan.cercle'",
    "& 'C:\\Users\\Zoë\\Documents\\jan.cercle'",  # dropped into PowerShell
    '  "C:\\Users\\Zoë\\Documents\\jan.cercle"\r\n',
    "file:///C:/Users/Zo%C3%AB/Documents/jan.cercle",
])
def test_windows_paths(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert _as_windows(parse_user_path(text)) == PureWindowsPath(
        r"C:\Users\Zoë\Documents\jan.cercle")


def test_windows_spaces_and_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert _as_windows(parse_user_path('"C:\\My Files\\jan.cercle"')) == PureWindowsPath(
        r"C:\My Files\jan.cercle")
    assert _as_windows(parse_user_path("file://server/share/jan%20v2.cercle")) == \
        PureWindowsPath(r"\\server\share\jan v2.cercle")


@pytest.mark.parametrize("system", ["darwin", "linux"])
@pytest.mark.parametrize("text", [
    "/Users/zoe/My\\ Files/jan.cercle",  # dropped into Terminal or iTerm2
    "'/Users/zoe/My Files/jan.cercle'",  # dropped where paths are quoted
    '"/Users/zoe/My Files/jan.cercle"',
    "/Users/zoe/My Files/jan.cercle",  # typed as is
    "  /Users/zoe/My\\ Files/jan.cercle \n",
    "file:///Users/zoe/My%20Files/jan.cercle",
    "file://localhost/Users/zoe/My%20Files/jan.cercle",
])
def test_posix_paths(monkeypatch: pytest.MonkeyPatch, system: str, text: str) -> None:
    monkeypatch.setattr(sys, "platform", system)
    assert parse_user_path(text) == Path("/Users/zoe/My Files/jan.cercle")


def test_posix_escapes_and_apostrophes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert parse_user_path("/Users/zoe/Zo\\ë\\'s\\ \\(old\\)/jan.cercle") == Path(
        "/Users/zoe/Zoë's (old)/jan.cercle")
    assert parse_user_path('"/tmp/say \\"hi\\"/a.cercle"') == Path('/tmp/say "hi"/a.cercle')
    assert parse_user_path("/Users/zoe/O'Brien/jan.cercle") == Path(
        "/Users/zoe/O'Brien/jan.cercle")
    assert parse_user_path("file:///Users/zo%C3%AB/a%23b.cercle") == Path(
        "/Users/zoë/a#b.cercle")


def test_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))  # what Windows' Python reads
    monkeypatch.setattr(sys, "platform", "linux")
    assert parse_user_path("~/Documents/jan.cercle") == tmp_path / "Documents" / "jan.cercle"
    assert parse_user_path("'~/My Files/jan.cercle'") == tmp_path / "My Files" / "jan.cercle"
    assert parse_user_path("jan.cercle") == Path("jan.cercle")


@pytest.mark.parametrize("text", ["", "   \n", "''", '""', "file://"])
def test_nothing_given(text: str) -> None:
    with pytest.raises(ValueError, match="no file given"):
        parse_user_path(text)


# -- stopping portably -------------------------------------------------------------


async def test_posix_signals_stop_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(signal, "SIGHUP", getattr(signal, "SIGHUP", 1), raising=False)
    loop = asyncio.get_running_loop()
    added: dict[int, Any] = {}
    monkeypatch.setattr(loop, "add_signal_handler",
                        lambda signum, callback: added.__setitem__(signum, callback))
    monkeypatch.setattr(loop, "remove_signal_handler", lambda signum: added.pop(signum))
    stops: list[str] = []
    handlers = platform.install_stop_handlers(loop, lambda: stops.append("stop"))
    assert set(added) == {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    added[signal.SIGHUP]()  # the terminal window was closed
    assert stops == ["stop"]
    handlers.remove()
    assert added == {}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM ends a Windows process at once")
async def test_posix_for_real() -> None:
    """A real SIGTERM to this process reaches the callback through the loop."""
    import os

    stopped = asyncio.Event()
    handlers = platform.install_stop_handlers(asyncio.get_running_loop(), stopped.set)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        handlers.remove()


class FakeWindows:
    """signal.signal and SetConsoleCtrlHandler as Windows has them, recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.signals: dict[int, Any] = {}
        self.console: list[tuple[Any, bool]] = []
        self.threads: list[tuple[threading.Thread, list[int]]] = []
        monkeypatch.setattr(sys, "platform", "win32")
        monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
        monkeypatch.setattr(signal, "signal", self.signal)
        # WINFUNCTYPE is CFUNCTYPE with the stdcall convention, which only Windows has.
        monkeypatch.setattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE, raising=False)
        kernel32 = SimpleNamespace(SetConsoleCtrlHandler=self.set_console_handler)
        monkeypatch.setattr(ctypes, "windll", SimpleNamespace(kernel32=kernel32), raising=False)

    def signal(self, signum: int, handler: Any) -> Any:
        previous = self.signals.get(signum, signal.SIG_DFL)
        self.signals[signum] = handler
        return previous

    def set_console_handler(self, handler: Any, add: bool) -> int:
        self.console.append((handler, add))
        return 1

    def console_event(self, event: int) -> int:
        """What Windows does on a console event: call the handler on a thread of its own."""
        handler = self.console[-1][0]
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(handler(event)))
        thread.start()
        self.threads.append((thread, result))
        return len(self.threads) - 1


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> FakeWindows:
    return FakeWindows(monkeypatch)


async def test_windows_ctrl_c_and_ctrl_break(windows: FakeWindows) -> None:
    before = dict(windows.signals)
    stopped = asyncio.Event()
    handlers = platform.install_stop_handlers(asyncio.get_running_loop(), stopped.set)
    assert {signal.SIGINT, 21} <= set(windows.signals)
    assert windows.signals[signal.SIGINT] is windows.signals[21]
    windows.signals[21](21, None)  # Ctrl+Break, as Python runs it on the main thread
    await asyncio.wait_for(stopped.wait(), 5)
    handlers.remove()
    assert windows.signals == {21: signal.SIG_DFL, **before}
    assert [add for _, add in windows.console] == [True, False]


async def test_windows_ctrl_c_goes_on_to_python(windows: FakeWindows) -> None:
    stops: list[str] = []
    platform.install_stop_handlers(asyncio.get_running_loop(), lambda: stops.append("x"))
    index = windows.console_event(platform.CTRL_C_EVENT)
    thread, result = windows.threads[index]
    await asyncio.to_thread(thread.join, 5)
    assert result == [0]  # not handled here: the next handler (Python's SIGINT) runs
    assert stops == []


@pytest.mark.parametrize("event", [platform.CTRL_CLOSE_EVENT, platform.CTRL_LOGOFF_EVENT,
                                   platform.CTRL_SHUTDOWN_EVENT])
async def test_windows_console_close_waits_for_the_last_save(windows: FakeWindows,
                                                             event: int) -> None:
    stopping = asyncio.Event()
    handlers = platform.install_stop_handlers(asyncio.get_running_loop(), stopping.set)
    index = windows.console_event(event)
    await asyncio.wait_for(stopping.wait(), 5)  # the loop was asked to stop...
    thread, result = windows.threads[index]
    assert thread.is_alive() and result == []  # ...and Windows is kept waiting
    handlers.stopped()  # saved and said goodbye
    await asyncio.to_thread(thread.join, 5)
    assert result == [1]


async def test_windows_close_after_the_loop_closed(windows: FakeWindows) -> None:
    loop = asyncio.new_event_loop()
    handlers = platform.install_stop_handlers(loop, lambda: None)
    loop.close()
    assert handlers.on_console_event(platform.CTRL_CLOSE_EVENT) is True


async def test_windows_close_waits_no_longer_than_windows_would(
        windows: FakeWindows, monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[float | None] = []

    class Clock:
        def set(self) -> None: ...

        def wait(self, timeout: float | None = None) -> bool:
            waited.append(timeout)
            return False

    handlers = platform.install_stop_handlers(asyncio.get_running_loop(), lambda: None)
    monkeypatch.setattr(handlers, "_stopped", Clock())
    assert handlers.on_console_event(platform.CTRL_CLOSE_EVENT) is True
    assert waited == [platform.CLOSE_GRACE] and platform.CLOSE_GRACE < 5
