"""A session in phase 2 (clarifying questions), from each person's laptop."""

from __future__ import annotations

from tests.tui.snapshot_apps.sessions import in_questions
from tui.app import CercleApp, make_app

ROLES = ("facilitator", "client", "consultant")


def app(role: str, lang: str) -> CercleApp:
    """``role``'s own replica, 7 min 30 s into the 20-minute question phase."""
    people = in_questions()
    room = people.room(role)
    return make_app(start="live", room=room, lang=lang, advertise=False,
                     clock=room.clock)
