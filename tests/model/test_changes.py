"""Decoding which objects a change writes to, from the change's own bytes."""

from __future__ import annotations

import contextlib

import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType
from hypothesis import given
from hypothesis import strategies as st

from model.binding import splice_text
from model.changes import (
    ROOT_OBJ,
    ChangeFormatError,
    decode_change,
    obj_id_of,
    parse_change,
    parse_runs,
)
from model.keys import Identity
from model.session import ApplyFailed, Session
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


def test_applying_changes_says_which_were_applied(session: Session) -> None:
    """Changes are handed over once what they depend on is held (``sync.pending``): they
    apply, and the call names them; held ones again name nothing."""
    heads = session.doc.get_heads()
    bob = replica_of(session, "Bob")
    bob.add_item("question", "Pourquoi ?")
    bob.add_item("advice", "Parce que.")
    changes = bob.doc.get_changes(heads)
    mine = [c.bytes for c in changes if c.actor_id == bob.actor]
    assert len(mine) == 3  # Bob joining, then his two items
    applied = session.apply_changes(mine)
    assert applied == {c.hash for c in changes if c.actor_id == bob.actor}
    assert {i.text for i in session.snapshot.items} >= {"Pourquoi ?", "Parce que."}
    assert session.apply_changes(mine) == set()  # already held


def test_the_applied_changes_are_named_from_their_graph_or_from_the_document(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given each change's hash and dependencies, the heads after applying show that all
    were applied, and the document is not asked again; when they do not (a dependency was
    not there), the document says which were."""
    heads = session.doc.get_heads()
    bob = replica_of(session, "Bob")
    bob.add_item("question", "Pourquoi ?")
    bob.add_item("advice", "Parce que.")
    mine = [c for c in bob.doc.get_changes(heads) if c.actor_id == bob.actor]
    decoded = [decode_change(c.bytes, max_size=1 << 20) for c in mine]
    graph = [(d.hash, d.deps) for d in decoded]
    listed: list[object] = []
    real = type(session.doc).get_changes

    def counting(doc: object, since: object) -> object:
        listed.append(since)
        return real(doc, since)  # type: ignore[arg-type]

    carl = Session(session.doc.fork(), identity=Identity.generate())
    monkeypatch.setattr(type(session.doc), "get_changes", counting)
    assert session.apply_changes([c.bytes for c in mine], graph) == {c.hash for c in mine}
    assert listed == []  # the graph said it all
    # Bob's joining and his second item, without his first: the second waits inside the
    # binding, the heads are not the predicted ones, and the document tells what applied.
    partial = [0, 2]
    assert carl.apply_changes([mine[i].bytes for i in partial],
                              [graph[i] for i in partial]) == {mine[0].hash}
    assert listed


def test_a_change_the_binding_refuses_keeps_what_came_before(session: Session) -> None:
    """Nothing is rolled back (forking at earlier heads panics in this binding): what the
    binding applied before a change it refuses was checked too, and stays. Two changes
    with one author's same number: the binding takes the first, refuses the second."""
    heads = session.doc.get_heads()
    bob = replica_of(session, "Bob")
    twin = Session(bob.doc.fork(), identity=bob.identity)
    bob.add_item("question", "Pourquoi ?")
    twin.add_item("question", "Comment ?")
    one = [c.bytes for c in bob.doc.get_changes(heads) if c.actor_id == bob.actor]
    other = twin.doc.get_last_local_change()
    assert other is not None
    try:
        session.apply_changes([*one, other.bytes])
    except ApplyFailed as failed:
        assert len(failed.applied) == len(one)
    else:
        raise AssertionError("two changes numbered alike were both taken")
    assert {i.text for i in session.snapshot.items} >= {"Pourquoi ?"}
    assert "Comment ?" not in {i.text for i in session.snapshot.items}


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
