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
