"""Home, as someone opening Cercle for the first time sees it (no recent session)."""

from __future__ import annotations

from tui.app import CercleApp


def app(lang: str) -> CercleApp:
    return CercleApp(start="home", lang=lang, advertise=False)
