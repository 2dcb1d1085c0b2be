"""The session as the app holds it: a replica, maybe a network node, maybe a file.

Screens call ``Room.act`` with a ``Session`` intent; the room applies it,
then hands the change to the node (which saves, then sends) or, offline,
saves the file. A refusal comes back as one line for the person at the
keyboard; an offline save that fails is told through ``on_event`` as the node
tells its own (``SaveFailed``, then ``Saved`` once a later save succeeds),
while the change stays in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model import sessionfile
from model.ops import OperationError
from model.session import NotAllowed, Session
from model.snapshot import Snapshot
from sync.events import NodeEvent, Saved, SaveFailed
from sync.node import PeerView, SessionNode


@dataclass
class Member:
    """A participant as the roster shows them."""

    id: str
    name: str
    online: bool
    me: bool
    hand_raised_at: float | None = None
    done: bool = False
    typing: bool = False
    roles: tuple[str, ...] = ()
    speaker: bool = False  # has the floor


@dataclass
class Room:
    session: Session
    node: SessionNode | None = None
    path: Path | None = None
    clock: Callable[[], float] = time.time
    read_only: bool = False
    last_result: Any = None
    on_event: Callable[[NodeEvent], None] | None = None  # told of failed and recovered saves
    unsaved: str = field(default="")  # why the last offline save failed ("" once saved)

    @property
    def snapshot(self) -> Snapshot:
        return self.session.snapshot

    @property
    def me(self) -> str:
        return self.session.me

    def now_ms(self) -> int:
        """Now on the facilitator's clock: the same timer on every laptop."""
        if self.node is not None:
            return self.node.facilitator_now_ms()
        return int(self.clock() * 1000)

    def role_of(self, participant: str) -> tuple[str, ...]:
        roles = self.snapshot.control.roles
        return tuple(r for r in ("facilitator", "client", "scribe")
                     if getattr(roles, r) == participant)

    @property
    def my_roles(self) -> tuple[str, ...]:
        return self.role_of(self.me)

    def act(self, intent: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
        """Run one intent of ``Session``; None when done, else a reason to show."""
        if self.read_only:
            return "read-only"
        try:
            result = intent(*args, **kwargs)
        except (NotAllowed, OperationError, ValueError) as exc:
            return str(exc)
        self.changed()
        self.last_result = result
        return None

    def changed(self) -> None:
        """A local change happened: save and send it (or just save, offline)."""
        if self.node is not None:
            self.node.local_changed()
        elif self.path is not None:
            try:
                sessionfile.save(self.path, self.session.doc)
            except sessionfile.SessionFileError as exc:
                # The change stays in the session; the next one saves both.
                self.unsaved = str(exc)
                self._tell(SaveFailed(self.unsaved))
            else:
                if self.unsaved:
                    self.unsaved = ""
                    self._tell(Saved())

    def _tell(self, event: NodeEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # -- presence -------------------------------------------------------------
    def _presence(self, peer: PeerView | None = None) -> Any:
        return peer.presence if peer else (self.node.presence if self.node else None)

    def members(self) -> list[Member]:
        snap = self.snapshot
        peers = {p.peer_id: p for p in self.node.peers} if self.node else {}
        index = snap.control.phase.index
        out = []
        for person in snap.participants:
            mine = person.id == self.me
            presence = self._presence(None) if mine else self._presence(peers.get(person.id))
            out.append(Member(
                id=person.id, name=person.name, online=mine or person.id in peers, me=mine,
                hand_raised_at=(presence.hand_raised_at or 0.0)
                if presence and presence.hand_raised else None,
                done=bool(presence and presence.done_phase == index),
                typing=bool(presence and presence.typing),
                roles=self.role_of(person.id),
                speaker=person.id == snap.control.floor.speaker,
            ))
        return out

    def toggle_hand(self) -> bool:
        """Raise or lower my hand; returns whether it is now raised."""
        if self.node is None:
            return False
        raised = not self.node.presence.hand_raised
        self.node.set_presence(hand_raised=raised, hand_raised_at=self.clock() if raised else None)
        return raised

    def toggle_done(self) -> bool:
        """Say "I'm done" for the current phase (or take it back)."""
        if self.node is None:
            return False
        index = self.snapshot.control.phase.index
        done = self.node.presence.done_phase != index
        self.node.set_presence(done_phase=index if done else None)
        return done

    def done_count(self) -> tuple[int, int]:
        """(people done, people online) in the current phase, facilitator excluded."""
        return count_done(self.members())


def count_done(members: Sequence[Member]) -> tuple[int, int]:
    """(people done, people online) among ``members``, the facilitator excluded."""
    waited = [m for m in members if m.online and "facilitator" not in m.roles]
    return sum(m.done for m in waited), len(waited)


def hand_order(members: Sequence[Member]) -> list[Member]:
    """The people whose hand is up, first raised first."""
    raised = [m for m in members if m.hand_raised_at is not None]
    return sorted(raised, key=lambda m: (m.hand_raised_at or 0.0, m.id))
