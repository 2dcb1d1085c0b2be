"""The typed, immutable view of a session that every reader renders.

``SnapshotBuilder`` reads the document once, then keeps the snapshot fresh
from Automerge patches: after a change only the sections and items that the
patches touch are read again, so applying one remote change to a session of
thousands of items costs about as much as reading one item.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import msgspec
from automerge.core import ROOT, Document, ObjType

from model.authorship import parse_op_id
from model.changes import (
    MAKE_ACTIONS,
    ROOT_OBJ,
    ChangeFormatError,
    ObjId,
    obj_id_of,
    parse_runs,
)
from model.control import ControlState, PhaseState, Roles, read_control
from model.protocols import Phase, Protocol, protocol_from_builtins
from model.reading import authored_python, child, field, fields, object_ids, scalar, to_python
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
    Participant,
    PlanRow,
    ProposalTally,
    SessionInfo,
    StepUpdate,
    aggregate_evaluation,
    decode_chain,
    decode_closed,
    decode_group,
    decode_item,
    decode_phases,
    own_field,
)
from model.schema import (
    CREATOR_KEYS,
    FEEDBACK_MAX,
    ITEM_KINDS,
    K_ANONYMOUS,
    K_APP,
    K_CHAIN,
    K_CLOSED_ACTIONS,
    K_CONTROL,
    K_FOLLOW_UP,
    K_FORMAT,
    K_GROUP,
    K_ITEMS,
    K_PARTICIPANTS,
    K_PROTOCOL,
    K_SESSION,
    RATINGS,
)

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
        """The speaker's display name; "" for an anonymous item."""
        return "" if item.anonymous else self.name_of(item.speaker)

    # -- the group across sessions ---------------------------------------------
    @property
    def group(self) -> GroupInfo:
        return self.info.group

    @property
    def chain(self) -> tuple[ChainLink, ...]:
        """The earlier sessions of the group, oldest first (empty for a first session)."""
        return self.info.chain

    def participant_named(self, name: str) -> str:
        """The id of the one participant called ``name`` (case-insensitive), else ""."""
        wanted = _name_key(name)
        found = [p.id for p in self.participants if _name_key(p.name) == wanted]
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
        here = {_name_key(p.name) for p in self.participants}
        return tuple(m for m in self.group.members if _name_key(m) not in here)

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


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


_PATH = re.compile(r"path: \[(.*?)\], action: ")
_PATH_KEY = re.compile(r'Map\("((?:[^"\\]|\\.)*)"\)|Seq\((\d+)\)')
_ACTION_KEY = re.compile(r'action: \w+ \{ key: "((?:[^"\\]|\\.)*)"')


def touched_by(patch_text: str) -> tuple[str, str | None] | None:
    """(root key, item id or None) that a patch's debug text touches; None if unreadable."""
    path_match = _PATH.search(patch_text)
    if path_match is None:
        return None
    keys = [m.group(1) if m.group(1) is not None else m.group(2)
            for m in _PATH_KEY.finditer(path_match.group(1))]
    if not keys:
        action = _ACTION_KEY.search(patch_text)
        return (action.group(1), None) if action else None
    if keys[0] != K_ITEMS:
        return keys[0], None
    if len(keys) >= 2:
        return K_ITEMS, keys[1]
    action = _ACTION_KEY.search(patch_text)
    return (K_ITEMS, action.group(1)) if action else None


_SECTIONS = frozenset({K_SESSION, K_PROTOCOL, K_PARTICIPANTS, K_CONTROL})
# Reading an item anew costs about 0.14 ms when found through its change (decoding the
# change, then the item), reading every item about 0.04 ms each: past about half as many
# changes as items held (and at least this many), one full read is cheaper.
FULL_READ_AFTER = 64
_ITEMS_MAP = "<items>"  # owner tag of the items map itself: its keys are item ids


class _Unknown(Exception):
    """A change touched an object the builder cannot place; read with diff instead."""


class SnapshotBuilder:
    """Keeps a ``Snapshot`` of ``doc`` fresh, incrementally.

    Every object id read is remembered with its owner (a root section, or an
    item). After a change, the new changes' op columns name the objects they
    wrote to (``model.changes``), hence the few sections and items to read
    again. A change that writes somewhere unknown falls back to the patches of
    ``Document.diff``, which are exact but cost a walk of the whole document.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.heads: list[bytes] = doc.get_heads()
        self._items: dict[str, Item] = {}
        self._order: list[tuple[int, str]] = []
        self._owner: dict[ObjId, tuple[str, str | None]] = {}
        self._info = SessionInfo()
        self._protocol: Protocol | None = None
        self._participants: tuple[Participant, ...] = ()
        self._control = ControlState(PhaseState(), Roles())
        self._evaluation = Evaluation()
        self._anonymous: frozenset[str] = frozenset()
        self.fallbacks = 0  # how often a refresh needed a diff (for tests and benchmarks)
        self._read_sections(set(_SECTIONS))
        self._read_all_items()
        self.snapshot = self._assemble()

    # -- reading ----------------------------------------------------------
    def _own(self, objects: list[bytes], section: str, item_id: str | None = None) -> None:
        for raw in objects:
            self._owner[obj_id_of(raw)] = (section, item_id)

    def _section_obj(self, key: str) -> bytes | None:
        obj = child(self.doc, ROOT, key, ObjType.Map)
        if obj is not None and key != K_ITEMS:
            self._own(object_ids(self.doc, obj), key)
        return obj

    def _creator_values(self, session: bytes, creator: str) -> dict[str, Any]:
        """The creator-only keys of the session section, as the creator wrote them."""
        values: dict[str, Any] = {}
        for key, (value, obj) in fields(self.doc, session).items():
            if key in CREATOR_KEYS and isinstance(value, ObjType):
                op = parse_op_id(obj)
                if op is not None and op.actor == creator:
                    values[key] = authored_python(self.doc, obj, creator)
        return values

    def _read_sections(self, sections: set[str]) -> bool:
        """Read ``sections`` again; True when every item must be read again too."""
        doc = self.doc
        reread_items = False
        if sections & {K_SESSION, K_APP, K_FORMAT}:
            session = self._section_obj(K_SESSION)
            extra: dict[str, Any] = {}
            creator = ""
            own: dict[str, Any] = {}
            if session is not None:
                op = parse_op_id(session)
                creator = op.actor if op else ""
                known = {"id", "title", "created", "creator", *CREATOR_KEYS}
                whole = to_python(doc, session)
                extra = {k: v for k, v in whole.items() if k not in known}
                own = self._creator_values(session, creator)
            anonymous = tuple(sorted(
                {k for k in own.get(K_ANONYMOUS) or () if k in ITEM_KINDS}))
            self._info = SessionInfo(
                id=scalar(doc, session, "id", str, "") if session else "",
                title=scalar(doc, session, "title", str, "") if session else "",
                created=scalar(doc, session, "created", int, 0) if session else 0,
                creator=creator,
                format=scalar(doc, ROOT, K_FORMAT, int, 0),
                app=scalar(doc, ROOT, K_APP, str, ""),
                extra=extra,
                anonymous_kinds=anonymous,
                group=decode_group(own.get(K_GROUP)),
                chain=decode_chain(own.get(K_CHAIN)),
                closed_actions=decode_closed(own.get(K_CLOSED_ACTIONS)),
                follow_up_phases=decode_phases(own.get(K_FOLLOW_UP)),
            )
            if frozenset(anonymous) != self._anonymous:
                self._anonymous = frozenset(anonymous)
                reread_items = True
            sections = sections | {K_CONTROL}  # authority starts from the creator
        if K_PROTOCOL in sections:
            proto = self._section_obj(K_PROTOCOL)
            try:
                self._protocol = (
                    protocol_from_builtins(to_python(doc, proto)) if proto else None
                )
            except ValueError:
                self._protocol = None
            sections = sections | {K_CONTROL}
        if K_PARTICIPANTS in sections:
            people = self._section_obj(K_PARTICIPANTS)
            found = []
            ratings: list[int] = []
            feedback: list[str] = []
            for pid, (value, obj) in (fields(doc, people) if people else {}).items():
                if value != ObjType.Map:
                    continue
                entries = fields(doc, obj)
                found.append(Participant(
                    pid, field(entries, "name", str, "?"), field(entries, "joined", int, 0),
                    own_field(entries, "vote", str, "", pid),
                ))
                rating = own_field(entries, "rating", int, 0, pid)
                if rating in RATINGS:
                    ratings.append(rating)
                note = " ".join(own_field(entries, "feedback", str, "", pid).split())
                if note:
                    feedback.append(note[:FEEDBACK_MAX])
            found.sort(key=lambda p: (p.joined, p.id))
            self._participants = tuple(found)
            self._evaluation = aggregate_evaluation(ratings, feedback)
        if K_CONTROL in sections:
            self._section_obj(K_CONTROL)
            count = len(self._protocol.phases) if self._protocol else 0
            self._control = read_control(doc, self._info.creator, count)
        return reread_items

    def _items_obj(self) -> bytes | None:
        items = child(self.doc, ROOT, K_ITEMS, ObjType.Map)
        if items is not None:
            self._owner[obj_id_of(items)] = (_ITEMS_MAP, None)
        return items

    def _read_all_items(self) -> None:
        self._items.clear()
        self._owner = {k: v for k, v in self._owner.items() if v[0] != K_ITEMS}
        items = self._items_obj()
        if items is None:
            self._order = []
            return
        for item_id, (value, obj) in fields(self.doc, items).items():
            if value != ObjType.Map:
                continue
            item, objects = decode_item(self.doc, obj, item_id, self._anonymous)
            self._own(objects, K_ITEMS, item_id)
            if item is not None:
                self._items[item_id] = item
        self._order = sorted((item.created, item.id) for item in self._items.values())

    def _reread_items(self, ids: set[str]) -> None:
        items = self._items_obj()
        for item_id in ids:
            old = self._items.pop(item_id, None)
            if old is not None:
                index = bisect.bisect_left(self._order, (old.created, old.id))
                if index < len(self._order) and self._order[index] == (old.created, old.id):
                    del self._order[index]
            obj = child(self.doc, items, item_id, ObjType.Map) if items is not None else None
            if obj is None:
                continue
            new, objects = decode_item(self.doc, obj, item_id, self._anonymous)
            self._own(objects, K_ITEMS, item_id)
            if new is not None:
                self._items[item_id] = new
                bisect.insort(self._order, (new.created, new.id))

    def _assemble(self) -> Snapshot:
        return Snapshot(
            info=self._info,
            protocol=self._protocol,
            participants=self._participants,
            control=self._control,
            items=tuple(self._items[item_id] for _, item_id in self._order),
            evaluation=self._evaluation,
        )

    # -- what changed -------------------------------------------------------
    def _touched_from_changes(self, heads: list[bytes]) -> tuple[set[str], set[str], bool]:
        sections: set[str] = set()
        item_ids: set[str] = set()
        created: dict[ObjId, tuple[str, str | None]] = {}
        changes = self.doc.get_changes(self.heads)
        if len(changes) > max(FULL_READ_AFTER, len(self._items) // 2):
            # A late joiner's first sync, a burst: reading everything once beats decoding it all.
            return set(_SECTIONS), set(), True
        for change in changes:
            try:
                ops = list(parse_runs(change.raw_bytes))
            except ChangeFormatError as exc:
                raise _Unknown from exc
            for op in ops:
                if op.obj == ROOT_OBJ:
                    if op.key is None:
                        raise _Unknown
                    if op.key == K_ITEMS:
                        return sections, item_ids, True
                    sections.add(op.key)
                    owner: tuple[str, str | None] = (op.key, None)
                else:
                    found = self._owner.get(op.obj) or created.get(op.obj)
                    if found is None:
                        raise _Unknown
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
        heads = self.doc.get_heads()
        if heads == self.heads:
            return False
        try:
            sections, item_ids, all_items = self._touched_from_changes(heads)
        except _Unknown:
            sections, item_ids, all_items = self._touched_from_diff(heads)
        self.heads = heads
        sections.discard(K_ITEMS)
        if sections and self._read_sections(sections):
            all_items = True
        if all_items:
            self._read_all_items()
        elif item_ids:
            self._reread_items(item_ids)
        self.snapshot = self._assemble()
        return True
