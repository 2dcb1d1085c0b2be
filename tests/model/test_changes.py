"""Decoding which objects a change writes to, from the change's own bytes."""

from __future__ import annotations

import contextlib

from automerge.core import ROOT, Document, ObjType, ScalarType
from hypothesis import given
from hypothesis import strategies as st

from model.binding import splice_text
from model.changes import (
    ROOT_OBJ,
    ChangeFormatError,
    changes_message,
    obj_id_of,
    parse_change,
    parse_runs,
    sync_message_needs,
)
from model.session import Session
from tests.replicas import replica_of, sync_pair

A, B = b"\xaa" * 16, b"\xbb" * 16


def test_ops_name_their_objects_and_keys() -> None:
    doc = Document(A)
    with doc.transaction() as tx:
        items = tx.put_object(ROOT, "items", ObjType.Map)
    heads = doc.get_heads()
    with doc.transaction() as tx:
        item = tx.put_object(items, "abcd", ObjType.Map)
        text = tx.put_object(item, "text", ObjType.Text)
        splice_text(tx, text, 0, 0, "hey")
        tx.put(item, "kind", ScalarType.Str, "note")
    ops = list(parse_change(doc.get_changes(heads)[0].raw_bytes))
    assert [(op.obj, op.key, op.action) for op in ops] == [
        (obj_id_of(items), "abcd", 0),
        (obj_id_of(item), "text", 4),
        (obj_id_of(text), None, 1), (obj_id_of(text), None, 1), (obj_id_of(text), None, 1),
        (obj_id_of(item), "kind", 1),
    ]
    assert ops[0].id == obj_id_of(item)
    assert obj_id_of(items) == (1, A)
    # Run by run, the three characters typed are one run of three ops.
    runs = list(parse_runs(doc.get_changes(heads)[0].raw_bytes))
    assert [(r.obj, r.key, r.action, r.size) for r in runs] == [
        (obj_id_of(items), "abcd", 0, 1), (obj_id_of(item), "text", 4, 1),
        (obj_id_of(text), None, 1, 3), (obj_id_of(item), "kind", 1, 1),
    ]
    assert [r.first for r in runs] == [ops[0].id, ops[1].id, ops[2].id, ops[5].id]


def test_other_actors_and_root_ops() -> None:
    doc = Document(A)
    with doc.transaction() as tx:
        items = tx.put_object(ROOT, "items", ObjType.Map)
        tx.put_object(items, "x", ObjType.Map)
    other = doc.fork()
    other.set_actor(B)
    heads = other.get_heads()
    with other.transaction() as tx:
        tx.delete(items, "x")
        tx.put(ROOT, "title", ScalarType.Str, "t")
    ops = list(parse_change(other.get_changes(heads)[0].raw_bytes))
    assert [(op.obj, op.key, op.action) for op in ops] == [
        ((1, A), "x", 3), (ROOT_OBJ, "title", 1)]
    assert ops[0].id[1] == B


@given(st.binary(max_size=300))
def test_garbage_only_raises_change_format_error(data: bytes) -> None:
    with contextlib.suppress(ChangeFormatError):
        list(parse_change(data))


@given(st.data())
def test_mutated_changes_only_raise_change_format_error(data: st.DataObject) -> None:
    doc = Document(A)
    with doc.transaction() as tx:
        tx.put(ROOT, "k", ScalarType.Str, "value")
    raw = bytearray(doc.get_changes([])[0].raw_bytes)
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(ChangeFormatError):
        list(parse_change(bytes(raw[:cut])))


def test_everyday_changes_never_need_the_slow_diff(session: Session) -> None:
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.assign_role("client", bob.me)
    session.start()
    q = bob.add_item("question", "Pourquoi ?")
    bob.edit_item(q, "Pourquoi donc ?")
    sync_pair(session, bob)
    session.mark_answered(q)
    session.advance()
    act = bob.add_item("action", "Appeler", owner=bob.me)
    bob.set_action(act, status="done")
    bob.delete_item(q)
    bob.join("Robert")
    sync_pair(session, bob)
    assert session._builder.fallbacks == 0
    assert bob._builder.fallbacks == 0
    assert {i.text for i in session.snapshot.items} == {"Appeler"}


def test_a_sync_message_says_how_many_changes_it_needs() -> None:
    """A replica holding a change without its dependency asks for it, even of a stranger."""
    from automerge.core import SyncState

    source = Document(A)
    with source.transaction() as tx:
        tx.put(ROOT, "first", ScalarType.Str, "1")
    first = source.get_heads()
    with source.transaction() as tx:
        tx.put(ROOT, "second", ScalarType.Str, "2")
    second = source.get_changes(first)[0].raw_bytes
    whole = Document(B)
    message = whole.generate_sync_message(SyncState())
    assert message is not None and sync_message_needs(message.encode()) == []
    missing = Document.load(whole.save() + second)  # the second change, not the first
    message = missing.generate_sync_message(SyncState())
    assert message is not None
    assert sync_message_needs(message.encode()) == [source.get_changes([])[0].hash]
    session = Session(missing)
    assert session.has_dangling_changes()
    assert session.missing_dependencies() == {source.get_changes([])[0].hash}
    before = session.snapshot
    session.drop_dangling_changes()
    assert not session.has_dangling_changes()
    assert session.snapshot == before
    assert session.doc.save() == Session(Document.load(whole.save())).doc.save()


def test_a_changes_message_is_a_sync_message_the_binding_reads_back_unchanged() -> None:
    from automerge.core import Message

    doc = Document(A)
    for key in ("a", "b"):
        with doc.transaction() as tx:
            tx.put(ROOT, key, ScalarType.Str, key * 200)  # long enough to be compressed
    changes = [change.bytes for change in doc.get_changes([])]
    raw = changes_message(changes)
    assert Message.decode(raw).encode() == raw
    assert changes_message([]) == bytes([0x42, 0, 0, 0, 0])


def test_pushed_changes_apply_in_any_order(session: Session) -> None:
    """A change that arrives before the one it depends on waits for it, then both apply."""
    heads = session.doc.get_heads()
    bob = replica_of(session, "Bob")
    bob.add_item("question", "Pourquoi ?")
    bob.add_item("advice", "Parce que.")
    mine = bob.changes_since(heads, mine=True)
    assert len(mine) == 3  # Bob joining, then his two items
    assert session.apply_changes(mine[1:]) is False  # they wait for their dependency
    assert session.has_dangling_changes()
    assert session.apply_changes(mine[:1]) is True
    assert not session.has_dangling_changes()
    assert {i.text for i in session.snapshot.items} >= {"Pourquoi ?", "Parce que."}
    assert sorted(session.doc.get_heads()) == sorted(bob.doc.get_heads())
    assert session.apply_changes(mine) is False  # already held: nothing changes


def test_changes_since_keeps_ours_apart(session: Session) -> None:
    bob = replica_of(session, "Bob")
    heads = session.doc.get_heads()
    session.add_item("note", "d'Anne")
    sync_pair(session, bob)
    bob.add_item("note", "de Bob")
    sync_pair(session, bob)
    assert len(session.changes_since(heads)) == 3  # Bob's join, Anne's note, Bob's note
    [ours] = session.changes_since(heads, mine=True)
    other = Session(Document.load(session.doc.save()))
    assert other.changes_since(heads, mine=True) == []  # a replica with another actor
    assert ours in session.changes_since(heads)
