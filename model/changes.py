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

from collections.abc import Iterator, Sequence
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


def _runs(data: bytes, read_value: str) -> list[tuple[int | bytes | None, int]]:
    """An RLE column as (value, repeat) pairs: runs (n > 0), literals (n < 0), nulls (n = 0)."""
    reader = _Reader(data)
    out: list[tuple[int | bytes | None, int]] = []
    while not reader.done():
        count = reader.sleb()
        if count > 0:
            out.append((_value(reader, read_value), count))
        elif count < 0:
            out.extend((_value(reader, read_value), 1) for _ in range(-count))
        else:
            nulls = reader.uleb()
            if nulls:
                out.append((None, nulls))
    return out


def _value(reader: _Reader, kind: str) -> int | bytes:
    if kind == "uleb":
        return reader.uleb()
    return reader.take(reader.uleb())


class OpRun(NamedTuple):
    """Consecutive ops of a change with the same target object, key and action.

    Typing a sentence is one op per character, all on one text object: one run.
    """

    first: ObjId  # the id of the first op of the run; the others follow it
    size: int  # how many ops
    obj: ObjId
    key: str | None
    action: int


def parse_runs(raw: bytes) -> Iterator[OpRun]:
    """The ops of one uncompressed change chunk (``Change.raw_bytes``), run by run."""
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
    # Walk the four columns together, a run at a time (a column that ends early is null).
    cols = [_runs(columns.get(_OBJ_ACTOR, b""), "uleb"), _runs(columns.get(_OBJ_CTR, b""), "uleb"),
            _runs(columns.get(_KEY_STR, b""), "bytes"), _runs(columns.get(_ACTION, b""), "uleb")]
    at = [0, 0, 0, 0]  # current run of each column
    left = [col[0][1] if col else 0 for col in cols]  # ops left in it
    index = 0
    while at[3] < len(cols[3]):
        actor_index, counter, key, act = (
            col[i][0] if i < len(col) else None for col, i in zip(cols, at, strict=True))
        step = min(n for n, col, i in zip(left, cols, at, strict=True) if i < len(col))
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
        if step <= 0:
            raise ChangeFormatError("malformed column run")
        yield OpRun((start_op + index, actors[0]), step, obj,
                    key.decode("utf-8", "replace") if isinstance(key, bytes) else None, act)
        index += step
        for c, col in enumerate(cols):
            if at[c] < len(col):
                left[c] -= step
                if left[c] == 0:
                    at[c] += 1
                    left[c] = col[at[c]][1] if at[c] < len(col) else 0


def parse_change(raw: bytes) -> Iterator[Op]:
    """The ops of one uncompressed change chunk, one by one."""
    for run in parse_runs(raw):
        counter, actor = run.first
        for n in range(run.size):
            yield Op((counter + n, actor), run.obj, run.key, run.action)


def obj_id_of(raw: bytes) -> ObjId:
    """The (counter, actor) of an object id as returned by the document API."""
    if raw == b"\x00" or len(raw) < 2:
        return ROOT_OBJ
    length = raw[1]
    reader = _Reader(raw, 2 + length)
    reader.uleb()  # actor index
    return reader.uleb(), raw[2 : 2 + length]


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


SYNC_MESSAGE = 0x42


def changes_message(changes: Sequence[bytes]) -> bytes:
    """An Automerge sync message that carries ``changes`` and says nothing else.

    The binding has no ``apply_changes``; a sync message with no heads, no
    needs and no bloom filter, taken with a throwaway ``SyncState``, applies the
    changes (those whose dependencies are missing wait for them, as usual) and
    teaches that state nothing. Layout: type byte, then heads, needs and haves,
    each a count (here 0), then the count of changes and each one length-prefixed.
    """
    parts = [bytes((SYNC_MESSAGE,)), _uleb(0), _uleb(0), _uleb(0), _uleb(len(changes))]
    for change in changes:
        parts += (_uleb(len(change)), change)
    return b"".join(parts)


def sync_message_needs(raw: bytes) -> list[bytes]:
    """The hashes of the changes an encoded Automerge sync message asks the other side for.

    A sync message starts with its type byte, the sender's heads and the hashes
    it needs (each a count then 32-byte hashes). A message made for a peer we
    know nothing about needs exactly the missing dependencies of the changes
    the document holds back: any at all means it holds changes that cannot be
    applied.
    """
    reader = _Reader(raw)
    reader.byte()  # message type
    reader.take(32 * reader.uleb())  # heads
    return [reader.take(32) for _ in range(reader.uleb())]
