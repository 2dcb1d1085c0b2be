"""The typed records a snapshot is made of, and their defensive decoding.

Every record is an immutable msgspec Struct. The decoders turn what the
document holds into records without trusting its shape: a value of the wrong
type reads as absent (see ``model.reading``), and values that only one person
may write are kept only when that person's op wrote them: an item's fields
when its author (the actor that created its map) wrote them, a participant's
when that participant did. Every string meant for people is cleaned
(``model.text``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec
from automerge.core import Document, ObjType

from model.authorship import parse_op_id, writer
from model.binding import op_id_parts, written_by
from model.protocols import LocalText, Phase
from model.reading import authored_python, field, fields, object_ids
from model.schema import (
    ACTION_STATUSES,
    FEEDBACK_MAX,
    ITEM_ID_PREFIX,
    MARK_KEYS,
    NAME_MAX,
    P_ADMISSION,
    P_FEEDBACK,
    P_JOINED,
    P_NAME,
    P_RATING,
    P_UPDATES,
    P_VOTE,
    RATINGS,
    TEXT_MAX,
    TITLE_MAX,
)
from model.text import clean_line, clean_text


class Participant(msgspec.Struct, frozen=True):
    id: str
    # As shown: cleaned, and "Name ·abcd" (the id's first four characters) when another
    # participant's name is the same but for case and accents.
    name: str
    joined: int = 0
    vote: str = ""  # id of the proposal this participant votes for ("" for none)
    admitted: bool = False  # the creator, or admitted by the creator's signature
    plain_name: str = ""  # cleaned, without the suffix that tells namesakes apart


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
    # The creator's participant id. When ``verified`` it is proven: the session id
    # commits to ``creator_key`` (format 3); otherwise it is the writer of the session
    # map (formats 1 and 2, or a document that does not hold together).
    creator: str = ""
    creator_key: bytes = b""
    nonce: bytes = b""
    verified: bool = False
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


def _text_of(value: Any, limit: int = TITLE_MAX) -> str:
    return clean_line(value, limit) if isinstance(value, str) else ""


def _int_of(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _status_of(value: Any) -> str:
    return value if value in ACTION_STATUSES else ""


def _origin(data: Any) -> ActionOrigin | None:
    if not isinstance(data, dict) or not _text_of(data.get("session")):
        return None
    return ActionOrigin(_text_of(data["session"]), _text_of(data.get("title")),
                        _int_of(data.get("created")), _text_of(data.get("item")))


def _steps(data: Any) -> tuple[ActionStep, ...]:
    steps = []
    for entry in data if isinstance(data, list) else ():
        if not isinstance(entry, dict) or not _text_of(entry.get("session")):
            continue
        updates = tuple(
            StepUpdate(_status_of(u.get("status")), _text_of(u.get("note"), FEEDBACK_MAX),
                       _text_of(u.get("by"), NAME_MAX), _int_of(u.get("at")))
            for u in entry.get("updates") or () if isinstance(u, dict))
        steps.append(ActionStep(_text_of(entry["session"]), _text_of(entry.get("title")),
                                _int_of(entry.get("created")),
                                _status_of(entry.get("status")) or "open", updates))
    return tuple(steps)


class Stamp(NamedTuple):
    """When and by whom a value was written: its op's Lamport counter and actor."""

    counter: int
    writer: str


class Mark(NamedTuple):
    """A true/false mark on an item (answered, retained, hidden) and who wrote it."""

    stamp: Stamp
    value: bool


class StampedUpdate(NamedTuple):
    stamp: Stamp
    update: ActionUpdate


def _update_list(doc: Document, obj: bytes, only: str = "") -> list[StampedUpdate]:
    """An update list; each update's writer is the writer of its entry (``only``: the
    entries that actor wrote)."""
    found = []
    for value, entry in doc.values(obj):
        if value != ObjType.Map:
            continue
        op = parse_op_id(entry)
        if op is None or (only and op.actor != only):
            continue
        got = fields(doc, entry)
        status = own_field(got, "status", str, "", op.actor)
        if status not in ACTION_STATUSES:
            continue
        note = clean_line(own_field(got, "note", str, "", op.actor), FEEDBACK_MAX)
        found.append(StampedUpdate(Stamp(op.counter, op.actor), ActionUpdate(
            status, note, op.actor, own_field(got, "at", int, 0, op.actor))))
    return found


class RawItem(msgspec.Struct, frozen=True):
    """An item as its own map holds it, before the marks and updates other participants
    wrote are taken into account (``model.snapshot`` resolves those)."""

    item: Item
    maker: str  # the actor that created the item's map: its author, also when anonymous
    # Formats 1 and 2 only: the marks and updates written into the item itself.
    marks: tuple[tuple[str, Mark], ...] = ()
    updates: tuple[StampedUpdate, ...] = ()


def decode_item(
    doc: Document, obj: bytes, item_id: str, anonymous: frozenset[str] = frozenset(),
    *, proven: bool = False,
) -> tuple[RawItem | None, list[bytes]]:
    """The item stored in map ``obj``, and the ids of the objects it is made of.

    Its author is the actor that created the map (never its ``author`` field), and
    only that actor's values count. In a ``proven`` session (format 3) an item whose
    key does not start with its author's actor breaks the write rules: it is left out.
    """
    entries = fields(doc, obj)
    objects = [obj]
    for value, nested in entries.values():
        if isinstance(value, ObjType):
            objects += object_ids(doc, nested)
    parts = op_id_parts(obj)
    if parts is None:
        return None, objects
    raw_maker = parts[1]
    maker = raw_maker.hex()

    def own(key: str, typ: type[Any], default: Any) -> Any:
        got = entries.get(key)
        if got is None or not written_by(got[1], raw_maker):
            return default
        return field(entries, key, typ, default)

    kind = own("kind", str, "")
    if not kind or (proven and not item_id.startswith(maker[:ITEM_ID_PREFIX])):
        return None, objects
    text = ""
    got = entries.get("text")
    if got is not None and written_by(got[1], raw_maker):
        if got[0] == ObjType.Text:
            text = doc.text(got[1])
        elif not isinstance(got[0], ObjType) and isinstance(got[0][1], str):
            text = got[0][1]
    hidden = kind in anonymous
    status = own("status", str, "")
    origin: ActionOrigin | None = None
    history: tuple[ActionStep, ...] = ()
    marks: list[tuple[str, Mark]] = []
    updates: list[StampedUpdate] = []
    if kind == "action":
        sub = entries.get("origin")
        if sub is not None and sub[0] == ObjType.Map and written_by(sub[1], raw_maker):
            origin = _origin(authored_python(doc, sub[1], maker))
        sub = entries.get("history")
        if sub is not None and sub[0] == ObjType.List and written_by(sub[1], raw_maker):
            history = _steps(authored_python(doc, sub[1], maker))
    if not proven:  # formats 1 and 2: marks and updates were written into the item
        for key in MARK_KEYS:
            mark = entries.get(key)
            if mark is not None and not isinstance(mark[0], ObjType) \
                    and isinstance(mark[0][1], bool) and (op := parse_op_id(mark[1])):
                marks.append((key, Mark(Stamp(op.counter, op.actor), mark[0][1])))
        listed = entries.get(P_UPDATES)
        if kind == "action" and listed is not None and listed[0] == ObjType.List:
            updates = _update_list(doc, listed[1])
    item = Item(
        id=item_id,
        kind=kind,
        text=clean_text(text, TEXT_MAX),
        author="" if hidden else maker,
        phase=own("phase", int, 0),
        created=own("created", int, 0),
        on_behalf="" if hidden else own("on_behalf", str, ""),
        owner=own("owner", str, ""),
        due=clean_line(own("due", str, ""), NAME_MAX),
        # An action's status is its author's (absent: overwritten by someone else, or a
        # file from elsewhere): "open" then, as every action starts.
        status=status if status in ACTION_STATUSES else ("open" if kind == "action" else ""),
        status_note=clean_line(own("status_note", str, ""), FEEDBACK_MAX),
        owner_name=clean_line(own("owner_name", str, ""), NAME_MAX),
        anonymous=hidden,
        origin=origin,
        history=history,
    )
    return RawItem(item, maker, tuple(marks), tuple(updates)), objects


def own_field(entries: dict[str, tuple[Any, bytes]], key: str, typ: type[Any], default: Any,
         actor: str) -> Any:
    """``field`` for values only ``actor`` may write: written by anyone else, absent."""
    got = entries.get(key)
    if got is None or writer(got[1]) != actor:
        return default
    return field(entries, key, typ, default)




class ParticipantFacts(NamedTuple):
    """What one participant's own map says, every value written by that participant."""

    id: str
    name: str  # cleaned, "?" when nothing is left
    joined: int
    vote: str
    admission: bytes
    rating: int
    feedback: str
    marks: dict[str, dict[str, Mark]]  # mark key -> item id -> mark
    updates: dict[str, list[StampedUpdate]]  # item id -> updates


def decode_participant(doc: Document, pid: str, obj: bytes) -> ParticipantFacts | None:
    """The participant whose own map is ``obj``; None unless ``pid`` created that map
    (nobody can add someone else, nor write in their name)."""
    if writer(obj) != pid:
        return None
    entries = fields(doc, obj)
    admission = own_field(entries, P_ADMISSION, bytes, b"", pid)
    marks: dict[str, dict[str, Mark]] = {}
    for key in MARK_KEYS:
        sub = entries.get(key)
        if sub is None or sub[0] != ObjType.Map or writer(sub[1]) != pid:
            continue
        found: dict[str, Mark] = {}
        for item_id, (value, op_id) in fields(doc, sub[1]).items():
            op = parse_op_id(op_id)
            if op is not None and op.actor == pid and not isinstance(value, ObjType) \
                    and isinstance(value[1], bool):
                found[item_id] = Mark(Stamp(op.counter, pid), value[1])
        marks[key] = found
    updates: dict[str, list[StampedUpdate]] = {}
    sub = entries.get(P_UPDATES)
    if sub is not None and sub[0] == ObjType.Map and writer(sub[1]) == pid:
        for item_id, (value, log) in fields(doc, sub[1]).items():
            if value == ObjType.List and writer(log) == pid:
                listed = _update_list(doc, log, only=pid)
                if listed:
                    updates[item_id] = listed
    return ParticipantFacts(
        id=pid,
        name=clean_line(own_field(entries, P_NAME, str, "", pid), NAME_MAX) or "?",
        joined=own_field(entries, P_JOINED, int, 0, pid),
        vote=own_field(entries, P_VOTE, str, "", pid),
        admission=admission,
        rating=own_field(entries, P_RATING, int, 0, pid),
        feedback=clean_line(own_field(entries, P_FEEDBACK, str, "", pid), FEEDBACK_MAX),
        marks=marks,
        updates=updates,
    )


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
    members = tuple(name for m in data.get("members") or ()
                    if (name := _text_of(m, NAME_MAX)))
    return GroupInfo(_text_of(data.get("id")), _text_of(data.get("name")), members)


def decode_chain(data: Any) -> tuple[ChainLink, ...]:
    return tuple(
        ChainLink(_text_of(link["id"]), _text_of(link.get("title")),
                  _int_of(link.get("created")))
        for link in (data if isinstance(data, list) else ())
        if isinstance(link, dict) and _text_of(link.get("id")))


def decode_phases(data: Any) -> tuple[Phase, ...]:
    try:
        return msgspec.convert(data, type=tuple[Phase, ...]) if data else ()
    except msgspec.ValidationError:
        return ()


def decode_closed(data: Any) -> tuple[ClosedAction, ...]:
    return tuple(
        ClosedAction(_text_of(entry.get("text"), TEXT_MAX), _text_of(entry.get("owner"), NAME_MAX),
                     _text_of(entry.get("due")), _status_of(entry.get("status")),
                     _origin(entry.get("origin")), _steps(entry.get("history")))
        for entry in (data if isinstance(data, list) else ()) if isinstance(entry, dict))
