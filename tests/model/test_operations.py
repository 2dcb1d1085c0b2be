"""Every operation on a session, through the Session facade, read back from the snapshot."""

from __future__ import annotations

import pytest

from model.ops import OperationError
from model.session import NotAllowed, Session
from tests.replicas import FakeClock, replica_of, sync_pair


def test_create_session_records_everything(session: Session, clock: FakeClock) -> None:
    snap = session.snapshot
    assert snap.info.title == "Le cas de Claire"
    assert len(snap.info.id) == 32
    assert snap.info.created == clock.now
    assert snap.info.format == 3
    assert snap.info.creator == session.me and snap.info.verified
    assert snap.protocol is not None and snap.protocol.key == "codev"
    assert [p.name for p in snap.participants] == ["Anne"]
    assert snap.control.roles.facilitator == session.me
    assert snap.control.phase.index == 0
    assert snap.control.phase.status == "waiting"
    assert snap.items == ()


def test_create_refuses_empty_title(codev) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OperationError, match="title"):
        Session.create(title="  ", protocol=codev, name="Anne")


def test_join_adds_and_renames(session: Session) -> None:
    bob = replica_of(session, "Bob")
    assert [p.name for p in bob.snapshot.participants] == ["Anne", "Bob"]
    bob.join("Robert")
    assert bob.snapshot.name_of(bob.me) == "Robert"
    assert len(bob.snapshot.participants) == 2


def test_add_edit_delete_item(session: Session, clock: FakeClock) -> None:
    clock.advance(5)
    item_id = session.add_item("question", "Qui décide du budget ?")
    item = session.snapshot.item(item_id)
    assert item is not None
    assert (item.kind, item.text, item.author, item.phase, item.created) == (
        "question", "Qui décide du budget ?", session.me, 0, clock.now)
    assert item.answered is False
    session.edit_item(item_id, "Qui décide du budget annuel ?")
    assert session.snapshot.item(item_id).text == "Qui décide du budget annuel ?"  # type: ignore[union-attr]
    session.delete_item(item_id)
    assert session.snapshot.item(item_id) is None
    with pytest.raises(OperationError, match="no item"):
        session.edit_item(item_id, "x")


@pytest.mark.parametrize("kind", ["question", "contract", "advice", "action", "learning",
                                  "note", "hypothesis", "proposal"])
def test_every_kind_can_be_added(session: Session, kind: str) -> None:
    item_id = session.add_item(kind, f"a {kind}")
    assert session.snapshot.item(item_id).kind == kind  # type: ignore[union-attr]


def test_bad_items_are_refused(session: Session) -> None:
    with pytest.raises(OperationError, match="unknown item kind"):
        session.add_item("gossip", "x")
    with pytest.raises(OperationError, match="some text"):
        session.add_item("note", "   ")
    with pytest.raises(OperationError, match="has no field"):
        session.add_item("note", "x", answered=True)
    with pytest.raises(OperationError, match="unknown action status"):
        session.add_item("action", "x", status="maybe")


def test_items_added_together_are_one_change_in_order(session: Session) -> None:
    heads = session.doc.get_heads()
    entries = [("question", "Depuis quand ?"), ("advice", "Demande-lui."), ("note", "Vu.")]
    ids = session.add_items(entries)
    assert len(session.changes_since(heads)) == 1
    by_id = {item.id: item for item in session.snapshot.items}
    assert [(by_id[i].kind, by_id[i].text) for i in ids] == entries
    assert [item.id for item in session.snapshot.items][-3:] == ids  # they keep their order
    assert session.snapshot.item(ids[1]).retained is False  # type: ignore[union-attr]
    assert session.snapshot == Session(session.doc.fork()).snapshot


def test_items_added_together_are_all_refused_for_one_bad_one(session: Session) -> None:
    heads = session.doc.get_heads()
    with pytest.raises(OperationError, match="unknown item kind"):
        session.add_items([("note", "bien"), ("gossip", "pas bien")])
    assert session.doc.get_heads() == heads


def test_mark_answered_and_retained(session: Session) -> None:
    q = session.add_item("question", "Depuis quand ?")
    a = session.add_item("advice", "Parle-lui directement")
    session.mark_answered(q)
    session.mark_retained(a)
    assert session.snapshot.item(q).answered is True  # type: ignore[union-attr]
    assert session.snapshot.item(a).retained is True  # type: ignore[union-attr]
    session.mark_answered(q, False)
    assert session.snapshot.item(q).answered is False  # type: ignore[union-attr]
    with pytest.raises(OperationError):
        session.mark_answered(a)  # advice has no 'answered'


def test_action_fields(session: Session) -> None:
    bob = replica_of(session, "Bob")
    act = bob.add_item("action", "Appeler la DRH", owner=bob.me, due="2026-12-15")
    item = bob.snapshot.item(act)
    assert (item.owner, item.due, item.status) == (bob.me, "2026-12-15", "open")  # type: ignore[union-attr]
    bob.set_action(act, status="done", status_note="fait le 3")
    item = bob.snapshot.item(act)
    assert (item.status, item.status_note) == ("done", "fait le 3")  # type: ignore[union-attr]


def test_scribe_writes_on_behalf(session: Session) -> None:
    bob = replica_of(session, "Bob")
    carl = replica_of(session, "Carl")
    sync_pair(session, bob)
    sync_pair(session, carl)
    with pytest.raises(NotAllowed):
        bob.add_item("advice", "x", on_behalf=carl.me)
    session.assign_role("scribe", bob.me)
    sync_pair(session, bob)
    item_id = bob.add_item("advice", "Déléguer le planning", on_behalf=carl.me)
    item = bob.snapshot.item(item_id)
    assert item is not None and item.author == bob.me and item.speaker == carl.me


def test_phase_timer_operations(session: Session, clock: FakeClock) -> None:
    phases = session.snapshot.phases
    session.start()
    assert session.snapshot.control.phase.status == "running"
    clock.advance(60)
    session.pause()
    state = session.snapshot.control.phase
    assert (state.status, state.elapsed_ms) == ("paused", 60_000)
    clock.advance(600)  # paused time does not count
    assert state.elapsed_at(clock.now) == 60_000
    session.resume()
    clock.advance(30)
    assert session.snapshot.control.phase.elapsed_at(clock.now) == 90_000
    session.extend(5)
    assert session.snapshot.control.phase.extra_minutes == 5
    session.advance()
    state = session.snapshot.control.phase
    assert (state.index, state.status, state.elapsed_ms, state.extra_minutes) == (
        1, "running", 0, 0)
    assert state.actual_for(0) == 90_000
    assert [(t.from_, t.to) for t in state.transitions] == [(0, 1)]
    session.go_back()
    assert session.snapshot.control.phase.index == 0
    session.goto(len(phases) - 1)
    with pytest.raises(NotAllowed, match="last phase"):
        session.advance()
    session.end()
    assert session.snapshot.control.phase.status == "ended"
    with pytest.raises(NotAllowed, match="ended"):
        session.goto(0)


def test_invalid_timer_moves_are_refused(session: Session) -> None:
    with pytest.raises(NotAllowed):
        session.pause()
    with pytest.raises(NotAllowed):
        session.resume()
    with pytest.raises(NotAllowed, match="first phase"):
        session.go_back()
    with pytest.raises(OperationError):
        session.extend(0)
    with pytest.raises(OperationError):
        session.goto(99)
    session.start()
    with pytest.raises(NotAllowed, match="already"):
        session.start()


def test_roles_and_hand_over(session: Session) -> None:
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.assign_role("client", bob.me)
    assert session.snapshot.control.roles.client == bob.me
    with pytest.raises(OperationError, match="participant"):
        session.hand_over("f" * 32)
    session.hand_over(bob.me)
    sync_pair(session, bob)
    assert bob.is_facilitator and not session.is_facilitator
    bob.start()
    assert bob.snapshot.control.phase.status == "running"
    with pytest.raises(NotAllowed, match="facilitator"):
        session.advance()


def test_item_phase_follows_current_phase(session: Session) -> None:
    session.start()
    session.advance()
    item_id = session.add_item("question", "?")
    assert session.snapshot.item(item_id).phase == 1  # type: ignore[union-attr]


def test_listeners_hear_each_change_once(session: Session) -> None:
    heard: list[int] = []
    unsubscribe = session.subscribe(lambda snap: heard.append(len(snap.items)))
    session.add_item("note", "un")
    session.add_item("note", "deux")
    unsubscribe()
    session.add_item("note", "trois")
    assert heard == [1, 2]


def test_follow_up_phase_only_when_continuing(codev) -> None:  # type: ignore[no-untyped-def]
    fresh = Session.create(title="Première", protocol=codev, name="Anne")
    assert fresh.snapshot.phases[0].key == "expose"
    assert all(not p.follow_up for p in fresh.snapshot.phases)
    again = Session.create(title="Suite", protocol=codev, name="Anne", continuing=True)
    assert again.snapshot.phases[0].key == "follow-up"
    assert len(again.snapshot.phases) == len(fresh.snapshot.phases) + 1


def test_board_at_the_end_of_each_phase(session: Session) -> None:
    q = session.add_item("note", "pendant l'exposé")
    session.start()
    session.advance()
    session.add_item("question", "Pourquoi ?")
    session.mark_answered(session.snapshot.items_of("question")[0].id)
    session.advance()
    first = session.board_at(0)
    assert [i.id for i in first.items] == [q]
    second = session.board_at(1)
    assert {i.kind for i in second.items} == {"note", "question"}
    assert second.items_of("question")[0].answered is True
    assert session.board_at(2) == session.snapshot  # still open
    reloaded = Session(type(session.doc).load(session.save()))
    again = reloaded.board_at(0)
    assert again is not None and again.items == first.items


def test_a_board_the_binding_cannot_rebuild_is_none(session: Session,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``fork_at`` failing (its panic on some evaluated files, heads a modified client
    wrote that no replica holds) leaves the phase without its closing board, not the
    reader without the file."""
    import model.session

    session.add_item("note", "pendant l'exposé")
    session.start()
    session.advance()
    assert session.board_at(0) is not None

    def cannot(doc: object, heads: object) -> None:
        raise ValueError("the document cannot be rebuilt at those heads (MissingOps)")

    monkeypatch.setattr(model.session, "fork_at", cannot)
    assert session.board_at(0) is None
    assert session.board_at(1) == session.snapshot  # still open: no fork needed
