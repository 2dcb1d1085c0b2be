"""The ``*.cercle`` session file: a plain Automerge document on disk.

Saving writes a temporary file beside the target, flushes it to disk and
renames it over the target in one atomic step, so a crash at any instant
leaves either the previous file or the new one, both loadable. Files are
private to their owner (0600: a session holds what was said in the room).
On Windows, where another program holding the file (an antivirus, the
indexer, OneDrive) makes the rename fail for a moment, it is tried again
briefly before giving up with a message that says so. Loading checks
that the bytes are an Automerge document and that the document is a Cercle
session; every failure names the file and the problem and never touches it.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import tempfile
import time
from pathlib import Path

from automerge.core import ROOT, Document, ObjType

from model.reading import child, scalar
from model.schema import APP_NAME, FORMAT_VERSION, K_APP, K_FORMAT, K_SESSION

AUTOMERGE_MAGIC = bytes.fromhex("856f4a83")


class SessionFileError(Exception):
    """A session file could not be read or written; the message is for users."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class LoadedFile:
    """A document read from disk, with what the reader should know about it."""

    def __init__(self, path: Path, doc: Document) -> None:
        self.path = path
        self.doc = doc
        self.format = scalar(doc, ROOT, K_FORMAT, int, 0)
        session = child(doc, ROOT, K_SESSION, ObjType.Map)
        self.session_id = scalar(doc, session, "id", str, "") if session else ""

    @property
    def newer_format(self) -> bool:
        """Written by a newer Cercle: it opens, unknown parts are kept but not shown."""
        return self.format > FORMAT_VERSION


def parse_session_bytes(data: bytes, path: Path | str = "<bytes>") -> Document:
    """Load and check session bytes; raise ``SessionFileError`` when they are not a session."""
    if not data:
        raise SessionFileError(path, "the file is empty (not a Cercle session)")
    if not data.startswith(AUTOMERGE_MAGIC):
        raise SessionFileError(path, "not a Cercle session file (not an Automerge document)")
    try:
        doc = Document.load(data)
    except Exception as exc:  # the binding raises bare Exception
        raise SessionFileError(path, f"the file is corrupt or truncated ({exc})") from None
    if scalar(doc, ROOT, K_APP, str, "") != APP_NAME or child(
        doc, ROOT, K_SESSION, ObjType.Map
    ) is None:
        raise SessionFileError(
            path, "this Automerge document is not a Cercle session (no 'app'/'session' keys)"
        )
    return doc


def load(path: Path | str) -> LoadedFile:
    """Read a session file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SessionFileError(path, "no such file") from None
    except IsADirectoryError:
        raise SessionFileError(path, "is a folder, not a session file") from None
    except OSError as exc:
        raise SessionFileError(path, f"cannot read ({exc.strerror})") from None
    return LoadedFile(path, parse_session_bytes(data, path))


def _fsync_dir(folder: Path) -> None:
    # Directories cannot be opened for fsync on Windows; the rename is durable there.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PRIVATE_FILE = 0o600

# Windows errors of a file another program holds open: access denied (also a
# read-only file), sharing violation, lock violation.
HELD_WINERRORS = frozenset({5, 32, 33})
# Waits between tries of the rename while the file is held (seconds, 0.65 in all):
# an antivirus or indexer lets go within a few hundred milliseconds.
REPLACE_WAITS = (0.05, 0.1, 0.2, 0.3)
_sleep = time.sleep


def _file_mode(path: Path) -> int:
    """0600, or the file's own mode where it is stricter (but always readable by us)."""
    try:
        existing = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return PRIVATE_FILE
    return (existing & PRIVATE_FILE) | stat.S_IRUSR


def _replace(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` over ``path``, trying again briefly while another program holds it."""
    for wait in (*REPLACE_WAITS, None):
        try:
            os.replace(tmp, path)  # noqa: PTH105 (tests stand in for Windows here)
            return
        except PermissionError as exc:
            if wait is None or getattr(exc, "winerror", None) not in HELD_WINERRORS:
                raise
        _sleep(wait)


def write_atomic(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; on any failure the old file is intact.

    The file is readable by its owner only (0600, or its earlier mode if stricter).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path()
    mode = _file_mode(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except FileNotFoundError:
        raise SessionFileError(path, "the folder does not exist") from None
    except OSError as exc:
        raise SessionFileError(path, _write_problem(exc)) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if os.name == "posix":  # elsewhere a mode only sets "read-only"
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _replace(tmp, path)
        _fsync_dir(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise SessionFileError(path, _write_problem(exc, replacing=True)) from None
    # A process killed mid-save leaves its temporary file behind; sweep them now.
    for stale in folder.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _write_problem(exc: OSError, *, replacing: bool = False) -> str:
    winerror = getattr(exc, "winerror", None)
    if replacing and winerror in HELD_WINERRORS:
        # Access denied is also what a read-only file gives.
        held = "or is read-only" if winerror == 5 else ""
        return (f"is held by another program (an antivirus or OneDrive?){held and ' ' + held}: "
                "not saved this time, the previous save is intact; Cercle will try again")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: the session was not saved (the previous save is intact)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "cannot write here (permission denied or read-only)"
    return f"cannot save ({exc.strerror or exc})"


def save(path: Path | str, doc: Document) -> None:
    """Save a session document atomically."""
    write_atomic(path, doc.save())


def merge_files(paths: list[Path | str]) -> Document:
    """Merge copies of one session; refuse files of different sessions."""
    if not paths:
        raise ValueError("nothing to merge")
    loaded = [load(p) for p in paths]
    first = loaded[0]
    for other in loaded[1:]:
        if other.session_id != first.session_id:
            raise SessionFileError(
                other.path,
                f"belongs to another session ({other.session_id[:8]}…, not "
                f"{first.session_id[:8]}… of {first.path.name}): files of different "
                "sessions cannot be merged",
            )
    doc = first.doc
    for other in loaded[1:]:
        doc.merge(other.doc)
    return doc
