"""Typed, defensive reads of an Automerge document.

Readers never trust the document's shape: a value of the wrong type (from a
bug, another program or a hostile peer) reads as absent rather than raising.
"""

from __future__ import annotations

from typing import Any, TypeVar

from automerge.core import Document, ObjType, ScalarType

from model.authorship import parse_op_id

T = TypeVar("T")

# ScalarType members are not hashable in this binding: keep a tuple.
_PLAIN_SCALARS = (
    ScalarType.Str, ScalarType.Int, ScalarType.Uint, ScalarType.F64,
    ScalarType.Boolean, ScalarType.Timestamp, ScalarType.Null,
)


def child(doc: Document, obj: bytes, key: str | int, kind: ObjType) -> bytes | None:
    """The id of the child object at ``key`` when it is an object of ``kind``."""
    got = doc.get(obj, key)
    if got is None:
        return None
    value, obj_id = got
    if value != kind:
        return None
    return obj_id


def scalar(doc: Document, obj: bytes, key: str | int, typ: type[T], default: T) -> T:
    """The scalar at ``key`` when it has Python type ``typ``, else ``default``."""
    got = doc.get(obj, key)
    if got is None:
        return default
    value = got[0]
    if isinstance(value, ObjType):
        if value == ObjType.Text and typ is str:
            return doc.text(got[1])  # type: ignore[return-value]
        return default
    stype, raw = value
    if typ is int and stype in (ScalarType.Int, ScalarType.Uint, ScalarType.Timestamp):
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw  # type: ignore[return-value]
        return default
    if typ is float and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)  # type: ignore[return-value]
    if isinstance(raw, typ) and not (typ is int and isinstance(raw, bool)):
        return raw
    return default


def to_python(doc: Document, obj: bytes) -> Any:
    """The whole subtree at ``obj`` as plain Python (dicts, lists, scalars)."""
    kind = doc.object_type(obj)
    if kind == ObjType.Text:
        return doc.text(obj)
    if kind == ObjType.List:
        return [_value(doc, obj, i) for i in range(doc.length(obj))]
    return {k: _value(doc, obj, k) for k in doc.keys(obj)}


def _value(doc: Document, obj: bytes, key: str | int) -> Any:
    got = doc.get(obj, key)
    if got is None:
        return None
    value, obj_id = got
    if isinstance(value, ObjType):
        return to_python(doc, obj_id)
    stype, raw = value
    if stype not in _PLAIN_SCALARS:
        return None
    return raw


def fields(doc: Document, obj: bytes) -> dict[str, tuple[Any, bytes]]:
    """A map's entries as ``{key: (value, op id)}`` in two calls, not one per key."""
    return dict(zip(doc.keys(obj), doc.values(obj), strict=True))


def field(entries: dict[str, tuple[Any, bytes]], key: str, typ: type[T], default: T) -> T:
    """The scalar ``key`` of ``fields()`` output when it has Python type ``typ``."""
    got = entries.get(key)
    if got is None or isinstance(got[0], ObjType):
        return default
    raw = got[0][1]
    if isinstance(raw, typ) and (typ is bool or not isinstance(raw, bool)):
        return raw
    if typ is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)  # type: ignore[return-value]
    return default


def object_ids(doc: Document, obj: bytes) -> list[bytes]:
    """``obj`` and every object nested in it."""
    found = [obj]
    kind = doc.object_type(obj)
    if kind == ObjType.Text:
        return found
    for value, child_id in doc.values(obj):
        if isinstance(value, ObjType):
            found += object_ids(doc, child_id)
    return found


def authored_python(doc: Document, obj: bytes, actor: str) -> Any:
    """Like ``to_python``, keeping only the values whose op ``actor`` wrote.

    For data that only one participant may write (the creator's session keys):
    a value put there by anyone else reads as absent.
    """
    kind = doc.object_type(obj)
    if kind == ObjType.Text:
        return doc.text(obj)
    pairs: list[tuple[str | int, tuple[Any, bytes]]]
    if kind == ObjType.List:
        pairs = list(enumerate(doc.values(obj)))
    else:
        pairs = list(zip(doc.keys(obj), doc.values(obj), strict=True))
    out: list[Any] = []
    keyed: dict[str, Any] = {}
    for key, (value, op_id) in pairs:
        op = parse_op_id(op_id)
        if op is None or op.actor != actor:
            continue
        if isinstance(value, ObjType):
            found = authored_python(doc, op_id, actor)
        elif value[0] in _PLAIN_SCALARS:
            found = value[1]
        else:
            continue
        if kind == ObjType.List:
            out.append(found)
        else:
            keyed[str(key)] = found
    return out if kind == ObjType.List else keyed
