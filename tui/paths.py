"""Where Cercle keeps its files, resolved once with platformdirs.

``CERCLE_HOME`` overrides everything (tests and the network lab point it at
a temporary folder, so a developer's real sessions are never touched).

The data and config folders are private (0700 on macOS and Linux, fixed at
first use when an earlier version made them 0755): session files are named
after their titles, and what is said in a group stays there. On Windows the
folders live in the person's own profile, whose permissions already do that.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path

import platformdirs

APP = "cercle"
PRIVATE_DIR = 0o700


def _home() -> Path | None:
    value = os.environ.get("CERCLE_HOME")
    return Path(value) if value else None


def _private(path: Path) -> Path:
    """Create ``path`` for its owner only; make an existing one so (best effort)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if sys.platform != "win32":  # there a mode only sets "read-only"
        with contextlib.suppress(OSError):  # not ours, or a file system without modes
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                path.chmod(PRIVATE_DIR)
    return path


def data_dir() -> Path:
    """Session files and local identities."""
    home = _home()
    return _private(home / "data" if home else platformdirs.user_data_path(APP, appauthor=False))


def config_dir() -> Path:
    """Settings (language, name)."""
    home = _home()
    return _private(home / "config" if home
                    else platformdirs.user_config_path(APP, appauthor=False))


def sessions_dir() -> Path:
    return _private(data_dir() / "sessions")


def exports_dir() -> Path:
    """Where exports go: a "Cercle" folder in the person's documents, where they will
    look for them (``CERCLE_HOME/exports`` when set). Created if missing, for its
    owner only; an existing one is left as the person set it."""
    home = _home()
    path = home / "exports" if home else platformdirs.user_documents_path() / "Cercle"
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    return path
