"""The next session of a group, started from the file of its previous session.

A group meets again and again; what ties the meetings together is carried
from one session file to the next, in the new document's ``session`` section:

* the group (``group``: a stable id, its name, the names of its members),
* the chain of earlier sessions (``chain``: id, title, date, oldest first),
* the open actions (status ``open``, ``in_progress`` or ``carried_over``),
  re-created as items of the new session's first phase — the protocol's
  follow-up phase — with their owner's *name* (actor ids differ between
  sessions), due date, where they were first decided (``origin``) and their
  status and notes in every earlier session (``history``),
* the actions closed earlier (``closed_actions``), so that the latest file
  alone shows the history of every action of the group.

The previous file is only read, never changed. What "unrelated" means: a file
whose group is not the one the caller names (``group=``, by name or id). A file
that is not a Cercle session, or is corrupt, is refused before that.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from automerge.core import ROOT, Document, ObjType

from model import ops
from model.keys import Identity
from model.protocols import Phase, Protocol, builtin_protocols, protocol_to_builtins
from model.reading import child, scalar
from model.records import (
    ActionOrigin,
    ActionStep,
    ClosedAction,
    GroupInfo,
    Item,
    StepUpdate,
)
from model.schema import (
    APP_NAME,
    K_APP,
    K_CHAIN,
    K_CLOSED_ACTIONS,
    K_FOLLOW_UP,
    K_GROUP,
    K_SESSION,
    OPEN_STATUSES,
    TITLE_MAX,
)
from model.sessionfile import SessionFileError
from model.snapshot import Snapshot, SnapshotBuilder


def read_previous(doc: Document, source: str = "<document>") -> Snapshot:
    """The previous session's snapshot; ``SessionFileError`` if it is not a session."""
    session = child(doc, ROOT, K_SESSION, ObjType.Map)
    if scalar(doc, ROOT, K_APP, str, "") != APP_NAME or session is None:
        raise SessionFileError(source, "not a Cercle session: it cannot start the next one")
    snap = SnapshotBuilder(doc).snapshot
    if not snap.info.id:
        raise SessionFileError(source, "this session has no id (damaged file): "
                                       "it cannot start the next one")
    return snap


def group_of(snap: Snapshot) -> GroupInfo:
    """The session's group; a session from before groups is the first of its own."""
    group = snap.info.group
    return GroupInfo(group.id or snap.info.id, group.name or snap.info.title, group.members)


def check_group(snap: Snapshot, wanted: str, source: str) -> None:
    """Refuse a previous session of another group than ``wanted`` (a name or an id)."""
    group = group_of(snap)
    if wanted.strip().casefold() in (group.name.strip().casefold(), group.id):
        return
    raise SessionFileError(
        source, f"this session belongs to the group “{group.name}”, not “{wanted.strip()}”: "
                "continue from a session file of that group")


def _names(*lists: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for names in lists:
        for name in names:
            key = " ".join(name.split()).casefold()
            if key and key not in seen and name != "?":
                seen.add(key)
                out.append(" ".join(name.split()))
    return out


def _step(snap: Snapshot, item: Item) -> ActionStep:
    """How ``item`` stood at the end of the session ``snap``."""
    updates = tuple(StepUpdate(u.status, u.note, snap.plain_name_of(u.by), u.at)
                    for u in item.updates)
    if not updates and item.status_note:  # an action written before format 2
        updates = (StepUpdate(item.status or "open", item.status_note),)
    info = snap.info
    return ActionStep(info.id, info.title, info.created, item.status or "open", updates)


def _origin(snap: Snapshot, item: Item) -> ActionOrigin:
    info = snap.info
    return item.origin or ActionOrigin(info.id, info.title, info.created, item.id)


def _owner_name(snap: Snapshot, item: Item) -> str:
    """An action owner's name as the next session looks for it (no namesake suffix)."""
    return snap.plain_name_of(item.owner) if item.owner else item.owner_name


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def resolve_protocol(snap: Snapshot, protocol: Protocol | None) -> Protocol:
    """The protocol of the next session, with its follow-up phases.

    The caller's ``protocol`` if given; else the previous session's, with the
    follow-up phases of its template (kept in the file at creation; for a file
    from before that, those of the built-in protocol of the same key).
    """
    if protocol is not None:
        return msgspec.structs.replace(protocol, phases=protocol.phases_for(True))
    previous = snap.protocol
    if previous is None:
        raise ValueError("its protocol cannot be read: choose one for the next session")
    if any(p.follow_up for p in previous.phases):
        return previous
    follow_up: tuple[Phase, ...] = snap.info.follow_up_phases
    if not follow_up and previous.key in builtin_protocols():
        template = builtin_protocols()[previous.key]
        follow_up = tuple(p for p in template.phases if p.follow_up)
    return msgspec.structs.replace(previous, phases=(*follow_up, *previous.phases))


def next_session_document(
    previous: Snapshot,
    *,
    identity: Identity,
    name: str,
    now: int,
    title: str | None = None,
    protocol: Protocol | None = None,
    anonymous: Sequence[str] | None = None,
    source: str = "<document>",
) -> Document:
    """The document of the session that follows ``previous`` in its group."""
    try:
        chosen = resolve_protocol(previous, protocol)
    except ValueError as exc:
        raise SessionFileError(source, str(exc)) from None
    group = group_of(previous)
    members = _names(group.members, [p.plain_name or p.name for p in previous.participants])
    info = previous.info
    chain = [*(_plain(link) for link in info.chain),
             {"id": info.id, "title": info.title, "created": info.created}]
    closed = [_plain(c) for c in info.closed_actions]
    carried: list[tuple[Item, ActionStep]] = []
    for item in previous.items_of("action"):
        step = _step(previous, item)
        if step.status in OPEN_STATUSES:
            carried.append((item, step))
        else:
            closed.append(_plain(ClosedAction(
                item.text, _owner_name(previous, item), item.due, step.status,
                _origin(previous, item), (*item.history, step))))
    if not title:
        day = datetime.fromtimestamp(now / 1000).strftime("%Y-%m-%d")
        suffix = f" — {day}"
        title = group.name[:TITLE_MAX - len(suffix)] + suffix
    doc = ops.create_session(
        identity=identity, title=title, protocol=chosen, name=name,
        now=now, anonymous=info.anonymous_kinds if anonymous is None else anonymous,
        extra={K_GROUP: {"id": group.id, "name": group.name, "members": members},
               K_CHAIN: chain, K_CLOSED_ACTIONS: closed},
    )
    for n, (item, step) in enumerate(carried):
        ops.add_carried_action(  # a millisecond apart: the board keeps their order
            doc, actor=identity.actor, text=item.text, phase=0, now=now + n,
            owner_name=_owner_name(previous, item), due=item.due, status=step.status,
            origin=_plain(_origin(previous, item)),
            history=[_plain(s) for s in (*item.history, step)])
    return doc


def first_session_extra(protocol: Protocol, *, title: str, group: str) -> dict[str, Any]:
    """Session keys of a group's first session: a new group, and the template's
    follow-up phases, kept so that the next session can open with them."""
    if len(group.strip()) > TITLE_MAX:
        raise ops.OperationError(f"a group's name is at most {TITLE_MAX} characters")
    extra: dict[str, Any] = {
        K_GROUP: {"id": secrets.token_hex(16), "name": group.strip() or title.strip(),
                  "members": []},
    }
    follow_up = [protocol_to_builtins(protocol)["phases"][i]
                 for i, phase in enumerate(protocol.phases) if phase.follow_up]
    if follow_up:
        extra[K_FOLLOW_UP] = follow_up
    return extra
