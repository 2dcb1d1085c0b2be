"""Names and constants of the session document (format 1).

The document layout is described in ``docs/file-format.md``; every key the
model reads or writes is named here so that the layout has one home.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

FORMAT_VERSION: Final = 1
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
ControlType = Literal["start", "pause", "resume", "extend", "goto", "role", "end"]
CONTROL_TYPES: Final[tuple[str, ...]] = get_args(ControlType)

# Item fields that hold plain scalars, with their Python type, by kind.
COMMON_ITEM_FIELDS: Final = ("kind", "author", "phase", "created")
KIND_FIELDS: Final[dict[str, dict[str, type]]] = {
    "question": {"answered": bool},
    "advice": {"retained": bool},
    "hypothesis": {"retained": bool},
    "action": {"owner": str, "due": str, "status": str, "status_note": str},
}
