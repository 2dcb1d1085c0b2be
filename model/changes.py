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

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

MAGIC = bytes.fromhex("856f4a83")
CHUNK_CHANGE = 1
CHUNK_COMPRESSED = 2  # a change chunk whose contents are DEFLATE-compressed

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


def uleb_bytes(value: int) -> bytes:
    """``value`` as an unsigned LEB128 varint, Automerge's integer encoding."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


# --- Decoding a change received from another laptop --------------------------------------
# Everything here reads hostile bytes: sizes are checked before any work, the compressed
# form is inflated under a cap, and anything not exactly a well-formed change is refused.

# Op columns of a change (spec: "Change op columns"); (id << 4) | type.
_KEY_ACTOR = (1 << 4) | 1
_KEY_CTR = (1 << 4) | 3
_INSERT = (3 << 4) | 4
_VAL_META = (5 << 4) | 6
_VAL_RAW = (5 << 4) | 7
_PRED_GROUP = (7 << 4) | 0
_PRED_ACTOR = (7 << 4) | 1
_PRED_CTR = (7 << 4) | 3
_EXPAND = (9 << 4) | 4
_MARK_NAME = (10 << 4) | 5
_KNOWN_COLUMNS = frozenset({_OBJ_ACTOR, _OBJ_CTR, _KEY_ACTOR, _KEY_CTR, _KEY_STR, _INSERT,
                            _ACTION, _VAL_META, _VAL_RAW, _PRED_GROUP, _PRED_ACTOR, _PRED_CTR,
                            _EXPAND, _MARK_NAME})
ACTION_DELETE = 3


@dataclass(frozen=True, slots=True)
class DecodedChange:
    """A change as the bytes say, checked for shape: who wrote it, its place in their
    sequence, what it depends on, and its hash (computed here, never taken on trust)."""

    data: bytes  # the bytes as received, handed to Automerge unchanged
    hash: bytes
    actor: bytes  # the author: the first actor of the change
    seq: int
    start_op: int
    time: int  # the author's clock, ms since the epoch (a claim)
    deps: tuple[bytes, ...]
    actors: tuple[bytes, ...]  # the change's actor table; actors[0] is the author
    body: bytes  # the uncompressed change chunk (what ``parse_runs`` reads)

    @property
    def size(self) -> int:
        """Bytes of the uncompressed change: what it costs to hold."""
        return len(self.body)


def decode_change(data: bytes, *, max_size: int) -> DecodedChange:
    """Check and decode one encoded change chunk (plain or compressed).

    Raises ChangeFormatError for anything else: other chunk types, a wrong checksum, bytes
    after the chunk, or an uncompressed size over ``max_size`` (checked while inflating, so
    a small compressed change cannot make us hold a large one).
    """
    reader = _Reader(data)
    if reader.take(4) != MAGIC:
        raise ChangeFormatError("not an Automerge chunk")
    checksum = reader.take(4)
    kind = reader.byte()
    length = reader.uleb()
    if kind not in (CHUNK_CHANGE, CHUNK_COMPRESSED):
        raise ChangeFormatError(f"chunk type {kind} is not a change")
    if reader.pos + length != len(data):
        raise ChangeFormatError("the chunk's length does not match its bytes")
    contents = data[reader.pos:]
    if kind == CHUNK_COMPRESSED:
        inflater = zlib.decompressobj(-15)
        try:
            contents = inflater.decompress(contents, max_size + 1)
        except zlib.error as exc:
            raise ChangeFormatError(f"the compressed change does not inflate: {exc}") from None
        if len(contents) > max_size or inflater.unconsumed_tail or not inflater.eof:
            raise ChangeFormatError(f"the change inflates past {max_size} bytes")
    elif length > max_size:
        raise ChangeFormatError(f"the change is {length} bytes, over {max_size}")
    prefix = bytes((CHUNK_CHANGE,)) + uleb_bytes(len(contents))
    digest = hashlib.sha256(prefix + contents).digest()
    if digest[:4] != checksum:
        raise ChangeFormatError("the change's checksum does not match its contents")
    body = MAGIC + checksum + prefix + contents
    head = _Reader(body, len(MAGIC) + 4 + len(prefix))
    deps = tuple(head.take(32) for _ in range(head.uleb()))
    actor = head.take(head.uleb())
    seq = head.uleb()
    start_op = head.uleb()
    time = head.sleb()
    head.take(head.uleb())  # message
    others = [head.take(head.uleb()) for _ in range(head.uleb())]
    if seq < 1 or start_op < 1:
        raise ChangeFormatError("a change's seq and first op count from 1")
    return DecodedChange(data=data, hash=digest, actor=actor, seq=seq, start_op=start_op,
                         time=time, deps=deps, actors=(actor, *others), body=body)


class WriteRun(NamedTuple):
    """Consecutive ops of a change that write the same way: ``size`` ops on object ``obj``
    (its creator is ``obj[1]``), under map key ``key`` (None for list and text positions),
    with ``action``, and the authors of the values they overwrite or delete (``pred``)."""

    size: int
    obj: ObjId
    key: str | None
    action: int
    pred: frozenset[bytes]


class _Column:
    """An RLE column read run by run, consumed op by op: ``value`` is the current run's
    value and ``left`` how many ops still have it (0 once the column ended)."""

    __slots__ = ("_at", "_runs", "left", "value")

    def __init__(self, data: bytes, kind: str) -> None:
        self._runs = _booleans(data) if kind == "bool" else _runs(data, kind)
        self._at = 0
        self.value: int | bytes | None = self._runs[0][0] if self._runs else None
        self.left = self._runs[0][1] if self._runs else 0

    def skip(self, count: int) -> None:
        """Consume ``count`` values of the current run (``count`` ≤ ``left``)."""
        self.left -= count
        if not self.left:
            self._at += 1
            if self._at < len(self._runs):
                self.value, self.left = self._runs[self._at]
            else:
                self.value = None

    def take(self, count: int) -> list[tuple[int | bytes | None, int]]:
        """Consume ``count`` values, across runs; raises if the column has fewer."""
        out = []
        while count:
            if not self.left:
                raise ChangeFormatError("an op column ends early")
            step = min(count, self.left)
            out.append((self.value, step))
            count -= step
            self.skip(step)
        return out

    def remaining(self) -> int:
        return self.left + sum(n for _, n in self._runs[self._at + 1:]) \
            if self._at < len(self._runs) else 0


def _booleans(data: bytes) -> list[tuple[int | bytes | None, int]]:
    """A boolean column: alternating run lengths, starting with false."""
    reader = _Reader(data)
    out: list[tuple[int | bytes | None, int]] = []
    value = 0
    while not reader.done():
        count = reader.uleb()
        if count:
            out.append((value, count))
        value ^= 1
    return out


def write_runs(change: DecodedChange) -> Iterator[WriteRun]:
    """The ops of ``change``, run by run, with what a write rule needs to judge them.

    Strict: every per-op column must hold exactly as many ops as the action column, and a
    column this decoder does not know refuses the change (a later Automerge could read it
    in a way these rules did not judge).
    """
    reader = _Reader(change.body, len(MAGIC) + 4)
    reader.byte()
    length = reader.uleb()
    body = _Reader(change.body, reader.pos, reader.pos + length)
    for _ in range(body.uleb()):
        body.take(32)
    body.take(body.uleb())
    body.uleb()
    body.uleb()
    body.sleb()
    body.take(body.uleb())
    for _ in range(body.uleb()):
        body.take(body.uleb())
    specs = [(body.uleb(), body.uleb()) for _ in range(body.uleb())]
    columns: dict[int, bytes] = {}
    for spec, size in specs:
        if spec & ~_DEFLATE not in _KNOWN_COLUMNS or spec & _DEFLATE:
            raise ChangeFormatError(f"unknown or compressed op column {spec:#x}")
        columns[spec] = body.take(size)
    actions = _Column(columns.get(_ACTION, b""), "uleb")
    total = actions.remaining()
    obj_actor = _Column(columns.get(_OBJ_ACTOR, b""), "uleb")
    obj_ctr = _Column(columns.get(_OBJ_CTR, b""), "uleb")
    keys = _Column(columns.get(_KEY_STR, b""), "bytes")
    groups = _Column(columns.get(_PRED_GROUP, b""), "uleb")
    pred_actors = _Column(columns.get(_PRED_ACTOR, b""), "uleb")
    inserts = _Column(columns.get(_INSERT, b""), "bool")
    per_op = (obj_actor, obj_ctr, keys, groups, inserts)
    # An encoder may leave out a column's trailing nulls, never add values past the last op.
    if any(column.remaining() > total for column in per_op):
        raise ChangeFormatError("op columns disagree on the number of ops")
    actors = change.actors
    columns_of_op = (actions, *per_op)
    done = 0
    while done < total:
        # The ops up to the next place where any column's value changes are one run.
        step = total - done
        for column in columns_of_op:
            if 0 < column.left < step:
                step = column.left
        action, a_idx, ctr, key, group = (actions.value, obj_actor.value, obj_ctr.value,
                                          keys.value, groups.value)
        for column in columns_of_op:
            if column.left:
                column.skip(step)
        if not isinstance(action, int):
            raise ChangeFormatError("an op without an action")
        if a_idx is None or ctr is None:
            obj = ROOT_OBJ
        elif isinstance(a_idx, int) and a_idx < len(actors) and isinstance(ctr, int):
            obj = (ctr, actors[a_idx])
        else:
            raise ChangeFormatError("an op names an unknown object")
        preds: set[bytes] = set()
        if isinstance(group, int) and group:
            for p_idx, _ in pred_actors.take(group * step):
                if not isinstance(p_idx, int) or p_idx >= len(actors):
                    raise ChangeFormatError("an op overwrites an unknown actor's value")
                preds.add(actors[p_idx])
        yield WriteRun(step, obj, key.decode("utf-8", "replace") if isinstance(key, bytes)
                       else None, action, frozenset(preds))
        done += step
