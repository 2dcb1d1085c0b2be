"""The exports of a session, written beside its file: Markdown, HTML and JSON, and
the next meeting as an iCalendar file once one is set.

Textual-free and given an immutable snapshot, so the app runs it in a thread
worker: writing files never holds up the keys.
"""

from __future__ import annotations

from pathlib import Path

from model import export, sessionfile
from model.snapshot import Snapshot


def write_exports(snap: Snapshot, path: Path | None, lang: str) -> list[Path]:
    """Write every export of ``snap`` beside the session file ``path`` (in the current
    folder without one); returns the files written. Raises ``SessionFileError`` when
    one cannot be written (the full disk, a folder without permission): the files
    written before it stay."""
    folder = path.parent if path else Path.cwd()
    stem = path.stem if path else "session"
    formats = export.ALL_FORMATS if snap.control.meeting else export.FORMATS
    written = []
    for fmt in formats:
        target = folder / f"{stem}.{fmt}"
        sessionfile.write_atomic(target, export.render(snap, fmt, lang))
        written.append(target)
    return written
