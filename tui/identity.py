"""Which Automerge actor this computer uses in each session.

Reusing one's actor after a restart keeps one's place in the session (the
facilitator stays facilitator). It is safe because a node saves every local
change before sending it, so a restarted replica never reuses a change number
that peers already hold.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from model import sessionfile
from tui.paths import data_dir


def _store() -> Path:
    return data_dir() / "identities.json"


def _load() -> dict[str, str]:
    try:
        data = json.loads(_store().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(data, dict) else {}


def actor_for(session_id: str) -> bytes | None:
    """The actor this computer used in ``session_id``, if any."""
    value = _load().get(session_id)
    try:
        return bytes.fromhex(value) if value and len(value) == 32 else None
    except ValueError:
        return None


def remember(session_id: str, actor: bytes) -> None:
    """Record our actor for ``session_id`` (best effort: a failure only costs the role)."""
    data = _load()
    data[session_id] = actor.hex()
    with contextlib.suppress(sessionfile.SessionFileError):
        sessionfile.write_atomic(_store(), json.dumps(data, indent=1).encode())


def _hosting_store() -> Path:
    return data_dir() / "hosting.json"


def hosting(session_id: str) -> tuple[int, str] | None:
    """The port and join code this computer last hosted ``session_id`` with, if any."""
    try:
        data = json.loads(_hosting_store().read_text(encoding="utf-8"))
        entry = data[session_id]
        return int(entry["port"]), str(entry["code"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_hosting(session_id: str, port: int, code: str) -> None:
    """Keep the port and code, so a host restarted after a crash is found again by its peers."""
    try:
        data = json.loads(_hosting_store().read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[session_id] = {"port": port, "code": code}
    with contextlib.suppress(sessionfile.SessionFileError):
        sessionfile.write_atomic(_hosting_store(), json.dumps(data, indent=1).encode())
