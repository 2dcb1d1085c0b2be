"""The typed, immutable view of a session that every reader renders.

``SnapshotBuilder`` reads the document once, then keeps the snapshot fresh
from Automerge patches: after a change only the sections and items that the
patches touch are read again, so applying one remote change to a session of
thousands of items costs about as much as reading one item.

What it reads is what the keys prove (see ``docs/file-format.md``): the
creator from the session id (``model.founding``), an item's author from the
actor that created it, marks and updates from the participants whose role
allows them, controls from signatures (``model.control``).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from automerge.core import ROOT, Document, ObjType

from model.authorship import writer
from model.binding import patch_location
from model.changes import (
    MAKE_ACTIONS,
    ROOT_OBJ,
    ChangeFormatError,
    ObjId,
    obj_id_of,
    parse_runs,
)
from model.control import ControlState, PhaseState, Roles, VerifiedCache, read_control
from model.founding import Founding, geneses, read_founding
from model.keys import admission_message, verify
from model.protocols import LocalText, Phase, Protocol, protocol_from_builtins
from model.reading import authored_python, child, fields, object_ids
from model.records import (
    ActionOrigin,
    ActionStep,
    ActionTrack,
    ActionUpdate,
    ChainLink,
    ClosedAction,
    Evaluation,
    GroupInfo,
    Item,
    Mark,
    Participant,
    ParticipantFacts,
    PlanRow,
    ProposalTally,
    RawItem,
    SessionInfo,
    StampedUpdate,
    StepUpdate,
    aggregate_evaluation,
    decode_chain,
    decode_closed,
    decode_group,
    decode_item,
    decode_participant,
    decode_phases,
    own_field,
)
from model.schema import (
    CREATOR_KEYS,
    ITEM_KINDS,
    K_ANONYMOUS,
    K_APP,
    K_CHAIN,
    K_CLOSED_ACTIONS,
    K_CONTROL,
    K_CREATOR_KEY,
    K_FOLLOW_UP,
    K_FORMAT,
    K_GROUP,
    K_ITEMS,
    K_NONCE,
    K_PARTICIPANTS,
    K_PROTOCOL,
    K_SESSION,
    MARK_KEYS,
    MARKS_BY_KIND,
    P_HIDDEN,
    RATINGS,
    TEXT_MAX,
    TITLE_MAX,
)
from model.text import clean_line, clean_text, name_key

if TYPE_CHECKING:
    from model.binding import Change

__all__ = [  # the records are defined in model.records; readers may import them here
    "FULL_READ_AFTER",
    "ActionOrigin",
    "ActionStep",
    "ActionTrack",
    "ActionUpdate",
    "ChainLink",
    "ClosedAction",
    "Evaluation",
    "GroupInfo",
    "Item",
    "Participant",
    "PlanRow",
    "ProposalTally",
    "SessionInfo",
    "Snapshot",
    "SnapshotBuilder",
    "StepUpdate",
    "touched_by",
]


class Snapshot(msgspec.Struct, frozen=True):
    """Everything a screen or an export needs, read from one document state."""

    info: SessionInfo
    protocol: Protocol | None
    participants: tuple[Participant, ...]
    control: ControlState
    items: tuple[Item, ...]
    evaluation: Evaluation = Evaluation()
    hidden_count: int = 0  # items the facilitator hid: left out of ``items``

    @property
    def phases(self) -> tuple[Phase, ...]:
        return self.protocol.phases if self.protocol else ()

    @property
    def current_phase(self) -> Phase | None:
        index = self.control.phase.index
        return self.phases[index] if 0 <= index < len(self.phases) else None

    def name_of(self, participant_id: str) -> str:
        """The display name of a participant id (the id's start when unknown)."""
        for person in self.participants:
            if person.id == participant_id:
                return person.name
        return participant_id[:8] if participant_id else ""

    def plain_name_of(self, participant_id: str) -> str:
        """A participant's name as they wrote it (cleaned, no namesake suffix)."""
        for person in self.participants:
            if person.id == participant_id:
                return person.plain_name or person.name
        return participant_id[:8] if participant_id else ""

    def items_of(self, *kinds: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.kind in kinds)

    def item(self, item_id: str) -> Item | None:
        for item in self.items:
            if item.id == item_id:
                return item
        return None

    # -- anonymity -----------------------------------------------------------
    def is_anonymous(self, kind: str) -> bool:
        """Items of ``kind`` show no author in this session."""
        return kind in self.info.anonymous_kinds

    def author_name(self, item: Item) -> str:
        """The speaker's display name; "" for an anonymous item. An action carried over
        from an earlier meeting is its owner's: the creator's laptop only copied it into
        this session."""
        if item.anonymous:
            return ""
        if item.origin is not None:
            return self.owner_label(item)
        return self.name_of(item.speaker)

    # -- the group across sessions ---------------------------------------------
    @property
    def group(self) -> GroupInfo:
        return self.info.group

    @property
    def chain(self) -> tuple[ChainLink, ...]:
        """The earlier sessions of the group, oldest first (empty for a first session)."""
        return self.info.chain

    def participant_named(self, name: str) -> str:
        """The id of the one participant called ``name`` (case and accents aside), else ""
        (nobody, or several namesakes)."""
        wanted = name_key(name)
        found = [p.id for p in self.participants if name_key(p.plain_name or p.name) == wanted]
        return found[0] if len(found) == 1 else ""

    def owner_id(self, item: Item) -> str:
        """An action's owner as a participant id; a carried action's owner is
        found by name among today's participants ("" when not here)."""
        if item.owner:
            return item.owner
        return self.participant_named(item.owner_name) if item.owner_name else ""

    def owner_label(self, item: Item) -> str:
        """An action owner's display name ("" when it has none)."""
        if item.owner:
            return self.name_of(item.owner)
        return item.owner_name

    def actions_for(self, participant_id: str) -> tuple[Item, ...]:
        """The actions owned by ``participant_id`` (by id, or by name when carried)."""
        return tuple(it for it in self.items
                     if it.kind == "action" and self.owner_id(it) == participant_id)

    def carried_actions(self) -> tuple[Item, ...]:
        """The actions carried over from earlier sessions (the follow-up's agenda)."""
        return tuple(it for it in self.items if it.kind == "action" and it.origin is not None)

    def absent_members(self) -> tuple[str, ...]:
        """Members of the group (from earlier sessions) not among today's participants."""
        here = {name_key(p.plain_name or p.name) for p in self.participants}
        return tuple(m for m in self.group.members if name_key(m) not in here)

    def action_tracks(self) -> tuple[ActionTrack, ...]:
        """Every action of the group's chain with its status session after session:
        actions closed in earlier sessions first, then today's, in board order."""
        tracks = [ActionTrack(text=c.text, owner=c.owner, due=c.due, steps=c.history,
                              origin=c.origin) for c in self.info.closed_actions]
        for item in self.items_of("action"):
            now = ActionStep(
                self.info.id, self.info.title, self.info.created, item.status or "open",
                tuple(StepUpdate(u.status, u.note, self.name_of(u.by), u.at)
                      for u in item.updates))
            tracks.append(ActionTrack(
                text=item.text, owner=self.owner_label(item), due=item.due,
                steps=(*item.history, now), item=item.id, origin=item.origin))
        return tuple(tracks)

    # -- choosing the case -----------------------------------------------------
    @property
    def tally(self) -> tuple[ProposalTally, ...]:
        """Votes per proposal, most votes first (ties in board order)."""
        proposals = self.items_of("proposal")
        voters: dict[str, list[str]] = {p.id: [] for p in proposals}
        for person in self.participants:
            if person.vote in voters:
                voters[person.vote].append(person.id)
        rows = [ProposalTally(p.id, p.text, p.speaker, len(voters[p.id]), tuple(voters[p.id]))
                for p in proposals]
        return tuple(sorted(rows, key=lambda row: -row.votes))

    @property
    def winner(self) -> ProposalTally | None:
        """The proposal with the most votes; None with no vote or a tie at the top."""
        tally = self.tally
        if not tally or tally[0].votes == 0:
            return None
        if len(tally) > 1 and tally[1].votes == tally[0].votes:
            return None
        return tally[0]

    # -- time --------------------------------------------------------------
    def plan(self, now: int | None = None) -> tuple[PlanRow, ...]:
        """The whole-session plan, one row per phase: planned minutes, minutes
        added, and time actually spent (``now``, on the facilitator's clock,
        counts the running phase up to that moment)."""
        state = self.control.phase
        live = state.status != "ended"
        return tuple(
            PlanRow(index=i, key=ph.key, title=ph.title, planned_minutes=ph.minutes,
                    extended_minutes=state.extended_for(i),
                    actual_ms=state.actual_for(i, now if live else None),
                    current=live and i == state.index)
            for i, ph in enumerate(self.phases))


def touched_by(patch_text: str) -> tuple[str, str | None] | None:
    """(root key, item id or None) that a patch (or its debug text) touches; None if
    unreadable."""
    found = patch_location(patch_text)
    if found is None:
        return None
    keys, action_key = found
    if not keys:
        return (action_key, None) if action_key is not None else None
    if keys[0] != K_ITEMS:
        return keys[0], None
    if len(keys) >= 2:
        return K_ITEMS, keys[1]
    return (K_ITEMS, action_key) if action_key is not None else None


def display_names(people: Sequence[ParticipantFacts]) -> dict[str, str]:
    """Each participant's name as shown: namesakes (same name but for case and accents)
    each get their id's first four characters, "Anne ·3f2a"."""
    keys = [name_key(p.name) for p in people]
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return {p.id: f"{p.name} ·{p.id[:4]}" if counts[key] > 1 else p.name
            for p, key in zip(people, keys, strict=True)}


def _local(text: LocalText, limit: int, multiline: bool = False) -> LocalText:
    clean = clean_text if multiline else clean_line
    return LocalText(clean(text.en, limit) or "?", clean(text.fr, limit) or "?")


def _clean_phase(phase: Phase) -> Phase:
    return msgspec.structs.replace(
        phase, title=_local(phase.title, TITLE_MAX),
        instruction=_local(phase.instruction, TEXT_MAX, multiline=True))


def clean_protocol(protocol: Protocol) -> Protocol:
    """A protocol read from a document, its strings fit to show."""
    return msgspec.structs.replace(
        protocol, name=_local(protocol.name, TITLE_MAX),
        description=_local(protocol.description, TEXT_MAX, multiline=True),
        phases=tuple(_clean_phase(phase) for phase in protocol.phases))


_SECTIONS = frozenset({K_SESSION, K_PROTOCOL, K_PARTICIPANTS, K_CONTROL})
# Reading an item anew costs about 0.14 ms when found through its change (decoding the
# change, then the item), reading every item about 0.04 ms each: past about half as many
# changes as items held (and at least this many), one full read is cheaper.
FULL_READ_AFTER = 64
_ITEMS_MAP = "<items>"  # owner tag of the items map itself: its keys are item ids
_EVERY = "<every>"  # resolve every item again


class _Unknown(Exception):
    """A change touched an object the builder cannot place; read with diff instead."""


def _latest(marks: Sequence[Mark]) -> bool:
    return max(marks)[1] if marks else False  # Mark orders by (counter, writer) first


class SnapshotBuilder:
    """Keeps a ``Snapshot`` of ``doc`` fresh, incrementally.

    Every object id read is remembered with its owner (a root section, or an
    item). After a change, the new changes' op columns name the objects they
    wrote to (``model.changes``), hence the few sections and items to read
    again. A change that writes somewhere unknown falls back to the patches of
    ``Document.diff``, which are exact but cost a walk of the whole document.

    An item is read from its own map (``RawItem``), then *resolved* with what
    others wrote about it in their own participant maps (answered, retained,
    hidden, action updates), counting only the writers whose role allows it:
    after a change, only the items whose own map or whose marks changed are
    resolved again — every item when a role or a name changes.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.heads: list[bytes] = doc.get_heads()
        self._raw: dict[str, RawItem] = {}
        self._items: dict[str, Item] = {}  # resolved and not hidden
        self._hidden: set[str] = set()
        self._order: list[tuple[int, str]] = []  # (created, id) of every raw item
        self._owner: dict[ObjId, tuple[str, str | None]] = {}
        self._founding = Founding({})
        self._first: list[bytes] | None = None  # hashes of the changes with no dependency
        self._info = SessionInfo()
        self._protocol: Protocol | None = None
        self._participants: tuple[Participant, ...] = ()
        self._named: dict[str, list[str]] = {}  # name key -> participant ids
        self._marks: dict[str, dict[str, list[Mark]]] = {key: {} for key in MARK_KEYS}
        self._updates: dict[str, list[StampedUpdate]] = {}
        self._control = ControlState(PhaseState(), Roles())
        self._evaluation = Evaluation()
        self._anonymous: frozenset[str] = frozenset()
        self._verified_events: VerifiedCache = {}
        self._admissions: dict[tuple[str, bytes, str], bool] = {}
        self.fallbacks = 0  # how often a refresh needed a diff (for tests and benchmarks)
        # Read on first use: a laptop that only replicates a session (a joiner's node
        # before its screen, a headless peer) never pays for reading every item.
        self._snapshot: Snapshot | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The session as the document holds it at ``heads`` (read on first use)."""
        if self._snapshot is None:
            self._load()
        assert self._snapshot is not None  # noqa: S101 - _load sets it
        return self._snapshot

    def _load(self) -> None:
        self.heads = self.doc.get_heads()
        self._read_sections(set(_SECTIONS))
        self._read_all_items()
        self._snapshot = self._assemble()

    # -- reading ----------------------------------------------------------
    def _own(self, objects: list[bytes], section: str, item_id: str | None = None) -> None:
        for raw in objects:
            self._owner[obj_id_of(raw)] = (section, item_id)

    def _section_obj(self, key: str) -> bytes | None:
        obj = self._founding.sections.get(key)
        if obj is not None and key != K_ITEMS:
            self._own(object_ids(self.doc, obj), key)
        return obj

    def _geneses(self) -> list[bytes]:
        if self._first is None:
            self._first = geneses(self.doc)
        return self._first

    def _read_session(self) -> bool:
        """Read who created the session and its section; True when every item must be
        read again (anonymity, or whether the session is proven, changed)."""
        doc = self.doc
        founding = read_founding(doc, self._geneses)
        self._founding = founding
        session = self._section_obj(K_SESSION)
        creator = founding.creator
        extra: dict[str, Any] = {}
        own: dict[str, Any] = {}
        entries: dict[str, tuple[Any, bytes]] = {}
        if session is not None:
            entries = fields(doc, session)
            known = {"id", "title", "created", "creator", K_CREATOR_KEY, K_NONCE,
                     *CREATOR_KEYS}
            whole = authored_python(doc, session, creator)
            extra = {k: v for k, v in whole.items() if k not in known}
            own = {k: v for k, v in whole.items() if k in CREATOR_KEYS}
        anonymous = tuple(sorted(
            {k for k in own.get(K_ANONYMOUS) or () if k in ITEM_KINDS}))
        root = fields(doc, ROOT)
        before = self._info
        self._info = SessionInfo(
            id=founding.session_id,
            title=clean_line(own_field(entries, "title", str, "", creator), TITLE_MAX),
            created=own_field(entries, "created", int, 0, creator),
            creator=creator,
            creator_key=founding.creator_key,
            nonce=founding.nonce,
            verified=founding.verified,
            format=own_field(root, K_FORMAT, int, 0, creator),
            app=own_field(root, K_APP, str, "", creator),
            extra=extra,
            anonymous_kinds=anonymous,
            group=decode_group(own.get(K_GROUP)),
            chain=decode_chain(own.get(K_CHAIN)),
            closed_actions=decode_closed(own.get(K_CLOSED_ACTIONS)),
            follow_up_phases=tuple(
                _clean_phase(phase) for phase in decode_phases(own.get(K_FOLLOW_UP))),
        )
        self._anonymous = frozenset(anonymous)
        return (before.anonymous_kinds, before.verified) != (anonymous, founding.verified)

    def _read_protocol(self) -> None:
        proto = self._section_obj(K_PROTOCOL)
        creator = self._info.creator
        if proto is None or writer(proto) != creator:
            self._protocol = None
            return
        try:
            self._protocol = clean_protocol(
                protocol_from_builtins(authored_python(self.doc, proto, creator)))
        except ValueError:
            self._protocol = None

    def _read_participants(self) -> set[str]:
        """Read every participant again; the ids of the items to resolve again."""
        doc = self.doc
        people = self._section_obj(K_PARTICIPANTS)
        facts: list[ParticipantFacts] = []
        for pid, (value, obj) in (fields(doc, people) if people else {}).items():
            if value == ObjType.Map and (found := decode_participant(doc, pid, obj)):
                facts.append(found)
        facts.sort(key=lambda p: (p.joined, p.id))
        shown = display_names(facts)
        self._participants = tuple(
            Participant(p.id, shown[p.id], p.joined, p.vote, self._admitted(p), p.name)
            for p in facts)
        self._evaluation = aggregate_evaluation(
            [p.rating for p in facts if p.rating in RATINGS],
            [p.feedback for p in facts if p.feedback])
        named: dict[str, list[str]] = {}
        marks: dict[str, dict[str, list[Mark]]] = {key: {} for key in MARK_KEYS}
        updates: dict[str, list[StampedUpdate]] = {}
        for p in facts:
            named.setdefault(name_key(p.name), []).append(p.id)
            for key, by_item in p.marks.items():
                for item_id, mark in by_item.items():
                    marks[key].setdefault(item_id, []).append(mark)
            for item_id, listed in p.updates.items():
                updates.setdefault(item_id, []).extend(listed)
        dirty: set[str] = set()
        if named != self._named:
            dirty.add(_EVERY)  # an action's owner is found by name
        for key in MARK_KEYS:
            old, new = self._marks[key], marks[key]
            dirty.update(i for i in old.keys() | new.keys() if old.get(i) != new.get(i))
        dirty.update(i for i in self._updates.keys() | updates.keys()
                     if self._updates.get(i) != updates.get(i))
        self._named, self._marks, self._updates = named, marks, updates
        return dirty

    def _admitted(self, person: ParticipantFacts) -> bool:
        info = self._info
        if not info.verified:
            return False
        if person.id == info.creator:
            return True
        if not person.admission:
            return False
        key = (person.id, person.admission, info.id)
        if key not in self._admissions:
            try:
                member = bytes.fromhex(person.id)
            except ValueError:
                member = b""
            self._admissions[key] = bool(member) and verify(
                info.creator_key, person.admission, admission_message(info.id, member))
        return self._admissions[key]

    def _read_sections(self, sections: set[str]) -> tuple[bool, set[str]]:
        """Read ``sections`` again: (every item must be read again, items to resolve)."""
        reread_items = False
        dirty: set[str] = set()
        if sections & {K_SESSION, K_APP, K_FORMAT}:
            reread_items = self._read_session()
            # Authority starts from the creator; admissions name the session.
            sections = sections | {K_PROTOCOL, K_PARTICIPANTS, K_CONTROL}
        if K_PROTOCOL in sections:
            self._read_protocol()
            sections = sections | {K_CONTROL}
        if K_PARTICIPANTS in sections:
            dirty |= self._read_participants()
        if K_CONTROL in sections:
            logs = self._section_obj(K_CONTROL)
            count = len(self._protocol.phases) if self._protocol else 0
            info = self._info
            before = self._control
            self._control = read_control(
                self.doc, logs, info.creator, count, session_id=info.id,
                signed=info.verified, cache=self._verified_events)
            if (before.facilitators, before.clients, before.scribes) != (
                    self._control.facilitators, self._control.clients, self._control.scribes):
                dirty.add(_EVERY)  # whose marks and updates count
        return reread_items, dirty

    def _items_obj(self) -> bytes | None:
        items = self._founding.sections.get(K_ITEMS)
        if items is not None:
            self._owner[obj_id_of(items)] = (_ITEMS_MAP, None)
        return items

    def _resolve(self, raw: RawItem) -> Item | None:
        """The item as readers show it; None when a facilitator hid it."""
        item, control, iid = raw.item, self._control, raw.item.id

        def counted(key: str, *roles: str) -> list[Mark]:
            marks = [m for m in self._marks[key].get(iid, ())
                     if control.ever_held(m.stamp.writer, *roles)]
            return marks + [m for k, m in raw.marks
                            if k == key and control.ever_held(m.stamp.writer, *roles)]

        if _latest(counted(P_HIDDEN, "facilitator")):
            return None
        changes: dict[str, Any] = {}
        mark = MARKS_BY_KIND.get(item.kind)
        if mark is not None and _latest(counted(mark, "client", "facilitator")):
            changes[mark] = True
        if item.on_behalf and not control.ever_held(raw.maker, "scribe", "facilitator"):
            changes["on_behalf"] = ""
        if item.kind == "action":
            owner = item.owner or self._named_one(item.owner_name)
            anyone = not owner and not item.owner_name
            allowed = {owner, raw.maker} - {""}
            stamped = sorted(
                (s for s in (*raw.updates, *self._updates.get(iid, ()))
                 if anyone or s.stamp.writer in allowed
                 or control.ever_held(s.stamp.writer, "facilitator", "scribe")),
                key=lambda s: s.stamp)
            if stamped:
                last = stamped[-1].update
                changes.update(status=last.status, status_note=last.note,
                               updates=tuple(s.update for s in stamped))
        return msgspec.structs.replace(item, **changes) if changes else item

    def _named_one(self, name: str) -> str:
        found = self._named.get(name_key(name), []) if name else []
        return found[0] if len(found) == 1 else ""

    def _place(self, item_id: str) -> None:
        """Resolve the raw item ``item_id`` into the visible items (or the hidden ones)."""
        self._items.pop(item_id, None)
        self._hidden.discard(item_id)
        raw = self._raw.get(item_id)
        if raw is None:
            return
        item = self._resolve(raw)
        if item is None:
            self._hidden.add(item_id)
        else:
            self._items[item_id] = item

    def _read_all_items(self) -> None:
        self._raw.clear()
        self._owner = {k: v for k, v in self._owner.items() if v[0] != K_ITEMS}
        items = self._items_obj()
        if items is not None:
            proven = self._info.verified
            for item_id, (value, obj) in fields(self.doc, items).items():
                if value != ObjType.Map:
                    continue
                raw, objects = decode_item(self.doc, obj, item_id, self._anonymous,
                                           proven=proven)
                self._own(objects, K_ITEMS, item_id)
                if raw is not None:
                    self._raw[item_id] = raw
        self._order = sorted((raw.item.created, raw.item.id) for raw in self._raw.values())
        self._resolve_all()

    def _resolve_all(self) -> None:
        self._items.clear()
        self._hidden.clear()
        for item_id in self._raw:
            self._place(item_id)

    def _reread_items(self, ids: set[str]) -> None:
        items = self._items_obj()
        for item_id in ids:
            old = self._raw.pop(item_id, None)
            if old is not None:
                index = bisect.bisect_left(self._order, (old.item.created, old.item.id))
                if index < len(self._order) and self._order[index] == (old.item.created,
                                                                       old.item.id):
                    del self._order[index]
            obj = child(self.doc, items, item_id, ObjType.Map) if items is not None else None
            if obj is not None:
                new, objects = decode_item(self.doc, obj, item_id, self._anonymous,
                                           proven=self._info.verified)
                self._own(objects, K_ITEMS, item_id)
                if new is not None:
                    self._raw[item_id] = new
                    bisect.insort(self._order, (new.item.created, new.item.id))
            self._place(item_id)

    def _assemble(self) -> Snapshot:
        return Snapshot(
            info=self._info,
            protocol=self._protocol,
            participants=self._participants,
            control=self._control,
            items=tuple(self._items[item_id] for _, item_id in self._order
                        if item_id in self._items),
            evaluation=self._evaluation,
            hidden_count=len(self._hidden),
        )

    # -- what changed -------------------------------------------------------
    def _touched_from_changes(self, changes: list[Change]) -> tuple[set[str], set[str], bool]:
        sections: set[str] = set()
        item_ids: set[str] = set()
        created: dict[ObjId, tuple[str, str | None]] = {}
        if len(changes) > max(FULL_READ_AFTER, len(self._raw) // 2):
            # A late joiner's first sync, a burst: reading everything once beats decoding it all.
            return set(_SECTIONS), set(), True
        for change in changes:
            try:
                ops = list(parse_runs(change.raw_bytes))
            except ChangeFormatError as exc:
                raise _Unknown from exc
            for op in ops:
                if op.obj == ROOT_OBJ:
                    # Only the creator's first change writes the root (see model.founding):
                    # anything else there is read from scratch.
                    return set(_SECTIONS), set(), True
                found = self._owner.get(op.obj) or created.get(op.obj)
                if found is None:
                    raise _Unknown
                owner: tuple[str, str | None]
                if found[0] == _ITEMS_MAP:
                    if op.key is None:
                        raise _Unknown
                    owner = (K_ITEMS, op.key)
                else:
                    owner = found
                if owner[0] == K_ITEMS:
                    item_ids.add(owner[1] or "")
                else:
                    sections.add(owner[0])
                if op.action in MAKE_ACTIONS:
                    counter, actor = op.first
                    for n in range(op.size):
                        created[(counter + n, actor)] = owner
        return sections, item_ids, False

    def _touched_from_diff(self, heads: list[bytes]) -> tuple[set[str], set[str], bool]:
        self.fallbacks += 1
        sections: set[str] = set()
        item_ids: set[str] = set()
        for patch in self.doc.diff(self.heads, heads):
            touched = touched_by(repr(patch))
            if touched is None:
                return set(_SECTIONS), set(), True
            key, item_id = touched
            if key != K_ITEMS:
                sections.add(key)
            elif item_id is None:
                return sections, set(), True
            else:
                item_ids.add(item_id)
        return sections, item_ids, False

    # -- public ---------------------------------------------------------
    def refresh(self) -> bool:
        """Bring the snapshot up to the document's heads; True when anything changed."""
        if self._snapshot is None:  # never read: changed since it was made, as if read then
            changed = self.doc.get_heads() != self.heads
            self._load()
            return changed
        heads = self.doc.get_heads()
        if heads == self.heads:
            return False
        changes = self.doc.get_changes(self.heads)
        if any(not change.deps for change in changes):
            self._first = None  # another change that depends on nothing: see model.founding
        try:
            sections, item_ids, all_items = self._touched_from_changes(changes)
        except _Unknown:
            sections, item_ids, all_items = self._touched_from_diff(heads)
        if self._founding.from_history:
            # The root was tampered with: its objects are not where the patches say.
            sections, all_items = set(_SECTIONS), True
        self.heads = heads
        sections.discard(K_ITEMS)
        reread_all, dirty = self._read_sections(sections) if sections else (False, set())
        if all_items or reread_all:
            self._read_all_items()
        else:
            if item_ids:
                self._reread_items(item_ids)
            if _EVERY in dirty:
                self._resolve_all()
            else:
                for item_id in dirty - item_ids:
                    self._place(item_id)
        self._snapshot = self._assemble()
        return True

