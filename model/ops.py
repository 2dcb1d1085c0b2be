"""Every operation on a session document, each one Automerge transaction.

Operations take the document and the writing actor, and never read the
snapshot: permission checks that need the current state live in
``model.session.Session``; the authority rule itself is enforced on read
(``model.control``), so these functions cannot break it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from automerge._automerge import Transaction
from automerge.core import ROOT, Document, ObjType, ScalarType

from model.protocols import Protocol, protocol_to_builtins
from model.reading import child, scalar
from model.schema import (
    ACTION_STATUSES,
    ANONYMIZABLE_KINDS,
    APP_NAME,
    FORMAT_VERSION,
    ITEM_KINDS,
    K_ANONYMOUS,
    K_APP,
    K_CONTROL,
    K_FORMAT,
    K_ITEMS,
    K_PARTICIPANTS,
    K_PROTOCOL,
    K_SESSION,
    KIND_FIELDS,
    ROLES,
)


class OperationError(ValueError):
    """An operation was asked with arguments that make no sense for this document."""


def new_actor() -> bytes:
    """A fresh 16-byte Automerge actor id for this device and session."""
    return secrets.token_bytes(16)


def new_item_id() -> str:
    """A random item key: concurrent additions on different laptops never collide."""
    return secrets.token_hex(8)


def _scalar(value: Any) -> tuple[ScalarType, Any]:
    if isinstance(value, bool):
        return ScalarType.Boolean, value
    if isinstance(value, int):
        return ScalarType.Int, value
    if isinstance(value, float):
        return ScalarType.F64, value
    if value is None:
        return ScalarType.Null, None
    return ScalarType.Str, str(value)


def _fill(tx: Transaction, new: bytes, value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _put_value(tx, new, str(k), v)
    else:
        for i, v in enumerate(value):
            _insert_value(tx, new, i, v)


def _kind(value: Any) -> ObjType | None:
    if isinstance(value, dict):
        return ObjType.Map
    if isinstance(value, (list, tuple)):
        return ObjType.List
    return None


def _put_value(tx: Transaction, obj: bytes, key: str, value: Any) -> None:
    """Write plain Python data (dicts, lists, scalars) under a map key."""
    kind = _kind(value)
    if kind is not None:
        _fill(tx, tx.put_object(obj, key, kind), value)
    else:
        tx.put(obj, key, *_scalar(value))


def _insert_value(tx: Transaction, obj: bytes, index: int, value: Any) -> None:
    """Insert plain Python data into a list at ``index``."""
    kind = _kind(value)
    if kind is not None:
        _fill(tx, tx.insert_object(obj, index, kind), value)
    else:
        tx.insert(obj, index, *_scalar(value))


def _child_or_new(tx: Transaction, parent: bytes, key: str, kind: ObjType) -> tuple[bytes, bool]:
    """The ``kind`` object at ``key`` (made when missing or of another type); True if made."""
    got = tx.get(parent, key)
    if got is not None and got[0] == kind:
        return got[1], False
    return tx.put_object(parent, key, kind), True


def _splice(tx: Transaction, text_id: bytes, start: int, delete: int, insert: str) -> None:
    # splice_text exists on the binding's Transaction but is missing from its stubs.
    tx.splice_text(text_id, start, delete, insert)  # type: ignore[attr-defined]


def _text(tx: Transaction, obj: bytes, key: str, text: str) -> None:
    text_id = tx.put_object(obj, key, ObjType.Text)
    if text:
        _splice(tx, text_id, 0, 0, text)


def create_session(
    *,
    actor: bytes,
    session_id: str,
    title: str,
    protocol: Protocol,
    name: str,
    now: int,
    extra: dict[str, Any] | None = None,
    anonymous: Sequence[str] = (),
) -> Document:
    """A new session document, created by ``actor`` who joins as first facilitator.

    ``anonymous`` lists the item kinds whose authors are never recorded nor
    shown (see ``docs/anonymity.md``); ``extra`` holds further keys of the
    session section (the group, the chain of earlier sessions...).
    """
    if not title.strip():
        raise OperationError("a session needs a title")
    check_anonymous(anonymous)
    doc = Document(actor)
    me = actor.hex()
    with doc.transaction() as tx:
        tx.put(ROOT, K_APP, ScalarType.Str, APP_NAME)
        tx.put(ROOT, K_FORMAT, ScalarType.Int, FORMAT_VERSION)
        session = tx.put_object(ROOT, K_SESSION, ObjType.Map)
        tx.put(session, "id", ScalarType.Str, session_id)
        tx.put(session, "title", ScalarType.Str, title.strip())
        tx.put(session, "created", ScalarType.Int, now)
        tx.put(session, "creator", ScalarType.Str, me)
        _put_value(tx, session, K_ANONYMOUS, sorted(set(anonymous)))
        for key, value in (extra or {}).items():
            _put_value(tx, session, key, value)
        _put_value(tx, ROOT, K_PROTOCOL, protocol_to_builtins(protocol))
        participants = tx.put_object(ROOT, K_PARTICIPANTS, ObjType.Map)
        person = tx.put_object(participants, me, ObjType.Map)
        tx.put(person, "name", ScalarType.Str, name.strip() or "?")
        tx.put(person, "joined", ScalarType.Int, now)
        tx.put_object(ROOT, K_ITEMS, ObjType.Map)
        tx.put_object(ROOT, K_CONTROL, ObjType.Map)
    return doc


def check_anonymous(kinds: Sequence[str]) -> None:
    """Refuse kinds that cannot be anonymous, with the reason."""
    for kind in kinds:
        if kind not in ITEM_KINDS:
            raise OperationError(f"unknown item kind '{kind}'")
        if kind not in ANONYMIZABLE_KINDS:
            raise OperationError(
                f"{kind} items cannot be anonymous (anonymous kinds: "
                f"{', '.join(ANONYMIZABLE_KINDS)}): "
                + {"proposal": "the author of the chosen proposal becomes the client",
                   "contract": "the contract is the client's own request",
                   "action": "an action has a named owner"}.get(kind, ""))


def _section(doc: Document, key: str) -> bytes:
    obj = child(doc, ROOT, key, ObjType.Map)
    if obj is None:
        raise OperationError(f"the document has no '{key}' map: not a Cercle session")
    return obj


def join(doc: Document, *, actor: bytes, name: str, now: int) -> None:
    """Add (or rename) the participant of ``actor``."""
    participants = _section(doc, K_PARTICIPANTS)
    me = actor.hex()
    with doc.transaction() as tx:
        person, created = _child_or_new(tx, participants, me, ObjType.Map)
        if created:
            tx.put(person, "joined", ScalarType.Int, now)
        tx.put(person, "name", ScalarType.Str, name.strip() or "?")


def _check_fields(kind: str, fields: dict[str, Any]) -> None:
    allowed = KIND_FIELDS.get(kind, {})
    for key, value in fields.items():
        if key not in allowed:
            raise OperationError(f"a {kind} has no field '{key}'")
        if not isinstance(value, allowed[key]):
            raise OperationError(f"{kind}.{key} must be {allowed[key].__name__}")
        if key == "status" and value not in ACTION_STATUSES:
            raise OperationError(f"unknown action status '{value}'")


_DEFAULT_FIELDS: dict[str, dict[str, Any]] = {
    "question": {"answered": False},
    "advice": {"retained": False},
    "hypothesis": {"retained": False},
    "action": {"owner": "", "due": "", "status": "open", "status_note": ""},
}


def add_item(
    doc: Document,
    *,
    actor: bytes,
    kind: str,
    text: str,
    phase: int,
    now: int,
    on_behalf: str = "",
    item_id: str | None = None,
    anonymous: bool = False,
    **fields: Any,
) -> str:
    """Add an item; returns its id. ``on_behalf`` names the speaker when a scribe types.

    An ``anonymous`` item records neither its author nor the speaker (the
    change history still names the device that wrote it).
    """
    check_item(kind, text, fields)
    items = _section(doc, K_ITEMS)
    item_id = item_id or new_item_id()
    with doc.transaction() as tx:
        _write_item(tx, items, item_id, actor=actor, kind=kind, text=text, phase=phase,
                    now=now, on_behalf=on_behalf, anonymous=anonymous, fields=fields)
    return item_id


def add_items(
    doc: Document, *, actor: bytes, phase: int, now: int,
    entries: Sequence[tuple[str, str, bool]],
) -> list[str]:
    """Add several items, each ``(kind, text, anonymous)``, in one transaction: one change
    instead of one per item (a script adding a hundred at once sends and costs less).
    They are stamped a millisecond apart, so that they keep their order."""
    for kind, text, _ in entries:
        check_item(kind, text, {})
    items = _section(doc, K_ITEMS)
    ids = [new_item_id() for _ in entries]
    with doc.transaction() as tx:
        for n, (item_id, (kind, text, anonymous)) in enumerate(zip(ids, entries, strict=True)):
            _write_item(tx, items, item_id, actor=actor, kind=kind, text=text, phase=phase,
                        now=now + n, on_behalf="", anonymous=anonymous, fields={})
    return ids


def check_item(kind: str, text: str, fields: dict[str, Any]) -> None:
    """Raise OperationError unless an item of ``kind`` with ``text`` and ``fields`` is valid."""
    if kind not in ITEM_KINDS:
        raise OperationError(f"unknown item kind '{kind}'")
    if not text.strip():
        raise OperationError("an item needs some text")
    _check_fields(kind, fields)


def _write_item(tx: Transaction, items: bytes, item_id: str, *, actor: bytes, kind: str,
                text: str, phase: int, now: int, on_behalf: str, anonymous: bool,
                fields: dict[str, Any]) -> None:
    item = tx.put_object(items, item_id, ObjType.Map)
    tx.put(item, "kind", ScalarType.Str, kind)
    _text(tx, item, "text", text.strip())
    if not anonymous:
        tx.put(item, "author", ScalarType.Str, actor.hex())
        if on_behalf:
            tx.put(item, "on_behalf", ScalarType.Str, on_behalf)
    tx.put(item, "phase", ScalarType.Int, phase)
    tx.put(item, "created", ScalarType.Int, now)
    for key, value in {**_DEFAULT_FIELDS.get(kind, {}), **fields}.items():
        _put_value(tx, item, key, value)
    if kind == "action":
        # Created with the item, so that concurrent first updates share one list.
        tx.put_object(item, "updates", ObjType.List)


def add_carried_action(
    doc: Document,
    *,
    actor: bytes,
    text: str,
    phase: int,
    now: int,
    owner_name: str,
    due: str,
    status: str,
    origin: dict[str, Any],
    history: list[dict[str, Any]],
) -> str:
    """Add an action carried over from an earlier session of the group.

    Its owner is known by name only (actor ids differ between sessions);
    ``origin`` says where it was first decided and ``history`` holds one entry
    per earlier session it went through (see ``docs/file-format.md``).
    """
    if status not in ACTION_STATUSES:
        raise OperationError(f"unknown action status '{status}'")
    items = _section(doc, K_ITEMS)
    item_id = new_item_id()
    with doc.transaction() as tx:
        item = tx.put_object(items, item_id, ObjType.Map)
        tx.put(item, "kind", ScalarType.Str, "action")
        _text(tx, item, "text", text.strip() or "?")
        tx.put(item, "author", ScalarType.Str, actor.hex())
        tx.put(item, "phase", ScalarType.Int, phase)
        tx.put(item, "created", ScalarType.Int, now)
        for key, value in {"owner": "", "owner_name": owner_name, "due": due,
                           "status": status, "status_note": "", "origin": origin,
                           "history": history, "updates": []}.items():
            _put_value(tx, item, key, value)
    return item_id


def append_action_update(
    doc: Document, item_id: str, *, status: str, note: str, now: int
) -> None:
    """Append a status update (status, note, time) to an action's update list.

    Concurrent updates by two people are both kept (list insertions merge);
    the last one in the list's order is the action's status on every replica.
    The ``status`` and ``status_note`` fields are also set, for older readers.
    """
    item = _item(doc, item_id)
    if scalar(doc, item, "kind", str, "") != "action":
        raise OperationError("only an action has a status")
    if status not in ACTION_STATUSES:
        raise OperationError(f"unknown action status '{status}'")
    with doc.transaction() as tx:
        # An action written before format 2 has no list yet.
        updates, _ = _child_or_new(tx, item, "updates", ObjType.List)
        entry = tx.insert_object(updates, tx.length(updates), ObjType.Map)
        tx.put(entry, "status", ScalarType.Str, status)
        tx.put(entry, "note", ScalarType.Str, note)
        tx.put(entry, "at", ScalarType.Int, now)
        tx.put(item, "status", ScalarType.Str, status)
        tx.put(item, "status_note", ScalarType.Str, note)


def set_participant_fields(doc: Document, *, actor: bytes, **fields: Any) -> None:
    """Set (or, with None, remove) keys of ``actor``'s own participant map."""
    participants = _section(doc, K_PARTICIPANTS)
    person = child(doc, participants, actor.hex(), ObjType.Map)
    if person is None:
        raise OperationError("join the session first")
    with doc.transaction() as tx:
        for key, value in fields.items():
            if value is None:
                if tx.get(person, key) is not None:
                    tx.delete(person, key)
            else:
                _put_value(tx, person, key, value)


def _item(doc: Document, item_id: str) -> bytes:
    item = child(doc, _section(doc, K_ITEMS), item_id, ObjType.Map)
    if item is None:
        raise OperationError(f"no item '{item_id}' in this session")
    return item


def edit_item(doc: Document, item_id: str, text: str) -> None:
    """Replace an item's text with the smallest splice, so concurrent edits merge."""
    if not text.strip():
        raise OperationError("an item needs some text")
    item = _item(doc, item_id)
    got = doc.get(item, "text")
    with doc.transaction() as tx:
        if got is None or got[0] != ObjType.Text:
            _text(tx, item, "text", text)
            return
        text_id = got[1]
        old = tx.text(text_id)
        start = 0
        limit = min(len(old), len(text))
        while start < limit and old[start] == text[start]:
            start += 1
        end_old, end_new = len(old), len(text)
        while end_old > start and end_new > start and old[end_old - 1] == text[end_new - 1]:
            end_old -= 1
            end_new -= 1
        if end_old > start or end_new > start:
            _splice(tx, text_id, start, end_old - start, text[start:end_new])


def delete_item(doc: Document, item_id: str) -> None:
    """Remove an item from the session."""
    items = _section(doc, K_ITEMS)
    _item(doc, item_id)
    with doc.transaction() as tx:
        tx.delete(items, item_id)


def set_item_fields(doc: Document, item_id: str, **fields: Any) -> None:
    """Set kind-specific fields (answered, retained, owner, due, status, status_note)."""
    item = _item(doc, item_id)
    kind = scalar(doc, item, "kind", str, "")
    _check_fields(kind, fields)
    with doc.transaction() as tx:
        for key, value in fields.items():
            _put_value(tx, item, key, value)


def append_control(doc: Document, *, actor: bytes, type: str, now: int, **fields: Any) -> None:
    """Append a control event to ``actor``'s own log (see ``model.control``)."""
    if type == "role" and fields.get("role") not in ROLES:
        raise OperationError(f"unknown role '{fields.get('role')}'")
    logs = _section(doc, K_CONTROL)
    me = actor.hex()
    with doc.transaction() as tx:
        log, _ = _child_or_new(tx, logs, me, ObjType.List)
        entry = tx.insert_object(log, tx.length(log), ObjType.Map)
        tx.put(entry, "type", ScalarType.Str, type)
        tx.put(entry, "at", ScalarType.Int, now)
        for key, value in fields.items():
            _put_value(tx, entry, key, value)
