"""App-wide messages: what the network and the session tell the screens.

Bursts collapse: a queued ``SessionChanged`` replaces an older one still in
the queue (``can_replace``), so a storm of remote edits repaints once.
"""

from __future__ import annotations

from textual.message import Message

from sync.events import NodeEvent


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
