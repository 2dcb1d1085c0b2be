"""Which Automerge actor this computer uses in each session, and the file it keeps it in.

Reusing one's actor after a restart keeps one's place in the session (the
facilitator stays facilitator, a participant who rejoins is not listed twice).
It is safe because a node saves every local change before sending it, so a
restarted replica that starts from its file never reuses a change number that
peers already hold.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from automerge.core import Document

from model import sessionfile
from tui.paths import data_dir


def _read(store: Path) -> dict[str, Any]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(store: Path, session_id: str, value: object) -> None:
    """Set one session's entry (best effort: a failure only costs what it would restore)."""
    data = _read(store)
    data[session_id] = value
    with contextlib.suppress(sessionfile.SessionFileError):
        sessionfile.write_atomic(store, json.dumps(data, indent=1).encode())


def _identities() -> Path:
    return data_dir() / "identities.json"


def _files() -> Path:
    return data_dir() / "files.json"


def _hosting_store() -> Path:
    return data_dir() / "hosting.json"


def actor_for(session_id: str) -> bytes | None:
    """The actor this computer used in ``session_id``, if any."""
    value = _read(_identities()).get(session_id)
    if not isinstance(value, str) or len(value) != 32:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def remember(session_id: str, actor: bytes, path: Path | None = None) -> None:
    """Record our actor for ``session_id``, and the file we keep it in if given."""
    _write(_identities(), session_id, actor.hex())
    if path is not None:
        _write(_files(), session_id, str(path))


def earlier(session_id: str) -> tuple[bytes, Path, Document] | None:
    """The actor, file and document this computer had in ``session_id``, if it was in it
    and its file is still there and still that session's; else None."""
    actor, path = actor_for(session_id), _read(_files()).get(session_id)
    if actor is None or not isinstance(path, str):
        return None
    try:
        loaded = sessionfile.load(path)
    except sessionfile.SessionFileError:
        return None
    if loaded.session_id != session_id:
        return None
    return actor, Path(path), loaded.doc


def hosting(session_id: str) -> tuple[int, str] | None:
    """The port and join code this computer last hosted ``session_id`` with, if any."""
    try:
        entry = _read(_hosting_store())[session_id]
        return int(entry["port"]), str(entry["code"])
    except (KeyError, TypeError, ValueError):
        return None


def remember_hosting(session_id: str, port: int, code: str) -> None:
    """Keep the port and code, so a host restarted after a crash is found again by its peers."""
    _write(_hosting_store(), session_id, {"port": port, "code": code})
