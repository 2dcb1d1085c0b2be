"""Who has spoken and who has written in the current phase: the facilitator's
discreet view, so nobody is forgotten. It is never exported.

Items are counted for their speaker (the person a scribe typed for, else the
author). Anonymous items count for nobody: attributing them, even as a
number, would tell who wrote them.
"""

from __future__ import annotations

import msgspec

from model.snapshot import Snapshot


class Participation(msgspec.Struct, frozen=True):
    """One participant in the current phase."""

    id: str
    name: str
    spoke: bool  # held the floor in this phase
    written: int  # named items in this phase whose words are theirs

    @property
    def silent(self) -> bool:
        return not self.spoke and not self.written


def participation(snap: Snapshot) -> tuple[Participation, ...]:
    """Every participant, in join order, for the phase the session is in."""
    index = snap.control.phase.index
    written: dict[str, int] = {}
    for item in snap.items:
        # Carried actions were written in an earlier session, not in this phase.
        if item.phase != index or item.anonymous or item.origin is not None:
            continue
        written[item.speaker] = written.get(item.speaker, 0) + 1
    spoke = set(snap.control.spoke)
    return tuple(Participation(p.id, p.name, p.id in spoke, written.get(p.id, 0))
                 for p in snap.participants)
