"""The form to start a session, empty."""

from __future__ import annotations

from tui.app import CercleApp


def app(lang: str = "en") -> CercleApp:
    return CercleApp(start="host", lang=lang, advertise=False)
