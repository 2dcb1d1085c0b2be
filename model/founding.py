"""Who created the session, and which of the document's objects are the session.

The creator writes the root of the document once, in its very first change:
``app``, ``format``, the ``session`` map, the ``protocol`` and the empty
``participants``, ``items`` and ``control`` maps. In format 3 the session map
holds the creator's public key and a nonce, and the session id is their hash
(``keys.session_id_for``): a reader that finds ``id == session_id_for(key,
nonce)`` in a session map created by ``key`` knows the creator for certain.

A root written by anyone else can only be an attack (a participant replacing
the session map to become its creator, or the items map to hide everyone's
items). So when the root's values are not all the work of one actor, or
``app`` is not the document's first op, the reader ignores the root as it
stands and reads the one the document's first change wrote: Automerge keeps
overwritten objects, and ``Document.get`` reads the root as it was at any
heads. That walk over the history costs ~0.1 s for 3,000 items; an honest
document never needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from automerge.core import ROOT, Document, ObjType

from model.authorship import parse_op_id, writer
from model.binding import entries
from model.keys import KEY_SIZE, NONCE_SIZE, session_id_for
from model.schema import (
    K_APP,
    K_CONTROL,
    K_CREATOR_KEY,
    K_FORMAT,
    K_ITEMS,
    K_NONCE,
    K_PARTICIPANTS,
    K_PROTOCOL,
    K_SESSION,
)

SECTIONS = (K_SESSION, K_PROTOCOL, K_PARTICIPANTS, K_ITEMS, K_CONTROL)
ROOT_KEYS = (K_APP, K_FORMAT, *SECTIONS)


class Founding(NamedTuple):
    """The creator, and the root objects the readers take as the session."""

    sections: dict[str, bytes]  # root key -> the map of record (session, items...)
    creator: str = ""  # hex: the proven creator, else the session map's writer
    creator_key: bytes = b""
    nonce: bytes = b""
    session_id: str = ""
    verified: bool = False
    from_history: bool = False  # the root was tampered with: read as the first change wrote it


def _maps(values: dict[str, tuple[Any, bytes]]) -> dict[str, bytes]:
    return {key: values[key][1] for key in SECTIONS
            if key in values and values[key][0] == ObjType.Map}


def _found(doc: Document, sections: dict[str, bytes], from_history: bool) -> Founding:
    session = sections.get(K_SESSION)
    if session is None:
        return Founding(sections, from_history=from_history)
    maker = writer(session)
    values = entries(doc, session)

    def own(key: str) -> Any:
        got = values.get(key)
        if got is None or isinstance(got[0], ObjType) or writer(got[1]) != maker:
            return None
        return got[0][1]

    key, nonce, session_id = own(K_CREATOR_KEY), own(K_NONCE), own("id")
    key = key if isinstance(key, bytes) and len(key) == KEY_SIZE else b""
    nonce = nonce if isinstance(nonce, bytes) and len(nonce) == NONCE_SIZE else b""
    session_id = session_id if isinstance(session_id, str) else ""
    verified = bool(key and nonce) and key.hex() == maker \
        and session_id == session_id_for(key, nonce)
    return Founding(sections, maker, key if verified else b"", nonce if verified else b"",
                    session_id, verified, from_history)


def _tampered(values: dict[str, tuple[Any, bytes]]) -> bool:
    writers = {writer(values[key][1]) for key in ROOT_KEYS if key in values}
    if len(writers) > 1:
        return True
    app = values.get(K_APP)
    op = parse_op_id(app[1]) if app is not None else None
    # The creator's first op writes `app`: counter 1 in every Cercle file ever made.
    return bool(writers) and (op is None or op.counter != 1)


def geneses(doc: Document) -> list[bytes]:
    """The hashes of the changes that depend on nothing (one in an honest document)."""
    return [change.hash for change in doc.get_changes([]) if not change.deps]


def read_founding(doc: Document,
                  first: Callable[[], Sequence[bytes]] | None = None) -> Founding:
    """The session's creator and root objects. ``first`` gives the ``geneses`` of
    ``doc`` (a caller that keeps them spares the walk over a tampered root's history)."""
    values = entries(doc, ROOT)
    if not _tampered(values):
        return _found(doc, _maps(values), False)
    candidates = []
    for genesis in sorted(geneses(doc) if first is None else first()):
        at = {key: got for key in ROOT_KEYS
              if (got := doc.get(ROOT, key, [genesis])) is not None}
        candidates.append(_found(doc, _maps(at), True))
    proven = [c for c in candidates if c.verified]
    if len(proven) == 1:
        return proven[0]
    if not candidates:
        return _found(doc, _maps(values), True)
    # Several sessions merged into one, or none proven: the first change that depends on
    # nothing, by hash, so that every replica reads the same; and nothing is proven.
    return candidates[0]._replace(creator_key=b"", nonce=b"", verified=False)
