"""The join screen: looking for sessions, sessions found (two with the same label), and
nothing found after a few seconds. The network is ``FakeBrowser``'s: tests say what it
shows (a real browser would list whatever runs on the machine's loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sync.discovery import FoundSession
from tui.app import CercleApp, make_app


class FakeBrowser:
    """Stands in for ``sync.discovery.Browser`` (patched into ``tui.screens.join``): the
    test says what the network shows, or that discovery cannot start."""

    current: FakeBrowser | None = None
    fails: Exception | None = None

    def __init__(self, *, on_change: Callable[[dict[str, FoundSession]], None],
                 interfaces: list[str] | None = None) -> None:
        self.on_change = on_change
        FakeBrowser.current = self

    async def __aenter__(self) -> FakeBrowser:
        if FakeBrowser.fails is not None:
            raise FakeBrowser.fails
        return self

    async def __aexit__(self, *exc: object) -> None:
        FakeBrowser.current = None

    async def wait_for(self, predicate: Callable[[dict[str, FoundSession]], bool]) -> None:
        await asyncio.Event().wait()

    def show(self, *sessions: FoundSession) -> None:
        self.on_change({s.name: s for s in sessions})


def session(tag: str, label: str = "Cercle · Anne", people: int = 1,
            host: str = "192.168.1.20") -> FoundSession:
    return FoundSession(name=f"Cercle {tag}._cercle._tcp.local.", tag=tag, label=label,
                        host=host, port=47000, people=people, version=1, addresses=(host,))


# Two groups in one building, and a second laptop announcing itself with the same label.
ROOM = (session("5f3a9c01", "Codev managers · Anne", 4),
        session("a17be203", "Atelier RH", 6, "192.168.1.31"),
        session("c0ffee42", "Codev managers · Anne", 1, "192.168.1.77"))


def app(lang: str = "en") -> CercleApp:
    return make_app(start="join", lang=lang, advertise=False, interfaces=["127.0.0.1"])
