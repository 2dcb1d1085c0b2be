"""App-wide messages: what the network and the session tell the screens, and what
the screens ask of the app ("messages up, attributes down").

Bursts collapse: a queued ``SessionChanged`` replaces an older one still in
the queue (``can_replace``), so a storm of remote edits repaints once.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from model.protocols import Protocol
from sync.events import NodeEvent
from tui.room import Room


class SessionChanged(Message):
    """The session's snapshot changed (local or remote)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionChanged)


class PeersUpdated(Message):
    """Who is online, hands and readiness changed."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PeersUpdated)


class NetworkNotice(Message):
    """Something about the network a person should know (wrong code, lost link...)."""

    def __init__(self, event: NodeEvent) -> None:
        super().__init__()
        self.event = event


# -- what a screen asks of the app ----------------------------------------------------------
# Screens never call the app: they post one of these, and the app (which owns the
# room, the network and the settings) decides what happens and which screen comes next.


class HostFormRequested(Message):
    """Show the form to start a session (the group's next one, from ``continue_from``)."""

    def __init__(self, continue_from: Path | None = None) -> None:
        super().__init__()
        self.continue_from = continue_from


class JoinFormRequested(Message):
    """Show the form to join a session, filled with what is already known."""

    def __init__(self, address: str = "", code: str = "", name: str = "") -> None:
        super().__init__()
        self.address = address
        self.code = code
        self.name = name


class HostRequested(Message):
    """Start a session: a new one from ``protocol``, or the next one of ``continue_from``,
    announced on the network as ``label`` (public; "" for the default)."""

    def __init__(self, *, title: str, protocol: Protocol | None, name: str, label: str = "",
                 continue_from: Path | None = None) -> None:
        super().__init__()
        self.title = title
        self.protocol = protocol
        self.name = name
        self.label = label
        self.continue_from = continue_from


class ResumeRequested(Message):
    """Host the session of ``path`` again (after a crash, or another day)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class JoinRequested(Message):
    """Join the session at ``address`` with the join ``code``, as ``name``."""

    def __init__(self, *, address: str, code: str, name: str) -> None:
        super().__init__()
        self.address = address
        self.code = code
        self.name = name


class ReviewRequested(Message):
    """Open the session file ``path`` to read it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class ExportRequested(Message):
    """Write the exports of ``room``'s session beside its file."""

    def __init__(self, room: Room) -> None:
        super().__init__()
        self.room = room


class LobbyRequested(Message):
    """Show the join code and who is here (Ctrl+K in a live session)."""


class LobbyClosed(Message):
    """The lobby is done with: ``begin`` goes on to the live session (the host's first
    lobby), otherwise back to the screen underneath."""

    def __init__(self, *, begin: bool) -> None:
        super().__init__()
        self.begin = begin


class LanguageToggled(Message):
    """Switch the interface between English and French (and remember it)."""
