"""The method's rules (``model.rules``) on the real co-development protocol, and
``Session`` enforcing them for every caller — a screen, a script, a headless peer."""

from __future__ import annotations

import pytest

from model import rules
from model.ops import OperationError
from model.protocols import builtin_protocols
from model.session import NotAllowed, Session
from tests.replicas import FakeClock, replica_of, sync_pair

PHASES = ("expose", "questions", "contract", "advice", "synthesis", "learnings")


@pytest.fixture
def group(clock: FakeClock) -> tuple[Session, Session, Session, Session]:
    """Anne facilitates, Bob is the client, Carl a consultant, Dina the scribe."""
    anne = Session.create(title="Codéveloppement", protocol=builtin_protocols()["codev"],
                          name="Anne", clock=clock)
    others = [replica_of(anne, name) for name in ("Bob", "Carl", "Dina")]
    for other in others:
        sync_pair(anne, other)
    bob, carl, dina = others
    anne.assign_role("client", bob.me)
    anne.assign_role("scribe", dina.me)
    _sync(anne, bob, carl, dina)
    return anne, bob, carl, dina


def _sync(*replicas: Session) -> None:
    for other in replicas[1:]:
        sync_pair(replicas[0], other)
    for other in replicas[1:]:
        sync_pair(replicas[0], other)


def _to(group: tuple[Session, ...], key: str) -> None:
    anne = group[0]
    anne.goto(PHASES.index(key))
    _sync(*group)


def test_kinds_by_phase_and_role(group: tuple[Session, Session, Session, Session]) -> None:
    anne, bob, carl, dina = group
    expected = {  # phase: (facilitator, client, consultant, scribe)
        "expose": (("note",), (), ("note",), ("note",)),
        "questions": (("question",), (), ("question",), ("question",)),
        "contract": (("contract",), ("contract",), (), ("contract",)),
        "advice": (("advice",), (), ("advice",), ("advice",)),
        "synthesis": (("action", "note"), ("action", "note"), (), ("action", "note")),
        "learnings": (("learning",),) * 4,
    }
    for key, kinds in expected.items():
        _to(group, key)
        snap = carl.snapshot
        got = tuple(rules.addable_kinds(snap, who.me) for who in (anne, bob, carl, dina))
        assert got == kinds, key
    anne.end()
    _sync(*group)
    assert all(rules.addable_kinds(carl.snapshot, who.me) == () for who in group)


def test_a_headless_add_respects_the_phase(
        group: tuple[Session, Session, Session, Session]) -> None:
    _anne, bob, carl, _ = group
    with pytest.raises(NotAllowed, match="this phase takes note, not question"):
        carl.add_items([("note", "Contexte"), ("question", "Depuis quand ?")])
    assert carl.snapshot.items == ()  # nothing of the batch
    with pytest.raises(NotAllowed, match="takes note"):
        carl.check_add("question", "Depuis quand ?")
    carl.check_add("note", "Contexte")
    _to(group, "contract")
    with pytest.raises(NotAllowed, match="only client may add a contract"):
        carl.add_item("contract", "Ce que j'attends")
    bob.add_item("contract", "Ce que j'attends")


def test_writing_for_someone_else(group: tuple[Session, Session, Session, Session]) -> None:
    _anne, bob, carl, dina = group
    with pytest.raises(NotAllowed, match="scribe or the facilitator"):
        carl.add_item("note", "Pour Bob", on_behalf=bob.me)
    note = dina.add_item("note", "Pour Bob", on_behalf=bob.me)
    assert dina.snapshot.item(note).speaker == bob.me  # type: ignore[union-attr]


def test_proposals_in_the_opening_until_a_case_is_chosen(
        group: tuple[Session, Session, Session, Session]) -> None:
    anne, _bob, carl, _ = group
    proposal = carl.add_item("proposal", "Mon équipe")  # the exposé takes notes, but it opens
    carl.vote(proposal)
    _sync(*group)
    anne.choose_case(proposal)
    _sync(*group)
    assert not rules.may_propose(carl.snapshot, carl.me)
    with pytest.raises(NotAllowed, match="case has been chosen"):
        carl.add_item("proposal", "Une autre")
    with pytest.raises(NotAllowed, match="case has been chosen"):
        carl.vote("")
    assert rules.may_propose(anne.snapshot, anne.me)  # the facilitator may change it
    _to(group, "questions")
    with pytest.raises(NotAllowed, match="opening"):
        anne.add_item("proposal", "Trop tard")


def test_own_items_only_and_the_facilitator_hides(
        group: tuple[Session, Session, Session, Session]) -> None:
    anne, bob, carl, dina = group
    note = carl.add_item("note", "Ma note")
    _sync(*group)
    snap = anne.snapshot
    item = snap.item(note)
    assert item is not None
    assert rules.may_edit(snap, carl.me, item) and rules.may_delete(snap, carl.me, item)
    for who in (bob, dina):  # the client, the scribe: no longer anyone's editor
        assert not rules.may_edit(snap, who.me, item)
        with pytest.raises(NotAllowed, match="only its author"):
            who.edit_item(note, "Réécrite")
    with pytest.raises(NotAllowed, match="may hide it"):
        anne.delete_item(note)
    assert rules.may_hide(snap, anne.me) and not rules.may_hide(snap, carl.me)
    carl.edit_item(note, "Ma note, corrigée")
    carl.delete_item(note)


def test_own_anonymous_items_are_recognised_by_their_id(clock: FakeClock) -> None:
    anne = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne",
                          clock=clock, anonymous=["note"])
    bob = replica_of(anne, "Bob")
    note = bob.add_item("note", "Sans nom")
    sync_pair(anne, bob)
    item = anne.snapshot.item(note)
    assert item is not None and item.author == ""
    assert rules.is_author(anne.snapshot, bob.me, item)
    assert not rules.is_author(anne.snapshot, anne.me, item)
    bob.edit_item(note, "Toujours sans nom")


def test_marks_are_the_clients_or_the_facilitators(
        group: tuple[Session, Session, Session, Session]) -> None:
    anne, bob, carl, dina = group
    _to(group, "questions")
    question = carl.add_item("question", "Depuis quand ?")
    _sync(*group)
    item = bob.snapshot.item(question)
    assert item is not None
    assert rules.may_mark(bob.snapshot, bob.me, item)
    assert rules.may_mark(bob.snapshot, anne.me, item)
    assert not rules.may_mark(bob.snapshot, carl.me, item)
    assert not rules.may_mark(bob.snapshot, dina.me, item)
    _to(group, "expose")
    note = anne.add_item("note", "x")
    with pytest.raises(OperationError, match="cannot be marked"):
        anne.mark_answered(note)


def test_an_actions_status_and_its_fields(
        group: tuple[Session, Session, Session, Session]) -> None:
    anne, bob, carl, dina = group
    _to(group, "synthesis")
    act = bob.add_item("action", "Appeler Marc", owner=carl.me)
    free = bob.add_item("action", "Quelqu'un relit")
    _sync(*group)
    snap = anne.snapshot
    owned, unowned = snap.item(act), snap.item(free)
    assert owned is not None and unowned is not None
    may = {who: bool(rules.may_update_status(snap, who.me, owned)) for who in group}
    assert may == {anne: True, bob: True, carl: True, dina: True}  # fac., author, owner, scribe
    stranger = replica_of(anne, "Eve")
    assert not rules.may_update_status(stranger.snapshot, stranger.me, owned)
    assert rules.may_update_status(stranger.snapshot, stranger.me, unowned)
    for who in (anne, carl, dina):  # owner, due date and text: the author's
        assert not rules.may_set_action(snap, who.me, owned)
        with pytest.raises(NotAllowed, match="only the action's author"):
            who.set_action(act, due="2027-01-01")
    bob.set_action(act, due="2027-01-01", owner=dina.me)
    carl.update_action(free, "done")


def test_a_carried_actions_owner_is_found_by_name(clock: FakeClock) -> None:
    first = Session.create(title="Janvier", protocol=builtin_protocols()["codev"],
                           name="Anne", clock=clock)
    bob = replica_of(first, "Bob")
    sync_pair(first, bob)
    first.goto(4)
    first.add_item("action", "Appeler Marc", owner=bob.me)
    first.end()
    nxt = Session.continue_from(first.doc, name="Anne", clock=clock)
    bob2, carl = replica_of(nxt, "Bob"), replica_of(nxt, "Carl")
    sync_pair(nxt, bob2)
    sync_pair(nxt, carl)
    (carried,) = nxt.snapshot.carried_actions()
    snap = nxt.snapshot
    assert rules.may_update_status(snap, bob2.me, carried)
    assert not rules.may_update_status(snap, carl.me, carried)


def test_facilitator_controls(group: tuple[Session, Session, Session, Session]) -> None:
    anne, bob, _, _ = group
    snap = anne.snapshot
    assert rules.may_control(snap, anne.me, "goto")
    assert not rules.may_control(snap, bob.me, "goto")
    with pytest.raises(NotAllowed, match="only the facilitator"):
        bob.start()
    anne.end()
    snap = anne.snapshot
    assert not rules.may_control(snap, anne.me, "goto")
    assert rules.may_control(snap, anne.me, "meeting")
    anne.set_next_meeting("2027-01-14")
    with pytest.raises(NotAllowed, match="ended"):
        anne.give_floor(anne.me)


def test_the_evaluation_opens_in_the_last_phase(
        group: tuple[Session, Session, Session, Session]) -> None:
    _anne, _, carl, _ = group
    with pytest.raises(NotAllowed, match="last phase"):
        carl.evaluate(5)
    _to(group, "learnings")
    assert rules.may_evaluate(carl.snapshot, carl.me)
    carl.evaluate(5)
