"""The floor, the round-robin, choosing the case, the plan, evaluation, the next meeting."""

from __future__ import annotations

import pytest
from automerge.core import ROOT, ObjType, ScalarType

from model.control import Floor
from model.ops import OperationError
from model.reading import child
from model.session import NotAllowed, Session
from tests.replicas import FakeClock, sync_pair, write_control

# -- the floor --------------------------------------------------------------------

def test_give_the_floor_on_every_screen(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    anne.give_floor(carl.me)
    sync_pair(anne, bob)
    assert bob.snapshot.control.floor == Floor(speaker=carl.me)
    anne.give_floor("")
    sync_pair(anne, bob)
    assert bob.snapshot.control.floor == Floor()
    with pytest.raises(OperationError, match="participant"):
        anne.give_floor("f" * 32)
    with pytest.raises(NotAllowed, match="facilitator"):
        bob.give_floor(bob.me)


def test_only_the_facilitators_floor_counts(room: tuple[Session, Session, Session]) -> None:
    anne, bob, _ = room
    write_control(bob, "floor", who=bob.me)
    sync_pair(anne, bob)
    for reader in (anne, bob):
        assert reader.snapshot.control.floor.speaker == ""
        assert reader.snapshot.control.ignored == 1


def test_round_robin_walks_the_participants(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    anne.start_round()
    order = (anne.me, bob.me, carl.me)
    assert anne.snapshot.control.floor == Floor(anne.me, order, 0)
    assert anne.snapshot.control.floor.next_in_round() == bob.me
    with pytest.raises(NotAllowed, match="first person"):
        anne.previous_speaker()
    anne.next_speaker()
    anne.next_speaker()
    sync_pair(anne, carl)
    floor = carl.snapshot.control.floor
    assert (floor.speaker, floor.turn, floor.in_round, floor.next_in_round()) == (
        carl.me, 2, True, "")
    anne.next_speaker()  # after the last: the round is over
    floor = anne.snapshot.control.floor
    assert (floor.speaker, floor.round_done, floor.in_round) == ("", True, False)
    with pytest.raises(NotAllowed, match="everyone has spoken"):
        anne.next_speaker()
    anne.previous_speaker()  # back to the last one
    assert anne.snapshot.control.floor.speaker == carl.me


def test_round_in_a_chosen_order_and_its_errors(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    with pytest.raises(NotAllowed, match="no round"):
        anne.next_speaker()
    with pytest.raises(OperationError, match="once"):
        anne.start_round([bob.me, bob.me])
    with pytest.raises(OperationError, match="at least one"):
        anne.start_round([])
    with pytest.raises(OperationError, match="participant"):
        anne.start_round([bob.me, "x"])
    anne.start_round([carl.me, bob.me])
    assert anne.snapshot.control.floor.speaker == carl.me
    anne.give_floor(anne.me)  # giving the floor ends the round
    assert anne.snapshot.control.floor == Floor(speaker=anne.me)


def test_a_phase_move_clears_the_floor(room: tuple[Session, Session, Session]) -> None:
    anne, _, _ = room
    anne.start()
    anne.start_round()
    anne.advance()
    assert anne.snapshot.control.floor == Floor()


def test_a_turn_without_a_round_is_ignored_on_read(session: Session) -> None:
    write_control(session, "turn", step=1)
    write_control(session, "turn", step=5)
    assert session.snapshot.control.ignored == 2


# -- choosing the case --------------------------------------------------------------

def test_votes_tally_and_the_chosen_proposer_becomes_client(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    p_bob = bob.add_item("proposal", "Mon nouveau manager")
    p_carl = carl.add_item("proposal", "Un conflit dans l'équipe")
    sync_pair(bob, carl)
    sync_pair(anne, bob)
    sync_pair(anne, carl)
    anne.vote(p_bob)
    bob.vote(p_carl)
    carl.vote(p_carl)
    sync_pair(anne, bob)
    sync_pair(bob, carl)
    sync_pair(anne, bob)
    tally = anne.snapshot.tally
    assert [(t.proposal, t.proposer, t.votes, set(t.voters)) for t in tally] == [
        (p_carl, carl.me, 2, {bob.me, carl.me}), (p_bob, bob.me, 1, {anne.me})]
    assert tally == bob.snapshot.tally == carl.snapshot.tally
    bob.vote(p_bob)  # one vote each, changeable: Bob moves his
    sync_pair(anne, bob)
    assert [(t.proposal, t.votes) for t in anne.snapshot.tally] == [(p_bob, 2), (p_carl, 1)]
    winner = anne.snapshot.winner
    assert winner is not None and winner.proposal == p_bob
    assert bob.my_vote == p_bob


def test_choose_the_case(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    p_bob = bob.add_item("proposal", "Mon nouveau manager")
    p_carl = carl.add_item("proposal", "Un conflit")
    for voter in (bob, carl):
        sync_pair(anne, voter)
    bob.vote(p_bob)
    carl.vote(p_carl)
    for voter in (bob, carl):
        sync_pair(anne, voter)
    assert anne.snapshot.winner is None
    with pytest.raises(NotAllowed, match="most votes"):
        anne.choose_case()
    anne.vote(p_carl)
    winner = anne.snapshot.winner
    assert winner is not None and (winner.proposal, winner.votes) == (p_carl, 2)
    with pytest.raises(NotAllowed, match="facilitator"):
        carl.choose_case(p_carl)
    anne.choose_case()
    sync_pair(anne, carl)
    for reader in (anne, carl):
        assert reader.snapshot.control.case == p_carl
        assert reader.snapshot.control.roles.client == carl.me
    anne.choose_case(p_bob)  # the facilitator may follow the group's choice over the count
    assert anne.snapshot.control.roles.client == bob.me
    note = anne.add_item("note", "x")
    with pytest.raises(OperationError, match="proposals"):
        anne.choose_case(note)


def test_vote_errors_and_withdrawal(room: tuple[Session, Session, Session]) -> None:
    _, bob, _ = room
    note = bob.add_item("note", "pas une proposition")
    with pytest.raises(OperationError, match="proposal"):
        bob.vote(note)
    proposal = bob.add_item("proposal", "Mon cas")
    bob.vote(proposal)
    assert bob.snapshot.tally[0].votes == 1
    bob.vote("")
    assert bob.snapshot.tally[0].votes == 0 and bob.my_vote == ""
    bob.vote(proposal)
    bob.delete_item(proposal)  # a vote for a deleted proposal counts for nothing
    assert bob.snapshot.tally == ()


def test_a_vote_written_for_someone_else_does_not_count(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, _ = room
    proposal = anne.add_item("proposal", "Le cas d'Anne")
    sync_pair(anne, bob)
    people = child(anne.doc, ROOT, "participants", ObjType.Map)
    assert people is not None
    bobs = child(anne.doc, people, bob.me, ObjType.Map)
    assert bobs is not None
    with anne.doc.transaction() as tx:
        tx.put(bobs, "vote", ScalarType.Str, proposal)
        tx.put(bobs, "rating", ScalarType.Int, 1)
    anne.refresh()
    sync_pair(anne, bob)
    for reader in (anne, bob):
        assert reader.snapshot.tally[0].votes == 0
        assert reader.snapshot.evaluation.count == 0


def test_a_proposal_written_by_the_scribe_names_the_speaker(
        room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    anne.assign_role("scribe", bob.me)
    sync_pair(anne, bob)
    proposal = bob.add_item("proposal", "Le cas de Carl", on_behalf=carl.me)
    sync_pair(anne, bob)
    anne.choose_case(proposal)
    assert anne.snapshot.control.roles.client == carl.me


# -- time -----------------------------------------------------------------------

def test_plan_rows_planned_against_actual(session: Session, clock: FakeClock) -> None:
    session.start()
    clock.advance(10 * 60)  # exposé: 10 of 15 minutes
    session.advance()
    clock.advance(18 * 60)
    session.extend(5)
    clock.advance(9 * 60)  # questions: 27 minutes for 20 + 5
    session.advance()
    clock.advance(90)  # contract, running
    rows = session.snapshot.plan(now=clock.now)
    assert [(r.key, r.planned_minutes, r.extended_minutes, r.actual_ms, r.current)
            for r in rows[:4]] == [
        ("expose", 15, 0, 600_000, False),
        ("questions", 20, 5, 27 * 60_000, False),
        ("contract", 5, 0, 90_000, True),
        ("advice", 25, 0, 0, False),
    ]
    assert [(r.actual_minutes, r.overtime_minutes) for r in rows[:3]] == [(10, 0), (27, 2), (2, 0)]
    assert session.snapshot.plan()[2].actual_ms == 0  # without now: closed stretches only
    clock.advance(5 * 60)
    session.go_back()  # a second visit adds up
    clock.advance(60)
    session.end()
    rows = session.snapshot.plan(now=clock.now + 10**6)  # ended: now no longer counts
    assert (rows[1].actual_ms, rows[1].extended_minutes) == (28 * 60_000, 5)
    assert rows[2].actual_ms == 390_000 and not any(r.current for r in rows)


# -- evaluation ------------------------------------------------------------------

def test_evaluation_is_aggregated(room: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = room
    anne.end()  # the evaluation is given in the last phase or after the end
    for other in (bob, carl):
        sync_pair(anne, other)
    anne.evaluate(5, "Très bon cadre")
    bob.evaluate(3, "  un peu\n long  ")
    carl.evaluate(None, "Merci")
    for other in (bob, carl):
        sync_pair(anne, other)
    ev = anne.snapshot.evaluation
    assert (ev.count, ev.mean, ev.distribution, ev.feedback) == (
        2, 4.0, (0, 0, 1, 0, 1), ("Merci", "Très bon cadre", "un peu long"))
    bob.evaluate(4, "un peu long")  # changed
    sync_pair(anne, bob)
    assert anne.snapshot.evaluation.distribution == (0, 0, 0, 1, 1)
    assert bob.my_evaluation == (4, "un peu long")
    assert carl.my_evaluation == (None, "Merci")
    carl.evaluate(None)  # withdrawn
    sync_pair(anne, carl)
    assert anne.snapshot.evaluation.feedback == ("Très bon cadre", "un peu long")
    sync_pair(anne, bob)
    assert bob.snapshot.evaluation == anne.snapshot.evaluation


@pytest.mark.parametrize(("rating", "feedback", "message"), [
    (0, "", "from 1 to 5"),
    (6, "", "from 1 to 5"),
    (True, "", "from 1 to 5"),
    (3, "x" * 281, "at most 280 characters"),
])
def test_evaluation_is_validated(session: Session, rating: int, feedback: str,
                                 message: str) -> None:
    session.end()
    with pytest.raises(OperationError, match=message):
        session.evaluate(rating, feedback)
    assert session.snapshot.evaluation.count == 0


def test_evaluation_after_the_end(session: Session) -> None:
    session.end()
    session.evaluate(4)
    assert session.snapshot.evaluation.count == 1


# -- next meeting ------------------------------------------------------------------

def test_next_meeting(room: tuple[Session, Session, Session], clock: FakeClock) -> None:
    anne, bob, _ = room
    anne.set_next_meeting("2027-01-14", "18:30", " Salle B,\n 2e étage ")
    sync_pair(anne, bob)
    meeting = bob.snapshot.control.meeting
    assert meeting is not None
    assert (meeting.date, meeting.time, meeting.place, meeting.minutes, meeting.set_at) == (
        "2027-01-14", "18:30", "Salle B, 2e étage", 100, clock.now)  # 85 + 15 of follow-up
    with pytest.raises(NotAllowed, match="facilitator"):
        bob.set_next_meeting("2027-01-15")
    anne.end()
    anne.set_next_meeting("2027-01-21", minutes=90)  # after the end, still possible
    assert anne.snapshot.control.meeting.date == "2027-01-21"  # type: ignore[union-attr]
    assert anne.snapshot.control.meeting.time == ""  # type: ignore[union-attr]
    anne.clear_next_meeting()
    assert anne.snapshot.control.meeting is None


@pytest.mark.parametrize(("args", "message"), [
    (("2027-02-30",), "YYYY-MM-DD"),
    (("14/01/2027",), "YYYY-MM-DD"),
    (("2027-01-14", "25:00"), "HH:MM"),
    (("2027-01-14", "6pm"), "HH:MM"),
    (("",), "give the date"),
])
def test_next_meeting_is_validated(session: Session, args: tuple[str, ...],
                                   message: str) -> None:
    with pytest.raises(OperationError, match=message):
        session.set_next_meeting(*args)
    with pytest.raises(OperationError, match="0 to 720"):
        session.set_next_meeting("2027-01-14", minutes=721)
    with pytest.raises(OperationError, match="one line of at most 200"):
        session.set_next_meeting("2027-01-14", place="x" * 201)


def test_a_bad_meeting_event_is_ignored_on_read(session: Session) -> None:
    write_control(session, "meeting", date="2027-13-01")
    assert session.snapshot.control.meeting is None
    assert session.snapshot.control.ignored == 1
