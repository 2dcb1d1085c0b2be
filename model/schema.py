"""Names and constants of the session document (format 1).

The document layout is described in ``docs/file-format.md``; every key the
model reads or writes is named here so that the layout has one home.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# Format 2 adds anonymity, the group and its chain of sessions, action updates,
# votes, evaluations, and the floor / case / meeting controls. Every format-1
# file is a valid format-2 file; a format-1 reader opens a format-2 file with a
# note (it would show the authors of anonymous items and stale action statuses).
FORMAT_VERSION: Final = 2
APP_NAME: Final = "cercle"
FILE_SUFFIX: Final = ".cercle"

# Root keys.
K_APP: Final = "app"
K_FORMAT: Final = "format"
K_SESSION: Final = "session"
K_PROTOCOL: Final = "protocol"
K_PARTICIPANTS: Final = "participants"
K_ITEMS: Final = "items"
K_CONTROL: Final = "control"

ItemKind = Literal[
    "question", "contract", "advice", "action", "learning", "note", "hypothesis", "proposal"
]
ITEM_KINDS: Final[tuple[str, ...]] = get_args(ItemKind)

ActionStatus = Literal["open", "in_progress", "done", "dropped", "carried_over"]
ACTION_STATUSES: Final[tuple[str, ...]] = get_args(ActionStatus)

Role = Literal["facilitator", "client", "scribe"]
ROLES: Final[tuple[str, ...]] = get_args(Role)

PhaseStatus = Literal["waiting", "running", "paused", "ended"]

# Control events, appended by the facilitator to their own log (see control.py).
ControlType = Literal[
    "start", "pause", "resume", "extend", "goto", "role", "end",
    "floor", "round", "turn", "case", "meeting",
]
CONTROL_TYPES: Final[tuple[str, ...]] = get_args(ControlType)

# Keys of the session section written once, at creation, by the creator; a
# reader ignores any value of these keys written by someone else.
K_ANONYMOUS: Final = "anonymous"  # list of item kinds whose authors are not shown
K_GROUP: Final = "group"  # map {id, name, members[]}
K_CHAIN: Final = "chain"  # list of {id, title, created}: earlier sessions, oldest first
K_CLOSED_ACTIONS: Final = "closed_actions"  # actions closed in earlier sessions
K_FOLLOW_UP: Final = "follow_up_phases"  # the template's follow-up phases, kept for later
CREATOR_KEYS: Final = (K_ANONYMOUS, K_GROUP, K_CHAIN, K_CLOSED_ACTIONS, K_FOLLOW_UP)

# Kinds that may be anonymous. Not "proposal" (its author becomes the client),
# "contract" (the client's own words) or "action" (it has a named owner).
ANONYMIZABLE_KINDS: Final = ("question", "advice", "hypothesis", "learning", "note")

# An action is carried to the next session while it is still open.
OPEN_STATUSES: Final = ("open", "in_progress", "carried_over")

# Per-participant keys (participants/<actor>), counted only when <actor> wrote them.
RATINGS: Final = (1, 2, 3, 4, 5)
FEEDBACK_MAX: Final = 280  # characters of the one-line closing feedback

# Item fields that hold plain scalars, with their Python type, by kind.
COMMON_ITEM_FIELDS: Final = ("kind", "author", "phase", "created")
KIND_FIELDS: Final[dict[str, dict[str, type]]] = {
    "question": {"answered": bool},
    "advice": {"retained": bool},
    "hypothesis": {"retained": bool},
    "action": {"owner": str, "due": str, "status": str, "status_note": str, "owner_name": str},
}
