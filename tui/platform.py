"""What differs between Windows, macOS and Linux, in one place.

- ``system_languages``: the languages the person chose for their system,
  which Windows and macOS keep outside the environment variables;
- ``parse_user_path``: a file path as people paste or drop it in a terminal
  (quoted, backslash-escaped, a ``file://`` URL, ``~``);
- ``install_stop_handlers``: "stop now" from Ctrl+C, a closed terminal or
  console window, a log-off or a shutdown, so the last save and the goodbye
  still happen.

Each branch depends on ``sys.platform`` read at call time, so tests cover
every system from any one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import locale
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

# -- the system's languages ---------------------------------------------------------

MACOS_DEFAULTS = "/usr/bin/defaults"
MACOS_DEFAULTS_TIMEOUT = 1.0  # seconds; `defaults` answers in tens of milliseconds
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*")


def system_languages() -> list[str]:
    """The system's interface languages, preferred first, as tags ("fr-FR", "en_US"):
    Windows' user interface language, or macOS's list of preferred languages; an
    empty list elsewhere (there the locale environment variables say it) or when
    the system does not answer."""
    if sys.platform == "win32":
        return _windows_languages()
    if sys.platform == "darwin":
        return _macos_languages()
    return []


def _windows_languages() -> list[str]:
    try:
        windll = getattr(ctypes, "windll")  # noqa: B009 - only Windows has it
        langid = int(windll.kernel32.GetUserDefaultUILanguage())
    except (AttributeError, OSError, ValueError):
        return []
    # A LANGID is a locale id without sort order: 0x040C is fr_FR, 0x0C0C fr_CA.
    name = locale.windows_locale.get(langid)
    if name:
        return [name]
    # A variant Python does not list still has its primary language (the low 10 bits).
    for known, known_name in locale.windows_locale.items():
        if known & 0x3FF == langid & 0x3FF:
            return [known_name.partition("_")[0]]
    return []


def _macos_languages() -> list[str]:
    # AppleLanguages is the ordered list from System Settings → General → Language &
    # Region; AppleLocale ("fr_FR") is the region's locale, a fallback.
    for key in ("AppleLanguages", "AppleLocale"):
        try:
            out = subprocess.run([MACOS_DEFAULTS, "read", "-g", key],  # noqa: S603 (fixed)
                                 capture_output=True, text=True, check=False,
                                 timeout=MACOS_DEFAULTS_TIMEOUT)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0:
            tags = _LANGUAGE_TAG.findall(out.stdout)
            if tags:
                return tags
    return []


# -- paths people paste or drop -------------------------------------------------

_WINDOWS_DRIVE = re.compile(r"^/[A-Za-z]:")


def parse_user_path(text: str) -> Path:
    """The file ``text`` names, as a person pasted, typed or dropped it in a terminal.

    Accepts surrounding quotes (Windows' "Copy as path", a dropped path with spaces),
    backslash-escaped spaces (a file dropped into macOS Terminal or iTerm2, not on
    Windows where a backslash separates folders), ``file://`` URLs with
    percent-encoding, and ``~`` for the home folder. ValueError on empty text.
    """
    text = text.strip()
    if text.startswith("& ") and text[2:3] in ("'", '"'):  # PowerShell's drop: & 'C:\…'
        text = text[2:]
    if not text:
        raise ValueError("no file given")
    if text[0] == text[-1] and text[0] in ("'", '"') and len(text) >= 2:
        text = _unquote(text[1:-1], text[0])
    elif sys.platform != "win32" and "\\" in text:
        text = _unescape(text)
    if text.lower().startswith("file:"):
        text = _from_file_url(text)
    if not text:
        raise ValueError("no file given")
    return Path(text).expanduser()


def _unquote(inner: str, quote: str) -> str:
    # Inside double quotes a POSIX shell still reads \" and \\; inside single quotes,
    # nothing. Windows keeps backslashes as they are.
    if quote == '"' and sys.platform != "win32":
        return re.sub(r'\\([\\"$`])', r"\1", inner)
    return inner


def _unescape(text: str) -> str:
    """Undo a shell's backslash escapes (``My\\ Files`` → ``My Files``), when the text
    reads as exactly one word to a shell; otherwise keep it as typed."""
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote: an apostrophe in a name, typed as is
        return text
    return words[0] if len(words) == 1 else text


def _from_file_url(url: str) -> str:
    parts = urlsplit(url)
    path = unquote(parts.path)
    host = parts.netloc if parts.netloc.lower() != "localhost" else ""
    if _WINDOWS_DRIVE.match(path):  # file:///C:/Users/… → C:/Users/…
        return path[1:]
    if host:  # file://server/share/… → \\server\share\… (a Windows network share)
        return f"//{host}{path}"
    return path


# -- stopping portably -------------------------------------------------------------

# Windows console control events (wincon.h).
CTRL_C_EVENT, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT = 0, 1, 2
CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT = 5, 6
# Windows ends the process about 5 s after a close, log-off or shutdown event
# arrives, whatever the handler does: stopping must be over before that.
CLOSE_GRACE = 4.5


class StopHandlers:
    """What ``install_stop_handlers`` set up: say ``stopped()`` once everything is
    saved and closed (a closing console window waits for it), ``remove()`` to undo."""

    def __init__(self, loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
        self._loop = loop
        self._stop = stop
        self._stopped = threading.Event()
        self._undo: list[Callable[[], object]] = []
        self._console_handler: Any = None  # the ctypes callback, kept alive while installed

    def stopped(self) -> None:
        """Everything is saved and closed: a waiting console close may end the process."""
        self._stopped.set()

    def remove(self) -> None:
        """Put back what was there before."""
        while self._undo:
            with contextlib.suppress(Exception):
                self._undo.pop()()

    def request_stop(self) -> None:
        """Ask the loop to stop, from any thread (a signal handler, the console's)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: stopping is over
            self._loop.call_soon_threadsafe(self._stop)

    def on_console_event(self, event: int) -> bool:
        """The Windows console's handler (it runs on a thread of its own). Ctrl+C and
        Ctrl+Break go on to the signal handlers; a closed window, a log-off or a
        shutdown asks the loop to stop and waits for ``stopped()``, since Windows ends
        the process as soon as this returns."""
        if event not in (CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT):
            return False
        if self._loop.is_closed():
            return True
        self.request_stop()
        self._stopped.wait(CLOSE_GRACE)
        return True


def install_stop_handlers(loop: asyncio.AbstractEventLoop,
                          stop_callback: Callable[[], None]) -> StopHandlers:
    """Call ``stop_callback`` on ``loop`` when the person or the system asks Cercle to
    stop: Ctrl+C everywhere; SIGTERM and SIGHUP (the terminal was closed) on macOS
    and Linux; Ctrl+Break and the console window's close, log-off and shutdown
    events on Windows. Call it from the loop's thread; call ``stopped()`` on the
    result once stopping is done."""
    handlers = StopHandlers(loop, stop_callback)
    if sys.platform == "win32":
        _install_windows(handlers)
    else:
        _install_posix(loop, handlers, stop_callback)
    return handlers


def _install_posix(loop: asyncio.AbstractEventLoop, handlers: StopHandlers,
                   stop_callback: Callable[[], None]) -> None:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            loop.add_signal_handler(signum, stop_callback)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        handlers._undo.append(functools.partial(loop.remove_signal_handler, signum))


def _install_windows(handlers: StopHandlers) -> None:
    # The Proactor loop has no add_signal_handler: plain handlers, which Python runs
    # on the main thread between bytecodes, hand the request to the loop.
    def on_signal(signum: int, frame: FrameType | None) -> None:
        handlers.request_stop()

    for name in ("SIGINT", "SIGBREAK"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        previous = signal.signal(signum, on_signal)
        handlers._undo.append(functools.partial(signal.signal, signum, previous))
    try:
        kernel32 = getattr(ctypes, "windll").kernel32  # noqa: B009 - only Windows has them
        handler_type = getattr(ctypes, "WINFUNCTYPE")(ctypes.c_int, ctypes.c_uint)  # noqa: B009
    except AttributeError:  # not Windows after all
        return
    callback = handler_type(lambda event: 1 if handlers.on_console_event(event) else 0)
    if kernel32.SetConsoleCtrlHandler(callback, True):
        handlers._console_handler = callback
        handlers._undo.append(functools.partial(kernel32.SetConsoleCtrlHandler, callback, False))
