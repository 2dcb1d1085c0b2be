"""What a SessionNode tells its owner (the app, the headless CLI, tests).

Events are small frozen records delivered through one callback; the Textual
app turns them into messages. None of them carries document content: the
owner reads the session's snapshot. Participant ids are hex public keys; texts
are for people and may quote what another laptop sent (show them as plain text).
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
    """A code attempt failed: someone typed a wrong code here (``incoming``), or the host
    refused ours."""

    address: str
    failures: int  # recent failures from this address
    incoming: bool


@dataclass(frozen=True, slots=True)
class HandshakeFailed:
    """Someone connected and failed the handshake for another reason than a wrong code.

    Garbage, an oversized or malformed frame, a replay, a key that was never admitted, or a
    connection that never spoke: the connection was dropped without touching the document.
    ``reason`` is for people.
    """

    address: str
    reason: str


@dataclass(frozen=True, slots=True)
class LinkProblem:
    """A connection attempt or a live link failed; ``reason`` is for people."""

    address: str
    reason: str


@dataclass(frozen=True, slots=True)
class Misbehaviour:
    """Something a participant's laptop sent was refused: a forged or malformed change, a
    write into someone else's data, a flood past the limits. ``culprit`` is the participant
    whose key signed it (or who sent it unsigned); ``sender`` the laptop that delivered it;
    ``reported_by`` the laptop that saw it, when another laptop told us."""

    culprit: str
    reason: str
    sender: str = ""
    reported_by: str = ""


@dataclass(frozen=True, slots=True)
class SaveFailed:
    """The session file could not be written; local changes wait until it can."""

    message: str


@dataclass(frozen=True, slots=True)
class Saved:
    """The session file was written after an earlier failure."""


@dataclass(frozen=True, slots=True)
class CodeChanged:
    """The join code changed: by hand ("rotated"), or by itself after repeated wrong codes
    ("guessing")."""

    code: str
    reason: str = "rotated"


NodeEvent = (DocumentChanged | PeersChanged | AuthFailure | HandshakeFailed | LinkProblem
             | Misbehaviour | SaveFailed | Saved | CodeChanged)
