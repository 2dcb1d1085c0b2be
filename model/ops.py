"""Every operation on a session document, each one Automerge transaction.

Operations take the document and the writer (its ``Identity``, or its actor
id where nothing is signed), and never read the snapshot: permission checks
that need the current state live in ``model.rules`` and are applied by
``model.session.Session``; what a reader believes is decided on read
(``model.snapshot``, ``model.control``), so these functions cannot break it.

Every write obeys the write rules of format 3 (``docs/file-format.md``): a
laptop writes only in its own participant map and control log, in the items
it created (under keys that start with its actor), and, for the creator, in
the session and protocol.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from automerge.core import ROOT, Document, ObjType, ScalarType

from model.binding import Transaction, op_id_parts, splice_text
from model.control import canonical_event, plain_value
from model.keys import Identity, control_message, new_nonce, session_id_for
from model.protocols import Protocol, protocol_to_builtins
from model.reading import child, scalar
from model.schema import (
    ACTION_STATUSES,
    ANONYMIZABLE_KINDS,
    APP_NAME,
    E_ID,
    E_SIG,
    FEEDBACK_MAX,
    FORMAT_VERSION,
    ITEM_ID_PREFIX,
    ITEM_KINDS,
    K_ANONYMOUS,
    K_APP,
    K_CONTROL,
    K_CREATOR_KEY,
    K_FORMAT,
    K_ITEMS,
    K_NONCE,
    K_PARTICIPANTS,
    K_PROTOCOL,
    K_SESSION,
    KIND_FIELDS,
    MARK_KEYS,
    NAME_MAX,
    P_ADMISSION,
    P_JOINED,
    P_NAME,
    P_UPDATES,
    ROLES,
    TEXT_MAX,
    TITLE_MAX,
)


class OperationError(ValueError):
    """An operation was asked with arguments that make no sense for this document."""


def new_item_id(actor: bytes) -> str:
    """A fresh item key for ``actor``: its actor's first 32 hex characters (so nobody
    can write an item under someone else's key) and 16 random ones."""
    return actor.hex()[:ITEM_ID_PREFIX] + secrets.token_hex(8)


def _limit(what: str, text: str, limit: int) -> str:
    """``text`` stripped, or OperationError when it is longer than ``limit`` characters."""
    text = text.strip()
    if len(text) > limit:
        raise OperationError(f"{what} is at most {limit:,} characters ({len(text):,} given)")
    return text


def check_name(name: str) -> str:
    """A participant's name as it will be written (OperationError when too long)."""
    return _limit("a name", name, NAME_MAX) or "?"


def _scalar(value: Any) -> tuple[ScalarType, Any]:
    if isinstance(value, bool):
        return ScalarType.Boolean, value
    if isinstance(value, int):
        return ScalarType.Int, value
    if isinstance(value, float):
        return ScalarType.F64, value
    if value is None:
        return ScalarType.Null, None
    if isinstance(value, bytes):
        return ScalarType.Bytes, value
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


def _text(tx: Transaction, obj: bytes, key: str, text: str) -> None:
    text_id = tx.put_object(obj, key, ObjType.Text)
    if text:
        splice_text(tx, text_id, 0, 0, text)


def create_session(
    *,
    identity: Identity,
    title: str,
    protocol: Protocol,
    name: str,
    now: int,
    extra: dict[str, Any] | None = None,
    anonymous: Sequence[str] = (),
) -> Document:
    """A new session document, created by ``identity`` who joins as first facilitator.

    The session id commits to the creator's public key (``keys.session_id_for``
    over the key and a fresh nonce). ``anonymous`` lists the item kinds whose
    authors are never recorded nor shown (see ``docs/anonymity.md``); ``extra``
    holds further keys of the session section (the group, the chain...).
    """
    title = _limit("a title", title, TITLE_MAX)
    if not title:
        raise OperationError("a session needs a title")
    name = check_name(name)
    check_anonymous(anonymous)
    nonce = new_nonce()
    actor = identity.actor
    doc = Document(actor)
    me = identity.me
    with doc.transaction() as tx:
        tx.put(ROOT, K_APP, ScalarType.Str, APP_NAME)
        tx.put(ROOT, K_FORMAT, ScalarType.Int, FORMAT_VERSION)
        session = tx.put_object(ROOT, K_SESSION, ObjType.Map)
        tx.put(session, "id", ScalarType.Str, session_id_for(actor, nonce))
        tx.put(session, K_CREATOR_KEY, ScalarType.Bytes, actor)
        tx.put(session, K_NONCE, ScalarType.Bytes, nonce)
        tx.put(session, "title", ScalarType.Str, title)
        tx.put(session, "created", ScalarType.Int, now)
        tx.put(session, "creator", ScalarType.Str, me)
        _put_value(tx, session, K_ANONYMOUS, sorted(set(anonymous)))
        for key, value in (extra or {}).items():
            _put_value(tx, session, key, value)
        _put_value(tx, ROOT, K_PROTOCOL, protocol_to_builtins(protocol))
        participants = tx.put_object(ROOT, K_PARTICIPANTS, ObjType.Map)
        person = tx.put_object(participants, me, ObjType.Map)
        tx.put(person, P_NAME, ScalarType.Str, name)
        tx.put(person, P_JOINED, ScalarType.Int, now)
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


def join(doc: Document, *, actor: bytes, name: str, now: int, admission: bytes = b"") -> None:
    """Add (or rename) the participant of ``actor``; ``admission`` is the creator's
    signature that admits this laptop (kept once given)."""
    name = check_name(name)
    participants = _section(doc, K_PARTICIPANTS)
    me = actor.hex()
    with doc.transaction() as tx:
        person, created = _child_or_new(tx, participants, me, ObjType.Map)
        if created:
            tx.put(person, P_JOINED, ScalarType.Int, now)
        tx.put(person, P_NAME, ScalarType.Str, name)
        if admission:
            tx.put(person, P_ADMISSION, ScalarType.Bytes, admission)


def _check_fields(kind: str, fields: dict[str, Any]) -> None:
    allowed = KIND_FIELDS.get(kind, {})
    for key, value in fields.items():
        if key not in allowed:
            raise OperationError(f"a {kind} has no field '{key}'")
        if not isinstance(value, allowed[key]):
            raise OperationError(f"{kind}.{key} must be {allowed[key].__name__}")
        if key == "status" and value not in ACTION_STATUSES:
            raise OperationError(f"unknown action status '{value}'")
        if key == "status_note" and len(str(value)) > FEEDBACK_MAX:
            raise OperationError(f"a status note is at most {FEEDBACK_MAX} characters")
        if key in ("owner_name", "owner", "due") and len(str(value)) > 2 * NAME_MAX:
            raise OperationError(f"{kind}.{key} is too long")


_DEFAULT_FIELDS: dict[str, dict[str, Any]] = {
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
    anonymous: bool = False,
    **fields: Any,
) -> str:
    """Add an item; returns its id. ``on_behalf`` names the speaker when a scribe types.

    An ``anonymous`` item records neither its author nor the speaker (the
    change history and the item's id still name the device that wrote it).
    """
    check_item(kind, text, fields)
    items = _section(doc, K_ITEMS)
    item_id = new_item_id(actor)
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
    ids = [new_item_id(actor) for _ in entries]
    with doc.transaction() as tx:
        for n, (item_id, (kind, text, anonymous)) in enumerate(zip(ids, entries, strict=True)):
            _write_item(tx, items, item_id, actor=actor, kind=kind, text=text, phase=phase,
                        now=now + n, on_behalf="", anonymous=anonymous, fields={})
    return ids


def check_item(kind: str, text: str, fields: dict[str, Any]) -> None:
    """Raise OperationError unless an item of ``kind`` with ``text`` and ``fields`` is valid."""
    if kind not in ITEM_KINDS:
        raise OperationError(f"unknown item kind '{kind}'")
    check_text(text)
    _check_fields(kind, fields)


def check_text(text: str) -> str:
    """An item's text as it will be written (OperationError when empty or too long)."""
    text = _limit("an item's text", text, TEXT_MAX)
    if not text:
        raise OperationError("an item needs some text")
    return text


def _write_item(tx: Transaction, items: bytes, item_id: str, *, actor: bytes, kind: str,
                text: str, phase: int, now: int, on_behalf: str, anonymous: bool,
                fields: dict[str, Any]) -> None:
    item = tx.put_object(items, item_id, ObjType.Map)
    tx.put(item, "kind", ScalarType.Str, kind)
    _text(tx, item, "text", text.strip())
    if not anonymous:
        # For older readers only: the author is the actor that created this map.
        tx.put(item, "author", ScalarType.Str, actor.hex())
        if on_behalf:
            tx.put(item, "on_behalf", ScalarType.Str, on_behalf)
    tx.put(item, "phase", ScalarType.Int, phase)
    tx.put(item, "created", ScalarType.Int, now)
    for key, value in {**_DEFAULT_FIELDS.get(kind, {}), **fields}.items():
        _put_value(tx, item, key, value)


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
    item_id = new_item_id(actor)
    with doc.transaction() as tx:
        item = tx.put_object(items, item_id, ObjType.Map)
        tx.put(item, "kind", ScalarType.Str, "action")
        _text(tx, item, "text", text.strip()[:TEXT_MAX] or "?")
        tx.put(item, "author", ScalarType.Str, actor.hex())
        tx.put(item, "phase", ScalarType.Int, phase)
        tx.put(item, "created", ScalarType.Int, now)
        for key, value in {"owner": "", "owner_name": owner_name, "due": due,
                           "status": status, "status_note": "", "origin": origin,
                           "history": history}.items():
            _put_value(tx, item, key, value)
    return item_id


def _person(doc: Document, actor: bytes) -> bytes:
    person = child(doc, _section(doc, K_PARTICIPANTS), actor.hex(), ObjType.Map)
    if person is None:
        raise OperationError("join the session first")
    return person


def append_action_update(
    doc: Document, item_id: str, *, actor: bytes, status: str, note: str, now: int
) -> None:
    """Record a status update (status, note, time) of an action in the writer's own
    ``updates/<item id>`` list.

    Concurrent updates by two people are both kept; readers order every
    eligible update by op (Lamport counter, actor) and show the last one. The
    action's author also sets its ``status`` and ``status_note``, for older readers.
    """
    item = _item(doc, item_id)
    if scalar(doc, item, "kind", str, "") != "action":
        raise OperationError("only an action has a status")
    if status not in ACTION_STATUSES:
        raise OperationError(f"unknown action status '{status}'")
    if len(note) > FEEDBACK_MAX:
        raise OperationError(f"a status note is at most {FEEDBACK_MAX} characters")
    person = _person(doc, actor)
    mine = created_by(item, actor)
    with doc.transaction() as tx:
        updates, _ = _child_or_new(tx, person, P_UPDATES, ObjType.Map)
        log, _ = _child_or_new(tx, updates, item_id, ObjType.List)
        entry = tx.insert_object(log, tx.length(log), ObjType.Map)
        tx.put(entry, "status", ScalarType.Str, status)
        tx.put(entry, "note", ScalarType.Str, note)
        tx.put(entry, "at", ScalarType.Int, now)
        if mine:
            tx.put(item, "status", ScalarType.Str, status)
            tx.put(item, "status_note", ScalarType.Str, note)


def created_by(obj: bytes, actor: bytes) -> bool:
    """Whether the object ``obj`` was created by ``actor`` (its id names the creator)."""
    parts = op_id_parts(obj)
    return parts is not None and parts[1] == actor


def set_mark(doc: Document, item_id: str, *, actor: bytes, mark: str, value: bool) -> None:
    """Set ``actor``'s own mark (answered, retained or hidden) on an item."""
    if mark not in MARK_KEYS:
        raise OperationError(f"unknown mark '{mark}'")
    _item(doc, item_id)
    person = _person(doc, actor)
    with doc.transaction() as tx:
        marks, _ = _child_or_new(tx, person, mark, ObjType.Map)
        # Readers take the latest mark of everyone allowed: marking again what one marked
        # before must be a new op, and Automerge writes nothing for an equal value.
        if tx.get(marks, item_id) is not None:
            tx.delete(marks, item_id)
        tx.put(marks, item_id, ScalarType.Boolean, value)


def set_participant_fields(doc: Document, *, actor: bytes, **fields: Any) -> None:
    """Set (or, with None, remove) keys of ``actor``'s own participant map."""
    person = _person(doc, actor)
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
    check_text(text)
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
            splice_text(tx, text_id, start, end_old - start, text[start:end_new])


def delete_item(doc: Document, item_id: str) -> None:
    """Remove an item from the session."""
    items = _section(doc, K_ITEMS)
    _item(doc, item_id)
    with doc.transaction() as tx:
        tx.delete(items, item_id)


def set_item_fields(doc: Document, item_id: str, **fields: Any) -> None:
    """Set an action's own fields (owner, due, status, status_note): its author's writes."""
    item = _item(doc, item_id)
    kind = scalar(doc, item, "kind", str, "")
    _check_fields(kind, fields)
    with doc.transaction() as tx:
        for key, value in fields.items():
            _put_value(tx, item, key, value)


def append_control(doc: Document, *, identity: Identity, session_id: str, type: str,
                   now: int, **fields: Any) -> None:
    """Append a control event, signed, to the writer's own log (see ``model.control``).

    The event gets a random ``id`` (a copy of it counts once) and ``sig``: the
    writer's signature of ``control_message(session_id, canonical_event(event, me))``.
    """
    if type == "role" and fields.get("role") not in ROLES:
        raise OperationError(f"unknown role '{fields.get('role')}'")
    logs = _section(doc, K_CONTROL)
    event = {"type": type, "at": now, E_ID: secrets.token_hex(8),
             **{key: plain_value(value) for key, value in fields.items()}}
    sig = identity.sign(control_message(session_id, canonical_event(event, identity.me)))
    with doc.transaction() as tx:
        log, _ = _child_or_new(tx, logs, identity.me, ObjType.List)
        entry = tx.insert_object(log, tx.length(log), ObjType.Map)
        for key, value in event.items():
            _put_value(tx, entry, key, value)
        tx.put(entry, E_SIG, ScalarType.Bytes, sig)
