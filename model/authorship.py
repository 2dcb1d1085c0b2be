"""Who wrote a value: decoding Automerge object and op ids.

An op id names its writer's actor (in Cercle, the writer's public key) and a
Lamport counter, so ordering ops by ``(counter, actor)`` respects causality.
This is what lets a reader check authority on read: a value counts only when
its op names the right actor. (The byte layout is the binding's: see
``model.binding.op_id_parts``.)
"""

from __future__ import annotations

from typing import NamedTuple

from model.binding import op_id_parts


class OpId(NamedTuple):
    counter: int
    actor: str  # hex


def parse_op_id(raw: bytes) -> OpId | None:
    """Decode an op/object id; None for the root object or an id not understood."""
    parts = op_id_parts(raw)
    if parts is None:
        return None
    return OpId(parts[0], parts[1].hex())


def writer(raw: bytes) -> str:
    """The actor (hex) that wrote the op or created the object ``raw``; "" if unknown."""
    parts = op_id_parts(raw)
    return parts[1].hex() if parts is not None else ""
