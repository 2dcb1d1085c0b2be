"""The floor and the plan during the clarifying questions (phase 2, 7 min 30 s in).

Presence (hands, "I'm done") travels outside the document, between nodes;
these rooms have no node, so ``PresentRoom`` stands in for it with fixed
values: everyone online, Chloé's hand up, Bob done.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tests.tui.snapshot_apps.sessions import Group, SecondsClock, in_questions
from tui.app import CercleApp, make_app
from tui.room import Member, Room


@dataclass
class PresentRoom(Room):
    """A room whose roster shows fixed presence: hands raised (at a time) and people done."""

    hands: dict[str, float] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def members(self) -> list[Member]:
        return [dataclasses.replace(m, online=True, hand_raised_at=self.hands.get(m.id),
                                    done=m.id in self.done)
                for m in super().members()]


def _room(people: Group, role: str) -> PresentRoom:
    return PresentRoom(people.replica(role), clock=SecondsClock(people.clock),
                       hands={people.chloe.me: 1.0}, done={people.bob.me})


def _app(room: Room, lang: str) -> CercleApp:
    return make_app(start="live", room=room, lang=lang, advertise=False, clock=room.clock)


def bob_speaks(lang: str) -> CercleApp:
    """Anne's laptop: she gave Bob the floor and had 5 more minutes; Chloé's hand is up."""
    people = in_questions()
    people.control("extend", 5)
    people.control("give_floor", people.bob.me)
    return _app(_room(people, "facilitator"), lang)


def round_at_bob(lang: str) -> CercleApp:
    """Chloé's laptop during a round: Anne has spoken, Bob has the floor, Chloé is next."""
    people = in_questions()
    people.control("start_round")
    people.control("next_speaker")
    return _app(_room(people, "consultant"), lang)
