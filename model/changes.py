"""Which objects a batch of Automerge changes writes to, read from the changes' bytes.

``Document.diff`` in this binding walks every op of the document (62 ms for a
3,000-item session here), too slow to run after each keystroke of a remote
peer. A change, though, lists the object each of its ops targets in two
columns (``objActor``, ``objCtr``) and the key in a third (``keyStr``); those
columns are all a snapshot needs to know what to read again. This module
decodes just those columns of the documented binary change format
(https://automerge.org/automerge-binary-format-spec/); anything it does not
understand raises ``ChangeFormatError`` and the caller falls back to ``diff``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

MAGIC = bytes.fromhex("856f4a83")
CHUNK_CHANGE = 1

# Column specs: (column id << 4) | type; bit 3 marks a DEFLATE-compressed column.
_OBJ_ACTOR = (0 << 4) | 1
_OBJ_CTR = (0 << 4) | 2
_KEY_STR = (1 << 4) | 5
_ACTION = (4 << 4) | 2
_DEFLATE = 0x08

ObjId = tuple[int, bytes]  # (counter, actor); the root object is (0, b"")
ROOT_OBJ: ObjId = (0, b"")

# Op actions that create an object.
MAKE_ACTIONS = frozenset({0, 2, 4, 6})  # makeMap, makeList, makeText, makeTable


class ChangeFormatError(ValueError):
    """The bytes are not a change this decoder understands."""


class Op(NamedTuple):
    """One op of a change: its own id, its target object, its key and action."""

    id: ObjId
    obj: ObjId
    key: str | None
    action: int


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def done(self) -> bool:
        return self.pos >= self.end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ChangeFormatError("truncated change")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ChangeFormatError("varint too long")

    def sleb(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if byte & 0x40:
                    result -= 1 << shift
                return result
            if shift > 63:
                raise ChangeFormatError("varint too long")

    def take(self, count: int) -> bytes:
        if count < 0 or self.pos + count > self.end:
            raise ChangeFormatError("truncated change")
        value = self.data[self.pos : self.pos + count]
        self.pos += count
        return value


def _rle(data: bytes, read_value: str) -> Iterator[int | bytes | None]:
    """Values of an RLE column: runs (n > 0), literals (n < 0) and nulls (n = 0)."""
    reader = _Reader(data)
    while not reader.done():
        count = reader.sleb()
        if count > 0:
            value = _value(reader, read_value)
            for _ in range(count):
                yield value
        elif count < 0:
            for _ in range(-count):
                yield _value(reader, read_value)
        else:
            for _ in range(reader.uleb()):
                yield None


def _value(reader: _Reader, kind: str) -> int | bytes:
    if kind == "uleb":
        return reader.uleb()
    return reader.take(reader.uleb())


def parse_change(raw: bytes) -> Iterator[Op]:
    """The ops of one uncompressed change chunk (``Change.raw_bytes``)."""
    reader = _Reader(raw)
    if reader.take(4) != MAGIC:
        raise ChangeFormatError("not an Automerge chunk")
    reader.take(4)  # checksum: the document already verified it
    if reader.byte() != CHUNK_CHANGE:
        raise ChangeFormatError("not an uncompressed change chunk")
    length = reader.uleb()
    body = _Reader(raw, reader.pos, reader.pos + length)
    if body.end > len(raw):
        raise ChangeFormatError("truncated change")
    for _ in range(body.uleb()):
        body.take(32)  # dependency hashes
    actors = [body.take(body.uleb())]
    body.uleb()  # seq
    start_op = body.uleb()
    body.sleb()  # time
    body.take(body.uleb())  # message
    for _ in range(body.uleb()):
        actors.append(body.take(body.uleb()))
    specs = [(body.uleb(), body.uleb()) for _ in range(body.uleb())]
    columns: dict[int, bytes] = {}
    for spec, size in specs:
        data = body.take(size)
        if spec & _DEFLATE and spec & ~_DEFLATE in (_OBJ_ACTOR, _OBJ_CTR, _KEY_STR, _ACTION):
            raise ChangeFormatError("compressed op columns are not supported here")
        columns[spec] = data
    obj_actor = _rle(columns.get(_OBJ_ACTOR, b""), "uleb")
    obj_ctr = _rle(columns.get(_OBJ_CTR, b""), "uleb")
    key_str = _rle(columns.get(_KEY_STR, b""), "bytes")
    action = _rle(columns.get(_ACTION, b""), "uleb")
    for index, act in enumerate(action):
        actor_index, counter, key = next(obj_actor, None), next(obj_ctr, None), next(
            key_str, None)
        if counter is None or actor_index is None:
            obj = ROOT_OBJ
        else:
            if not isinstance(actor_index, int) or actor_index >= len(actors):
                raise ChangeFormatError("op names an unknown actor")
            if not isinstance(counter, int):
                raise ChangeFormatError("malformed object counter")
            obj = (counter, actors[actor_index])
        if not isinstance(act, int):
            raise ChangeFormatError("op without an action")
        yield Op(
            (start_op + index, actors[0]), obj,
            key.decode("utf-8", "replace") if isinstance(key, bytes) else None, act,
        )


def obj_id_of(raw: bytes) -> ObjId:
    """The (counter, actor) of an object id as returned by the document API."""
    if raw == b"\x00" or len(raw) < 2:
        return ROOT_OBJ
    length = raw[1]
    reader = _Reader(raw, 2 + length)
    reader.uleb()  # actor index
    return reader.uleb(), raw[2 : 2 + length]
