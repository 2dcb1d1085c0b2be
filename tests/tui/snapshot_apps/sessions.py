"""The sessions the snapshots show: three people on three replicas, a fake clock.

Anne facilitates, Bob is the client, Chloé a consultant. Every replica is
synced with the others before a screen is built, so each person's view
shows the same board. Times come from one ``FakeClock`` (milliseconds);
``Room.clock`` wants seconds, hence ``SecondsClock``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.protocols import builtin_protocols
from model.session import Session
from tests.replicas import FakeClock, replica_of, sync_pair
from tui.room import Room

TITLE = "Le cas de Claire"
MINUTE = 60


class SecondsClock:
    """The fake clock as ``time.time`` would give it (seconds), for ``Room.clock``."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __call__(self) -> float:
        return self.clock.now / 1000


@dataclass
class Group:
    clock: FakeClock
    anne: Session  # facilitator
    bob: Session  # client
    chloe: Session  # consultant

    def sync(self) -> None:
        """Bring every replica to the same heads."""
        sync_pair(self.anne, self.bob)
        sync_pair(self.anne, self.chloe)
        sync_pair(self.anne, self.bob)

    def replica(self, role: str) -> Session:
        return {"facilitator": self.anne, "client": self.bob, "consultant": self.chloe}[role]

    def room(self, role: str, *, read_only: bool = False) -> Room:
        """The room on the laptop of the person holding ``role`` (no network node)."""
        return Room(self.replica(role), clock=SecondsClock(self.clock), read_only=read_only)

    def add(self, who: Session, kind: str, text: str, **fields: Any) -> str:
        """``who`` writes an item; the others receive it. Items a second apart keep
        their order (the board sorts by creation time, then by random id)."""
        self.clock.advance(1)
        item_id = who.add_item(kind, text, **fields)
        self.sync()
        return item_id

    def control(self, intent: str, *args: object) -> None:
        getattr(self.anne, intent)(*args)
        self.sync()


def group() -> Group:
    """Anne opens the session; Bob then Chloé join; Bob is given the client role."""
    clock = FakeClock()
    anne = Session.create(title=TITLE, protocol=builtin_protocols()["codev"], name="Anne",
                          clock=clock)
    bob = replica_of(anne, "Bob", clock)
    chloe = replica_of(anne, "Chloé", clock)
    people = Group(clock, anne, bob, chloe)
    people.sync()
    people.control("assign_role", "client", bob.me)
    return people


def in_questions() -> Group:
    """Phase 2 (clarifying questions) has been running for 7 min 30 s: 12:30 left."""
    people = group()
    people.control("start")
    people.add(people.chloe, "note", "Claire leads a team of twelve since March.")
    people.clock.advance(14 * MINUTE)
    people.control("advance")
    phase_began = people.clock.now
    asked = people.add(people.chloe, "question", "Since when has the tension lasted?")
    people.add(people.chloe, "question", "What have you already tried with Marc?")
    people.add(people.anne, "question", "Who else sees the conflict?")
    people.clock.advance(2 * MINUTE)
    people.bob.mark_answered(asked)
    people.sync()
    people.clock.now = phase_began + (7 * MINUTE + 30) * 1000
    return people


def finished() -> Group:
    """The whole co-development protocol, phase by phase, then ended."""
    people = group()
    people.control("start")
    people.add(people.chloe, "note", "Claire leads a team of twelve since March.")
    people.clock.advance(15 * MINUTE)
    people.control("advance")  # questions
    asked = people.add(people.chloe, "question", "Since when has the tension lasted?")
    people.add(people.anne, "question", "Who else sees the conflict?")
    people.bob.mark_answered(asked)
    people.sync()
    people.clock.advance(22 * MINUTE)  # two minutes over
    people.control("advance")  # contract
    people.add(people.bob, "contract", "Help me find a way to talk to Marc before June.")
    people.clock.advance(4 * MINUTE)
    people.control("advance")  # advice
    kept = people.add(people.chloe, "advice", "Meet Marc alone, on neutral ground.")
    people.add(people.anne, "advice", "Write down the facts before the meeting.")
    people.bob.mark_retained(kept)
    people.sync()
    people.clock.advance(20 * MINUTE)
    people.control("advance")  # synthesis
    people.add(people.bob, "action", "Invite Marc for a coffee", owner=people.bob.me,
               due="2026-06-15")
    people.clock.advance(10 * MINUTE)
    people.control("advance")  # learnings
    people.add(people.chloe, "learning", "Asking before advising changes the answers.")
    people.clock.advance(8 * MINUTE)
    people.control("end")
    return people
