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
    parse_change,
)
from model.control import ControlState, PhaseState, Roles, read_control
from model.protocols import Phase, Protocol, protocol_from_builtins
from model.reading import child, field, fields, object_ids, scalar, to_python
from model.schema import (
    K_APP,
    K_CONTROL,
    K_FORMAT,
    K_ITEMS,
    K_PARTICIPANTS,
    K_PROTOCOL,
    K_SESSION,
)


class Participant(msgspec.Struct, frozen=True):
    id: str
    name: str
    joined: int = 0


class Item(msgspec.Struct, frozen=True):
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

    @property
    def speaker(self) -> str:
        """Whose words these are: the person a scribe typed for, else the author."""
        return self.on_behalf or self.author


class SessionInfo(msgspec.Struct, frozen=True):
    id: str = ""
    title: str = ""
    created: int = 0
    creator: str = ""
    format: int = 0
    app: str = ""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class Snapshot(msgspec.Struct, frozen=True):
    """Everything a screen or an export needs, read from one document state."""

    info: SessionInfo
    protocol: Protocol | None
    participants: tuple[Participant, ...]
    control: ControlState
    items: tuple[Item, ...]

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


def _read_item(doc: Document, obj: bytes, item_id: str) -> tuple[Item | None, list[bytes]]:
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
    return Item(
        id=item_id,
        kind=kind,
        text=text,
        author=field(entries, "author", str, ""),
        phase=field(entries, "phase", int, 0),
        created=field(entries, "created", int, 0),
        on_behalf=field(entries, "on_behalf", str, ""),
        answered=field(entries, "answered", bool, False),
        retained=field(entries, "retained", bool, False),
        owner=field(entries, "owner", str, ""),
        due=field(entries, "due", str, ""),
        status=field(entries, "status", str, ""),
        status_note=field(entries, "status_note", str, ""),
    ), objects


_SECTIONS = frozenset({K_SESSION, K_PROTOCOL, K_PARTICIPANTS, K_CONTROL})
FULL_READ_AFTER = 256  # changes in one refresh beyond which a full read is cheaper
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

    def _read_sections(self, sections: set[str]) -> None:
        doc = self.doc
        if sections & {K_SESSION, K_APP, K_FORMAT}:
            session = self._section_obj(K_SESSION)
            extra: dict[str, Any] = {}
            creator = ""
            if session is not None:
                op = parse_op_id(session)
                creator = op.actor if op else ""
                known = {"id", "title", "created", "creator"}
                whole = to_python(doc, session)
                extra = {k: v for k, v in whole.items() if k not in known}
            self._info = SessionInfo(
                id=scalar(doc, session, "id", str, "") if session else "",
                title=scalar(doc, session, "title", str, "") if session else "",
                created=scalar(doc, session, "created", int, 0) if session else 0,
                creator=creator,
                format=scalar(doc, ROOT, K_FORMAT, int, 0),
                app=scalar(doc, ROOT, K_APP, str, ""),
                extra=extra,
            )
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
            for pid, (value, obj) in (fields(doc, people) if people else {}).items():
                if value == ObjType.Map:
                    found.append(Participant(
                        pid, scalar(doc, obj, "name", str, "?"),
                        scalar(doc, obj, "joined", int, 0),
                    ))
            found.sort(key=lambda p: (p.joined, p.id))
            self._participants = tuple(found)
        if K_CONTROL in sections:
            self._section_obj(K_CONTROL)
            count = len(self._protocol.phases) if self._protocol else 0
            self._control = read_control(doc, self._info.creator, count)

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
            item, objects = _read_item(self.doc, obj, item_id)
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
            new, objects = _read_item(self.doc, obj, item_id)
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
        )

    # -- what changed -------------------------------------------------------
    def _touched_from_changes(self, heads: list[bytes]) -> tuple[set[str], set[str], bool]:
        sections: set[str] = set()
        item_ids: set[str] = set()
        created: dict[ObjId, tuple[str, str | None]] = {}
        changes = self.doc.get_changes(self.heads)
        if len(changes) > FULL_READ_AFTER:
            # A late joiner's first sync: reading everything once beats decoding it all.
            return set(_SECTIONS), set(), True
        for change in changes:
            try:
                ops = list(parse_change(change.raw_bytes))
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
                    created[op.id] = owner
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
        if sections:
            self._read_sections(sections)
        if all_items:
            self._read_all_items()
        elif item_ids:
            self._reread_items(item_ids)
        self.snapshot = self._assemble()
        return True
