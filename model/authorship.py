"""Who wrote a value: decoding Automerge object and op ids.

An op id is ``<tag> <actor length> <actor bytes> <actor index (uleb128)>
<counter (uleb128)>``; the counter is a Lamport clock, so ordering ops by
``(counter, actor)`` respects causality. This is what lets a reader check
authority on read: a value counts only when its op names the right actor.
"""

from __future__ import annotations

from typing import NamedTuple


class OpId(NamedTuple):
    counter: int
    actor: str  # hex


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


def parse_op_id(raw: bytes) -> OpId | None:
    """Decode an op/object id; None for the root object or an id not understood."""
    if len(raw) < 2:
        return None
    length = raw[1]
    actor_end = 2 + length
    if actor_end > len(raw):
        return None
    try:
        _, pos = _uleb(raw, actor_end)
        counter, _ = _uleb(raw, pos)
    except ValueError:
        return None
    return OpId(counter, raw[2:actor_end].hex())
