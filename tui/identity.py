"""This computer's key in each session, the file it keeps the session in, and how it
hosted it.

A laptop's key (``model.keys.Identity``) *is* who it is in a session: its
public key is its Automerge actor, and only the private key can sign for it.
Keeping it lets a laptop restarted after a crash or a quit come back as the
same participant (the facilitator stays facilitator), and lets ``cercle
host --file`` on the computer that ran ``cercle new`` host as the creator.
Reusing a key is safe because a node saves every local change before sending
it, so a replica restarted from its file never reuses a change number that
peers already hold.

The private keys live in ``<data>/keys/<session id>.key`` (the 32-byte seed):
the folder is created 0700 and each file 0600 (``os.chmod`` is best effort
on Windows, where the folder is the user's own anyway). Stores written by
older versions (an actor id without its key, ``identities.json``) are ignored:
such a session is joined anew.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automerge.core import Document

from model import sessionfile
from model.keys import Identity
from sync.handshake import Anchor
from tui.paths import data_dir

_SESSION_ID = re.compile(r"[0-9a-f]{32}")  # also what makes a safe file name


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


def keys_dir() -> Path:
    """The private folder of the keys (0700)."""
    folder = data_dir() / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    with contextlib.suppress(OSError):
        folder.chmod(0o700)
    return folder


def _key_file(session_id: str) -> Path | None:
    return keys_dir() / f"{session_id}.key" if _SESSION_ID.fullmatch(session_id) else None


def _files() -> Path:
    return data_dir() / "files.json"


def _hosting_store() -> Path:
    return data_dir() / "hosting.json"


def _labels_store() -> Path:
    return data_dir() / "labels.json"


def identity_for(session_id: str) -> Identity | None:
    """The key this computer used in ``session_id``, if it kept one."""
    path = _key_file(session_id)
    if path is None:
        return None
    try:
        return Identity.from_bytes(path.read_bytes())
    except (OSError, ValueError):
        return None


def remember(session_id: str, identity: Identity, path: Path | None = None) -> None:
    """Keep our key for ``session_id`` (file mode 0600), and the file we keep the session
    in if given. Best effort: a failure only costs coming back as someone new."""
    key_file = _key_file(session_id)
    if key_file is None:
        return
    # write_atomic makes its temporary file with mkstemp: mode 0600 from the start.
    with contextlib.suppress(sessionfile.SessionFileError):
        sessionfile.write_atomic(key_file, identity.to_bytes())
    with contextlib.suppress(OSError):
        key_file.chmod(0o600)
    if path is not None:
        _write(_files(), session_id, str(path))


def earlier(session_id: str) -> tuple[Identity, Path, Document] | None:
    """The key, file and document this computer had in ``session_id``, if it was in it
    and its file is still there and still that session's; else None."""
    identity, path = identity_for(session_id), _read(_files()).get(session_id)
    if identity is None or not isinstance(path, str):
        return None
    try:
        loaded = sessionfile.load(path)
    except sessionfile.SessionFileError:
        return None
    if loaded.session_id != session_id:
        return None
    return identity, Path(path), loaded.doc


@dataclass(frozen=True)
class Membership:
    """What lets this laptop back into a session without the code: its key, the creator's
    admission of it, and the session as proven when it was admitted."""

    identity: Identity
    admission: bytes
    anchor: Anchor


def _memberships() -> Path:
    return data_dir() / "memberships.json"


def remember_membership(anchor: Anchor, identity: Identity, admission: bytes) -> None:
    """Keep the admission this laptop was given (its key is kept by ``remember``), found
    again by the session's tag: the tag is what a join link or the network gives."""
    _write(_memberships(), anchor.tag, {"session": anchor.session_id,
                                        "creator": anchor.creator.hex(),
                                        "nonce": anchor.nonce.hex(),
                                        "admission": admission.hex()})
    remember(anchor.session_id, identity)


def membership(tag: str) -> Membership | None:
    """How this laptop was admitted to the session announced as ``tag``, if it was, and
    if what it kept still proves it (a damaged store is as good as none)."""
    entry = _read(_memberships()).get(tag)
    if not isinstance(entry, dict):
        return None
    try:
        anchor = Anchor.proven(bytes.fromhex(entry["creator"]), bytes.fromhex(entry["nonce"]))
        admission = bytes.fromhex(entry["admission"])
    except (KeyError, TypeError, ValueError):
        return None
    identity = identity_for(anchor.session_id)
    if identity is None or anchor.session_id != entry.get("session") or anchor.tag != tag \
            or not anchor.admits(identity.actor, admission):
        return None
    return Membership(identity, admission, anchor)


def heads(session_id: str) -> bytes:
    """The signed heads kept beside the session (what lets this laptop pass on the others'
    changes after a restart); empty when none were kept."""
    path = _key_file(session_id)
    if path is None:
        return b""
    try:
        return path.with_suffix(".heads").read_bytes()
    except OSError:
        return b""


def keep_heads(session_id: str, blob: bytes) -> None:
    """Keep the signed heads (after each save of the session file). Best effort."""
    path = _key_file(session_id)
    if path is not None:
        with contextlib.suppress(sessionfile.SessionFileError):
            sessionfile.write_atomic(path.with_suffix(".heads"), blob)


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


def kept_label(group_id: str) -> str:
    """The label this computer last announced ``group_id``'s sessions with ("" if none):
    the facilitator chose it to be public, and the group's next meeting keeps it."""
    label = _read(_labels_store()).get(group_id)
    return label if isinstance(label, str) else ""


def remember_label(group_id: str, label: str) -> None:
    """Keep the label a group's session was announced with, for its next meeting."""
    if label:
        _write(_labels_store(), group_id, label)
