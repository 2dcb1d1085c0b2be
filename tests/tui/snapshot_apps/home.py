"""Home, as someone opening Cercle for the first time sees it (no recent session)."""

from __future__ import annotations

from tui.app import CercleApp, make_app


def app(lang: str) -> CercleApp:
    return make_app(start="home", lang=lang, advertise=False)
