"""Names and constants of the session document (format 3).

The document layout is described in ``docs/file-format.md``; every key the
model reads or writes is named here so that the layout has one home.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# Format 2 adds anonymity, the group and its chain of sessions, action updates,
# votes, evaluations, and the floor / case / meeting controls. Format 3 makes every
# claim provable by a key: the session id commits to the creator's key, item ids
# start with their author's actor, marks and updates live in their writer's own
# participant map, control events are signed (see docs/file-format.md). Formats 1
# and 2 are still read ("legacy": nothing in them proves who wrote what).
FORMAT_VERSION: Final = 3
FIRST_SIGNED_FORMAT: Final = 3
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

# Session keys of format 3: the creator's public key and the random part of the id.
K_CREATOR_KEY: Final = "creator_key"  # bytes (32)
K_NONCE: Final = "nonce"  # bytes (16); session id = session_id_for(creator_key, nonce)

# Keys of a participant's own map (participants/<actor hex>); only that actor writes there.
P_NAME: Final = "name"
P_JOINED: Final = "joined"
P_ADMISSION: Final = "admission"  # bytes: the creator's signature admitting this laptop
P_VOTE: Final = "vote"
P_RATING: Final = "rating"
P_FEEDBACK: Final = "feedback"
P_ANSWERED: Final = "answered"  # {item id: bool}, counted for a client or facilitator
P_RETAINED: Final = "retained"  # {item id: bool}, counted for a client or facilitator
P_UPDATES: Final = "updates"  # {item id: [{status, note, at}]}: action status updates
P_HIDDEN: Final = "hidden"  # {item id: bool}, counted for a facilitator
MARK_KEYS: Final = (P_ANSWERED, P_RETAINED, P_HIDDEN)

# Control events (format 3) carry a random id and the log owner's signature.
E_ID: Final = "id"
E_SIG: Final = "sig"
E_BY: Final = "by"  # not stored: the log owner, added to what is signed

# An item id is its author's actor (first 32 hex characters) then 16 random hex.
ITEM_ID_PREFIX: Final = 32
ITEM_ID_LENGTH: Final = 48

# Lengths of what people type, checked on local writes (characters).
TEXT_MAX: Final = 2000  # an item's text
NAME_MAX: Final = 60  # a participant's name
TITLE_MAX: Final = 200  # a session's title, a group's name, other one-line labels

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

# Item fields that hold plain scalars, with their Python type, by kind: written by the
# item's author only. (Format 2 also kept `answered`/`retained` and an `updates` list in
# the item, written by whoever marked or updated it; they are still read in such files.)
COMMON_ITEM_FIELDS: Final = ("kind", "author", "phase", "created")
KIND_FIELDS: Final[dict[str, dict[str, type]]] = {
    "action": {"owner": str, "due": str, "status": str, "status_note": str, "owner_name": str},
}
MARKS_BY_KIND: Final[dict[str, str]] = {  # the mark a kind takes, and its participant map
    "question": P_ANSWERED, "advice": P_RETAINED, "hypothesis": P_RETAINED,
}
