"""The exports of a session: Markdown, HTML and JSON, and the next meeting as an
iCalendar file once one is set, written where people look for them: the "Cercle" folder
of their documents (``tui.paths.exports_dir``), named after the session file.

Textual-free and given an immutable snapshot, so the app runs it in a thread
worker: writing files never holds up the keys.
"""

from __future__ import annotations

from pathlib import Path

from model import export, sessionfile
from model.snapshot import Snapshot
from tui.paths import exports_dir


def _stem(snap: Snapshot, path: Path | None) -> str:
    """The session file's name without ``.cercle``, else the title's words joined."""
    if path is not None:
        return path.stem
    slug = "".join(c if c.isalnum() else "-" for c in snap.info.title.lower()).strip("-")
    return "-".join(part for part in slug.split("-") if part)[:40] or "session"


def write_exports(snap: Snapshot, path: Path | None, lang: str,
                  folder: Path | None = None) -> list[Path]:
    """Write every export of ``snap`` (kept in the session file ``path``, if any) into
    ``folder``, the exports folder unless given; returns the files written, by their
    full paths. Raises ``SessionFileError`` when one cannot be written (the full disk, a
    folder without permission): the files written before it stay."""
    if folder is None:
        try:
            folder = exports_dir()
        except OSError as exc:  # a file where the folder should be, no permission
            raise sessionfile.SessionFileError(
                exc.filename or "exports",
                f"cannot create the exports folder ({exc.strerror or exc})") from None
    folder = folder.absolute()
    stem = _stem(snap, path)
    formats = export.ALL_FORMATS if snap.control.meeting else export.FORMATS
    written = []
    for fmt in formats:
        target = folder / f"{stem}.{fmt}"
        sessionfile.write_atomic(target, export.render(snap, fmt, lang))
        written.append(target)
    return written
