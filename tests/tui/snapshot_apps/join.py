"""The join screen while it looks for sessions; its browser binds loopback only."""

from __future__ import annotations

from tui.app import CercleApp, make_app


def app(lang: str = "en") -> CercleApp:
    return make_app(start="join", lang=lang, advertise=False, interfaces=["127.0.0.1"])
