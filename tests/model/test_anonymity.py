"""Anonymous contributions: chosen at creation, agreed by every replica, shown nowhere."""

from __future__ import annotations

import json

import pytest
from automerge.core import ROOT, ObjType, ScalarType

from model import export
from model.ops import OperationError
from model.reading import child
from model.session import Session
from model.snapshot import SnapshotBuilder
from tests.replicas import FakeClock, replica_of, sync_pair


@pytest.fixture
def anon(clock: FakeClock, codev) -> Session:  # type: ignore[no-untyped-def]
    return Session.create(title="Séance anonyme", protocol=codev, name="Anne", clock=clock,
                          anonymous=["question", "advice"])


def _item_map(session: Session, item_id: str) -> bytes:
    items = child(session.doc, ROOT, "items", ObjType.Map)
    assert items is not None
    item = child(session.doc, items, item_id, ObjType.Map)
    assert item is not None
    return item


def test_the_choice_is_in_the_document_and_every_replica_agrees(anon: Session) -> None:
    assert anon.snapshot.info.anonymous_kinds == ("advice", "question")
    bob = replica_of(anon, "Bob")
    assert bob.snapshot.info.anonymous_kinds == ("advice", "question")
    assert bob.snapshot.is_anonymous("advice") and not bob.snapshot.is_anonymous("learning")


def test_named_by_default(session: Session) -> None:
    assert session.snapshot.info.anonymous_kinds == ()
    item_id = session.add_item("advice", "Parle-lui")
    item = session.snapshot.item(item_id)
    assert item is not None and item.author == session.me and not item.anonymous


@pytest.mark.parametrize(("kind", "reason"), [
    ("proposal", "becomes the client"),
    ("contract", "client's own request"),
    ("action", "named owner"),
    ("gossip", "unknown item kind 'gossip'"),
])
def test_kinds_that_cannot_be_anonymous(codev, kind: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OperationError, match=reason):
        Session.create(title="T", protocol=codev, name="Anne", anonymous=[kind])


def test_anonymous_items_record_no_author(anon: Session) -> None:
    bob = replica_of(anon, "Bob")
    sync_pair(anon, bob)
    advice = bob.add_item("advice", "Délègue le planning")
    learning = bob.add_item("learning", "Écouter d'abord")
    sync_pair(anon, bob)
    for reader in (anon, bob):
        item = reader.snapshot.item(advice)
        assert item is not None
        assert (item.author, item.on_behalf, item.speaker, item.anonymous) == ("", "", "", True)
        assert reader.snapshot.author_name(item) == ""
        named = reader.snapshot.item(learning)
        assert named is not None and named.author == bob.me and not named.anonymous
    # Not even stored: the item's map has no author key.
    assert anon.doc.get(_item_map(anon, advice), "author") is None
    assert anon.doc.get(_item_map(anon, learning), "author") is not None


def test_is_mine_still_works_for_the_writer(anon: Session) -> None:
    bob = replica_of(anon, "Bob")
    advice = bob.add_item("advice", "Délègue le planning")
    named = bob.add_item("note", "contexte")
    sync_pair(anon, bob)
    assert bob.is_mine(advice) and bob.is_mine(named)
    assert not anon.is_mine(advice) and not anon.is_mine(named)
    assert not bob.is_mine("0" * 16)


def test_scribe_writing_an_anonymous_item_records_no_speaker(anon: Session) -> None:
    bob = replica_of(anon, "Bob")
    sync_pair(anon, bob)
    anon.assign_role("scribe", anon.me)
    item_id = anon.add_item("question", "Depuis quand ?", on_behalf=bob.me)
    item = anon.snapshot.item(item_id)
    assert item is not None and (item.author, item.on_behalf) == ("", "")
    assert anon.doc.get(_item_map(anon, item_id), "on_behalf") is None


def test_an_author_written_anyway_is_not_shown(anon: Session) -> None:
    """A modified client (or an older one) that still writes the author."""
    bob = replica_of(anon, "Bob")
    item_id = bob.add_item("advice", "x")
    with bob.doc.transaction() as tx:
        tx.put(_item_map(bob, item_id), "author", ScalarType.Str, bob.me)
    bob.refresh()
    sync_pair(anon, bob)
    for reader in (anon, bob):
        item = reader.snapshot.item(item_id)
        assert item is not None and item.author == "" and item.anonymous


def test_only_the_creator_decides_anonymity(anon: Session) -> None:
    bob = replica_of(anon, "Bob")
    session = child(bob.doc, ROOT, "session", ObjType.Map)
    assert session is not None
    anonymous = child(bob.doc, session, "anonymous", ObjType.List)
    assert anonymous is not None
    with bob.doc.transaction() as tx:
        tx.insert(anonymous, 0, ScalarType.Str, "learning")  # into the creator's list
    bob.refresh()
    assert bob.snapshot.info.anonymous_kinds == ("advice", "question")
    with bob.doc.transaction() as tx:  # or replaced altogether
        tx.put_object(session, "anonymous", ObjType.List)
    bob.refresh()
    sync_pair(anon, bob)
    for reader in (anon, bob):
        assert reader.snapshot.info.anonymous_kinds == ()  # Bob's list does not count...
        assert reader.snapshot == SnapshotBuilder(reader.doc).snapshot


def test_exports_show_no_author_for_anonymous_kinds(anon: Session) -> None:
    bob = replica_of(anon, "Bobette")
    sync_pair(anon, bob)
    anon.assign_role("scribe", bob.me)
    sync_pair(anon, bob)
    advice = bob.add_item("advice", "Délègue le planning")
    bob.add_item("question", "Qui décide ?", on_behalf=anon.me)
    bob.add_item("learning", "Écouter d'abord")
    sync_pair(anon, bob)
    anon.mark_retained(advice)
    sync_pair(anon, bob)
    snap = anon.snapshot
    data = json.loads(export.render(snap, "json"))
    assert data["anonymous_kinds"] == ["advice", "question"]
    by_kind = {i["kind"]: i for i in data["items"]}
    for kind in ("advice", "question"):
        item = by_kind[kind]
        assert item["author"] == "anonymous"
        assert "author_id" not in item and "written_by" not in item
        assert bob.me not in json.dumps(item) and anon.me not in json.dumps(item)
        # Not even the start of an id: an item's id begins with its author's actor.
        assert bob.me[:8] not in json.dumps(item) and len(item["id"]) == 16
    assert by_kind["learning"]["author"] == "Bobette"
    assert by_kind["learning"]["author_id"] == bob.me
    md = export.render(snap, "md").decode()
    assert "- Advice: Délègue le planning (★)\n" in md
    assert "- Question: Qui décide ?\n" in md
    assert "- Learning: Écouter d'abord — Bobette\n" in md
    assert "Anonymous: Advice, Question" in md
    html = export.render(snap, "html").decode()
    assert "<li>Advice: Délègue le planning (★)</li>" in html
    assert "<li>Délègue le planning (★)</li>" in html  # the summary's retained advice
    # Names appear only where people are listed, never next to an anonymous item.
    for page in (md, html):
        for line in page.splitlines():
            if "Délègue" in line or "Qui décide" in line:
                assert "Bobette" not in line and "Anne" not in line


def test_the_change_history_still_names_the_device(anon: Session) -> None:
    """What anonymity does not hide (docs/anonymity.md): the file's history."""
    bob = replica_of(anon, "Bob")
    bob.add_item("advice", "Délègue le planning")
    last = bob.doc.get_changes([])[-1]
    assert last.actor_id == bob.actor


def test_continuing_keeps_the_choice_unless_changed(anon: Session) -> None:
    anon.end()
    again = Session.continue_from(anon.doc, name="Anne")
    assert again.snapshot.info.anonymous_kinds == ("advice", "question")
    named = Session.continue_from(anon.doc, name="Anne", anonymous=[])
    assert named.snapshot.info.anonymous_kinds == ()
