"""The form to start a session, empty."""

from __future__ import annotations

from tui.app import CercleApp, make_app


def app(lang: str = "en") -> CercleApp:
    return make_app(start="host", lang=lang, advertise=False)
