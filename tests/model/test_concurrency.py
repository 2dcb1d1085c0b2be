"""Two laptops editing at once merge with nothing lost."""

from __future__ import annotations

from model.session import Session
from tests.replicas import replica_of, sync_pair


def test_concurrent_additions_never_collide(session: Session) -> None:
    bob = replica_of(session, "Bob")
    ours = [session.add_item("question", f"Anne {i}") for i in range(20)]
    theirs = [bob.add_item("question", f"Bob {i}") for i in range(20)]
    sync_pair(session, bob)
    for replica in (session, bob):
        assert {it.id for it in replica.snapshot.items} == set(ours + theirs)
    assert session.snapshot.items == bob.snapshot.items


def test_an_edit_and_a_mark_at_once_both_survive(session: Session) -> None:
    """Only its author edits an item; what others say of it lives in their own maps."""
    item_id = session.add_item("question", "Parle à ton équipe ?")
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.assign_role("client", bob.me)
    sync_pair(session, bob)
    session.edit_item(item_id, "Parles-tu calmement à ton équipe ?")
    bob.mark_answered(item_id)
    sync_pair(session, bob)
    item = session.snapshot.item(item_id)
    assert item is not None and item == bob.snapshot.item(item_id)
    assert (item.text, item.answered) == ("Parles-tu calmement à ton équipe ?", True)


def test_concurrent_updates_of_one_action_converge(session: Session) -> None:
    act = session.add_item("action", "Relancer le fournisseur")
    bob = replica_of(session, "Bob")
    session.set_action(act, status="done", due="2027-01-01")
    bob.set_action(act, status="dropped")  # an action without owner: anyone updates it
    sync_pair(session, bob)
    item = session.snapshot.item(act)
    assert item is not None and item == bob.snapshot.item(act)
    assert item.status in ("done", "dropped") and item.due == "2027-01-01"
    # The status updates are both kept (see test_continuation for the notes).
    assert sorted(u.status for u in item.updates) == ["done", "dropped"]


def test_concurrent_delete_and_mark(session: Session) -> None:
    item_id = session.add_item("question", "brouillon ?")
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.assign_role("client", bob.me)
    sync_pair(session, bob)
    session.delete_item(item_id)
    bob.mark_answered(item_id)
    sync_pair(session, bob)
    assert session.snapshot.items == bob.snapshot.items == ()


def test_three_replicas_converge(session: Session) -> None:
    bob = replica_of(session, "Bob")
    carl = replica_of(session, "Carl")
    for i, replica in enumerate((session, bob, carl)):
        replica.add_item("learning", f"leçon {i}")
    sync_pair(session, bob)
    sync_pair(bob, carl)
    sync_pair(session, carl)
    assert session.snapshot == bob.snapshot == carl.snapshot
    assert len(session.snapshot.items) == 3
    assert len(session.snapshot.participants) == 3
