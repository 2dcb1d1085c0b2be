"""Every private or undocumented use of the Automerge binding, in one place.

Cercle pins ``automerge==0.2.0.dev4`` (Rust automerge 0.7.2). Its typed stubs
miss a few methods that the compiled module has, one type lives in a private
module, and some facts Cercle relies on are nowhere documented: the layout of
op ids, the text of a patch, how a Rust panic surfaces. Each use is here, with
a test in ``tests/model/test_binding.py`` that states the assumption, so that
upgrading the binding means reading one file and running one test module.
Applying changes goes through a hand-made sync message (``apply_changes``): the
binding has no other way in. (``model.changes`` decodes the binary change format
itself, which *is* documented; that stays there.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from automerge._automerge import Transaction  # not re-exported by automerge.core
from automerge.core import Document, Message, SyncState

from model.changes import uleb_bytes

if TYPE_CHECKING:  # a stub-only name: at run time the class is ``builtins.Change``
    from automerge._automerge import Change

__all__ = [
    "Change",
    "Transaction",
    "entries",
    "fork_at",
    "is_rust_panic",
    "op_id_parts",
    "patch_location",
    "splice_text",
    "written_by",
]


def splice_text(tx: Transaction, text_id: bytes, start: int, delete: int, insert: str) -> None:
    """Replace ``delete`` characters at ``start`` of a text object with ``insert``.

    The binding's ``Transaction`` has ``splice_text``; its stubs do not list it.
    """
    tx.splice_text(text_id, start, delete, insert)  # type: ignore[attr-defined]


def fork_at(doc: Document, heads: Sequence[bytes]) -> Document:
    """A copy of ``doc`` as it was at ``heads`` (nothing after them, nothing held back).

    ``Document.fork_at`` exists in the binding and is missing from its stubs. It
    raises a bare ``Exception`` for heads the document does not hold, and has been seen
    to panic (``MissingOps``) on files where someone evaluated the session; both become
    ``ValueError`` here.
    """
    try:
        forked: Document = doc.fork_at(list(heads))  # type: ignore[attr-defined]
    except BaseException as exc:
        if not (type(exc) is Exception or is_rust_panic(exc)):
            raise
        raise ValueError(f"the document cannot be rebuilt at those heads ({exc})") from None
    return forked


def is_rust_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a panic inside the binding.

    pyo3 turns a Rust panic into ``pyo3_runtime.PanicException``, a
    ``BaseException`` (so ``except Exception`` lets it through) that cannot be
    imported by name: it is recognised by its class name. Seen once under load,
    during a ten-peer burst.
    """
    return type(exc).__name__ == "PanicException"


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def op_id_parts(raw: bytes) -> tuple[int, bytes] | None:
    """(Lamport counter, actor id) of an op or object id as the binding returns it.

    The binding serialises an id as ``<tag byte> <actor length> <actor bytes>
    <actor index (uleb128)> <counter (uleb128)>``; the root object is one byte.
    None for the root or bytes not laid out that way.
    """
    if len(raw) < 2:
        return None
    actor_end = 2 + raw[1]
    if actor_end > len(raw):
        return None
    try:
        _, pos = _uleb(raw, actor_end)
        counter, _ = _uleb(raw, pos)
    except ValueError:
        return None
    return counter, raw[2:actor_end]


def written_by(raw: bytes, actor: bytes) -> bool:
    """Whether the op or object id ``raw`` names ``actor`` (``op_id_parts`` without
    decoding the counter: readers ask it for every field they read)."""
    return len(raw) > 2 and raw[1] == len(actor) and raw[2:2 + raw[1]] == actor


def entries(doc: Document, obj: bytes) -> dict[str, tuple[Any, bytes]]:
    """A map's ``{key: (value, op id)}`` in two calls instead of one ``get`` per key.

    Relies on ``Document.keys`` and ``Document.values`` listing a map in the same
    order (both walk the map's keys in sorted order; undocumented).
    """
    return dict(zip(doc.keys(obj), doc.values(obj), strict=True))


# A patch has no accessors in this binding: its ``repr`` is Rust's ``Debug`` text,
# ``Patch { obj: …, path: [(Root, Map("items")), (Id(…), Map("abc")), …], action: … }``.
_PATH = re.compile(r"path: \[(.*?)\], action: ")
_PATH_KEY = re.compile(r'Map\("((?:[^"\\]|\\.)*)"\)|Seq\((\d+)\)')
_ACTION_KEY = re.compile(r'action: \w+ \{ key: "((?:[^"\\]|\\.)*)"')


def patch_location(patch: object) -> tuple[list[str], str | None] | None:
    """The keys on the path of a ``Document.diff`` patch (root first; list indexes as
    digits) and the map key its action names, if any; None when the text is not
    understood. Accepts a patch or its ``repr`` text."""
    text = patch if isinstance(patch, str) else repr(patch)
    path_match = _PATH.search(text)
    if path_match is None:
        return None
    keys = [m.group(1) if m.group(1) is not None else m.group(2)
            for m in _PATH_KEY.finditer(path_match.group(1))]
    action = _ACTION_KEY.search(text)
    return keys, action.group(1) if action else None


SYNC_MESSAGE: Final = 0x42


def changes_message(changes: Sequence[bytes]) -> bytes:
    """An Automerge sync message that carries ``changes`` and says nothing else.

    Undocumented use: the binding has no ``apply_changes``; a sync message with no heads,
    no needs and no bloom filter, taken with a throwaway ``SyncState``, applies the
    changes and teaches that state nothing. Layout (automerge's sync message, type 0x42):
    type byte, then heads, needs and haves, each a count (here 0), then the count of
    changes and each one length-prefixed (ULEB128).
    """
    none = uleb_bytes(0)  # no heads, no needs, no haves
    parts = [bytes((SYNC_MESSAGE,)), none, none, none, uleb_bytes(len(changes))]
    for change in changes:
        parts += (uleb_bytes(len(change)), change)
    return b"".join(parts)


def apply_changes(doc: Document, changes: Sequence[bytes]) -> None:
    """Apply encoded changes to ``doc`` (through ``changes_message``); the binding's bare
    ``Exception`` (or a panic) when it refuses one."""
    doc.receive_sync_message(SyncState(), Message.decode(changes_message(changes)))
