"""Where Cercle keeps its files, resolved once with platformdirs.

``CERCLE_HOME`` overrides everything (tests and the network lab point it at
a temporary folder, so a developer's real sessions are never touched).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "cercle"


def _home() -> Path | None:
    value = os.environ.get("CERCLE_HOME")
    return Path(value) if value else None


def data_dir() -> Path:
    """Session files and local identities."""
    home = _home()
    path = home / "data" if home else platformdirs.user_data_path(APP, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Settings (language, name)."""
    home = _home()
    path = home / "config" if home else platformdirs.user_config_path(APP, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sessions_dir() -> Path:
    path = data_dir() / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    return path
