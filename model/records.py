"""The typed records a snapshot is made of, and their defensive decoding.

Every record is an immutable msgspec Struct. The decoders turn what the
document holds into records without trusting its shape: a value of the wrong
type reads as absent (see ``model.reading``), and values that only one person
may write are kept only when that person's op wrote them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from automerge.core import Document, ObjType

from model.authorship import parse_op_id
from model.protocols import LocalText, Phase
from model.reading import field, fields, object_ids, to_python
from model.schema import ACTION_STATUSES, RATINGS


class Participant(msgspec.Struct, frozen=True):
    id: str
    name: str
    joined: int = 0
    vote: str = ""  # id of the proposal this participant votes for ("" for none)


class ActionUpdate(msgspec.Struct, frozen=True):
    """One status update of an action in this session; ``by`` is a participant id
    (the writer of the update, read from its op id)."""

    status: str
    note: str = ""
    by: str = ""
    at: int = 0


class StepUpdate(msgspec.Struct, frozen=True):
    """A status update made in an earlier session; ``by`` is a display name."""

    status: str
    note: str = ""
    by: str = ""
    at: int = 0


class ActionStep(msgspec.Struct, frozen=True):
    """An action as it stood at the end of one session of the group."""

    session: str  # session id
    title: str
    created: int  # the session's creation time, ms
    status: str
    updates: tuple[StepUpdate, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(u.note for u in self.updates if u.note)


class ActionOrigin(msgspec.Struct, frozen=True):
    """Where an action carried over from an earlier session was first decided."""

    session: str
    title: str = ""
    created: int = 0
    item: str = ""  # its item id in that session


class Item(msgspec.Struct, frozen=True):
    """An item of the board. For a kind the session made anonymous,
    ``anonymous`` is True and ``author``/``on_behalf`` are always empty."""

    id: str
    kind: str
    text: str
    author: str
    phase: int
    created: int
    on_behalf: str = ""
    answered: bool = False
    retained: bool = False
    owner: str = ""
    due: str = ""
    status: str = ""
    status_note: str = ""
    owner_name: str = ""  # carried action: its owner's name (ids differ between sessions)
    anonymous: bool = False
    origin: ActionOrigin | None = None  # carried action: where it was first decided
    history: tuple[ActionStep, ...] = ()  # carried action: earlier sessions, oldest first
    updates: tuple[ActionUpdate, ...] = ()  # action: status updates in this session

    @property
    def speaker(self) -> str:
        """Whose words these are: the person a scribe typed for, else the author."""
        return self.on_behalf or self.author


class GroupInfo(msgspec.Struct, frozen=True):
    """The group that meets session after session (``id`` is stable along the chain)."""

    id: str = ""
    name: str = ""
    members: tuple[str, ...] = ()  # names, from the earlier sessions


class ChainLink(msgspec.Struct, frozen=True):
    """An earlier session of the group."""

    id: str
    title: str = ""
    created: int = 0


class ClosedAction(msgspec.Struct, frozen=True):
    """An action closed (done or dropped) in an earlier session, kept for the history."""

    text: str
    owner: str = ""  # name
    due: str = ""
    status: str = ""
    origin: ActionOrigin | None = None
    history: tuple[ActionStep, ...] = ()


class SessionInfo(msgspec.Struct, frozen=True):
    id: str = ""
    title: str = ""
    created: int = 0
    creator: str = ""
    format: int = 0
    app: str = ""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    anonymous_kinds: tuple[str, ...] = ()  # kinds whose authors are never shown
    group: GroupInfo = GroupInfo()
    chain: tuple[ChainLink, ...] = ()  # earlier sessions of the group, oldest first
    closed_actions: tuple[ClosedAction, ...] = ()
    follow_up_phases: tuple[Phase, ...] = ()  # the template's, kept for the next session


class Evaluation(msgspec.Struct, frozen=True):
    """The closing evaluation, aggregated: nobody's own rating is in the snapshot.

    ``distribution[r - 1]`` counts the ratings ``r`` (1 to 5); ``feedback`` is
    sorted so that its order does not tell who wrote what.
    """

    count: int = 0  # participants who gave a rating
    mean: float = 0.0
    distribution: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    feedback: tuple[str, ...] = ()


class ProposalTally(msgspec.Struct, frozen=True):
    """Votes for one proposal (a candidate case for the session)."""

    proposal: str  # item id
    text: str
    proposer: str  # participant id
    votes: int
    voters: tuple[str, ...] = ()


class PlanRow(msgspec.Struct, frozen=True):
    """One phase of the whole-session plan: planned against actual time."""

    index: int
    key: str
    title: LocalText
    planned_minutes: int
    extended_minutes: int  # added with "more time" during the phase
    actual_ms: int
    current: bool = False

    @property
    def actual_minutes(self) -> int:
        return round(self.actual_ms / 60_000)

    @property
    def overtime_ms(self) -> int:
        """Time spent beyond the time box (planned plus extensions)."""
        return max(0, self.actual_ms - (self.planned_minutes + self.extended_minutes) * 60_000)

    @property
    def overtime_minutes(self) -> int:
        return round(self.overtime_ms / 60_000)


class ActionTrack(msgspec.Struct, frozen=True):
    """One action across the group's sessions: a step per session it lived in."""

    text: str
    owner: str  # name
    due: str
    steps: tuple[ActionStep, ...]
    item: str = ""  # its id in this session; "" when it was closed earlier
    origin: ActionOrigin | None = None

    @property
    def status(self) -> str:
        return self.steps[-1].status if self.steps else ""


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int_of(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _status_of(value: Any) -> str:
    return value if value in ACTION_STATUSES else ""


def _origin(data: Any) -> ActionOrigin | None:
    if not isinstance(data, dict) or not _text_of(data.get("session")):
        return None
    return ActionOrigin(data["session"], _text_of(data.get("title")),
                        _int_of(data.get("created")), _text_of(data.get("item")))


def _steps(data: Any) -> tuple[ActionStep, ...]:
    steps = []
    for entry in data if isinstance(data, list) else ():
        if not isinstance(entry, dict) or not _text_of(entry.get("session")):
            continue
        updates = tuple(
            StepUpdate(_status_of(u.get("status")), _text_of(u.get("note")),
                       _text_of(u.get("by")), _int_of(u.get("at")))
            for u in entry.get("updates") or () if isinstance(u, dict))
        steps.append(ActionStep(entry["session"], _text_of(entry.get("title")),
                                _int_of(entry.get("created")),
                                _status_of(entry.get("status")) or "open", updates))
    return tuple(steps)


def _updates(doc: Document, obj: bytes) -> tuple[ActionUpdate, ...]:
    """An action's update list; each update's author is the writer of its op."""
    found = []
    for value, entry in doc.values(obj):
        if value != ObjType.Map:
            continue
        op = parse_op_id(entry)
        got = fields(doc, entry)
        status = field(got, "status", str, "")
        if op is None or status not in ACTION_STATUSES:
            continue
        found.append(ActionUpdate(status, field(got, "note", str, ""), op.actor,
                                  field(got, "at", int, 0)))
    return tuple(found)


def decode_item(
    doc: Document, obj: bytes, item_id: str, anonymous: frozenset[str] = frozenset()
) -> tuple[Item | None, list[bytes]]:
    """The item stored in map ``obj``, and the ids of the objects it is made of."""
    entries = fields(doc, obj)
    kind = field(entries, "kind", str, "")
    objects = [obj]
    text = ""
    got = entries.get("text")
    if got is not None:
        if got[0] == ObjType.Text:
            text = doc.text(got[1])
            objects.append(got[1])
        elif not isinstance(got[0], ObjType) and isinstance(got[0][1], str):
            text = got[0][1]
    for value, nested in entries.values():
        if isinstance(value, ObjType) and nested not in objects:
            objects += object_ids(doc, nested)
    if not kind:
        return None, objects
    hidden = kind in anonymous
    status = field(entries, "status", str, "")
    status_note = field(entries, "status_note", str, "")
    updates: tuple[ActionUpdate, ...] = ()
    origin: ActionOrigin | None = None
    history: tuple[ActionStep, ...] = ()
    if kind == "action":
        listed = entries.get("updates")
        if listed is not None and listed[0] == ObjType.List:
            updates = _updates(doc, listed[1])
        if updates:  # the last update in list order is the status on every replica
            status, status_note = updates[-1].status, updates[-1].note
        sub = entries.get("origin")
        if sub is not None and sub[0] == ObjType.Map:
            origin = _origin(to_python(doc, sub[1]))
        sub = entries.get("history")
        if sub is not None and sub[0] == ObjType.List:
            history = _steps(to_python(doc, sub[1]))
    return Item(
        id=item_id,
        kind=kind,
        text=text,
        author="" if hidden else field(entries, "author", str, ""),
        phase=field(entries, "phase", int, 0),
        created=field(entries, "created", int, 0),
        on_behalf="" if hidden else field(entries, "on_behalf", str, ""),
        answered=field(entries, "answered", bool, False),
        retained=field(entries, "retained", bool, False),
        owner=field(entries, "owner", str, ""),
        due=field(entries, "due", str, ""),
        status=status,
        status_note=status_note,
        owner_name=field(entries, "owner_name", str, ""),
        anonymous=hidden,
        origin=origin,
        history=history,
        updates=updates,
    ), objects


def own_field(entries: dict[str, tuple[Any, bytes]], key: str, typ: type[Any],
               default: Any, actor: str) -> Any:
    """``field`` for a participant's own keys: written by anyone else, it is absent."""
    got = entries.get(key)
    if got is None:
        return default
    op = parse_op_id(got[1])
    if op is None or op.actor != actor:
        return default
    return field(entries, key, typ, default)


def aggregate_evaluation(ratings: list[int], feedback: list[str]) -> Evaluation:
    counts = tuple(ratings.count(r) for r in RATINGS)
    return Evaluation(
        count=len(ratings),
        mean=sum(ratings) / len(ratings) if ratings else 0.0,
        distribution=(counts[0], counts[1], counts[2], counts[3], counts[4]),
        feedback=tuple(sorted(feedback)),
    )


def decode_group(data: Any) -> GroupInfo:
    if not isinstance(data, dict):
        return GroupInfo()
    members = tuple(m for m in data.get("members") or () if isinstance(m, str) and m)
    return GroupInfo(_text_of(data.get("id")), _text_of(data.get("name")), members)


def decode_chain(data: Any) -> tuple[ChainLink, ...]:
    return tuple(
        ChainLink(link["id"], _text_of(link.get("title")), _int_of(link.get("created")))
        for link in (data if isinstance(data, list) else ())
        if isinstance(link, dict) and _text_of(link.get("id")))


def decode_phases(data: Any) -> tuple[Phase, ...]:
    try:
        return msgspec.convert(data, type=tuple[Phase, ...]) if data else ()
    except msgspec.ValidationError:
        return ()


def decode_closed(data: Any) -> tuple[ClosedAction, ...]:
    return tuple(
        ClosedAction(_text_of(entry.get("text")), _text_of(entry.get("owner")),
                     _text_of(entry.get("due")), _status_of(entry.get("status")),
                     _origin(entry.get("origin")), _steps(entry.get("history")))
        for entry in (data if isinstance(data, list) else ()) if isinstance(entry, dict))
