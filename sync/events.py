"""What a SessionNode tells its owner (the app, the headless CLI, tests).

Events are small frozen records delivered through one callback; the Textual
app turns them into messages. None of them carries document content: the
owner reads the session's snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DocumentChanged:
    """Remote changes arrived (coalesced: one event for a burst)."""


@dataclass(frozen=True, slots=True)
class PeersChanged:
    """Someone connected, left, or changed their presence."""


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """A connection failed the join-code check."""

    address: str
    failures: int  # recent failures from this address
    incoming: bool  # True: someone tried to join us; False: our code was refused


@dataclass(frozen=True, slots=True)
class HandshakeFailed:
    """Someone connected and failed the handshake for another reason than a wrong code.

    Garbage, an oversized or malformed frame, a replay, or a connection that never
    spoke: the connection was dropped without touching the document. ``reason`` is
    for people.
    """

    address: str
    reason: str


@dataclass(frozen=True, slots=True)
class LinkProblem:
    """A connection attempt or a live link failed; ``reason`` is for people."""

    address: str
    reason: str


@dataclass(frozen=True, slots=True)
class SaveFailed:
    """The session file could not be written; local changes wait until it can."""

    message: str


@dataclass(frozen=True, slots=True)
class Saved:
    """The session file was written after an earlier failure."""


@dataclass(frozen=True, slots=True)
class CodeChanged:
    """The join code changed (rotated by the facilitator)."""

    code: str


NodeEvent = (DocumentChanged | PeersChanged | AuthFailure | HandshakeFailed | LinkProblem
             | SaveFailed | Saved | CodeChanged)
