"""A finished session opened read-only for review."""

from __future__ import annotations

from tests.tui.snapshot_apps.sessions import finished
from tui.app import CercleApp, make_app


def app(lang: str = "en") -> CercleApp:
    people = finished()
    room = people.room("facilitator", read_only=True)
    return make_app(start="review", room=room, lang=lang, advertise=False, clock=room.clock)
