"""Who had the floor and who wrote in the current phase; anonymity kept; never exported."""

from __future__ import annotations

import pytest

from model import export
from model.participation import Participation, participation
from model.session import Session
from tests.replicas import FakeClock, replica_of, sync_pair, write_control


@pytest.fixture
def started(room: tuple[Session, Session, Session]) -> tuple[Session, Session, Session]:
    """The three of them (``room``, from conftest), the session started."""
    anne, bob, carl = room
    anne.start()
    sync_pair(anne, bob)
    sync_pair(anne, carl)
    return room


def spoke(session: Session) -> tuple[str, ...]:
    return session.snapshot.control.spoke


def test_everyone_given_the_floor_in_the_phase_has_spoken(
        started: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = started
    assert spoke(anne) == ()
    anne.give_floor(carl.me)
    anne.give_floor("")
    anne.give_floor(bob.me)
    anne.give_floor(carl.me)  # twice: listed once, first time first
    sync_pair(anne, bob)
    assert spoke(anne) == spoke(bob) == (carl.me, bob.me)


def test_a_round_counts_each_speaker_it_reaches(started: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = started
    anne.start_round([bob.me, carl.me, anne.me])
    assert spoke(anne) == (bob.me,)
    anne.next_speaker()
    assert spoke(anne) == (bob.me, carl.me)
    anne.previous_speaker()  # going back adds nobody
    assert spoke(anne) == (bob.me, carl.me)


def test_a_phase_move_starts_the_count_again(started: tuple[Session, Session, Session]) -> None:
    anne, bob, _ = started
    anne.give_floor(bob.me)
    anne.advance()
    assert spoke(anne) == ()
    anne.give_floor(anne.me)
    anne.go_back()
    assert spoke(anne) == ()


def test_a_floor_given_by_someone_else_does_not_count(
        started: tuple[Session, Session, Session]) -> None:
    anne, bob, _ = started
    write_control(bob, "floor", who=bob.me)
    sync_pair(anne, bob)
    assert spoke(anne) == spoke(bob) == ()


def test_participation_counts_spoken_and_written_in_this_phase(
        started: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = started
    bob.add_item("note", "Contexte")  # phase 1
    sync_pair(anne, bob)
    anne.advance()  # questions
    sync_pair(anne, bob)
    sync_pair(anne, carl)
    bob.add_item("question", "Depuis quand ?")
    bob.add_item("question", "Avec qui ?")
    sync_pair(anne, bob)
    anne.give_floor(carl.me)
    assert participation(anne.snapshot) == (
        Participation(anne.me, "Anne", spoke=False, written=0),
        Participation(bob.me, "Bob", spoke=False, written=2),
        Participation(carl.me, "Carl", spoke=True, written=0),
    )
    assert [p.silent for p in participation(anne.snapshot)] == [True, False, False]


def test_a_scribes_items_count_for_the_person_they_wrote_for(
        started: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = started
    anne.assign_role("scribe", bob.me)
    sync_pair(anne, bob)
    bob.add_item("note", "Ce que dit Carl", on_behalf=carl.me)
    sync_pair(anne, bob)
    written = {p.name: p.written for p in participation(anne.snapshot)}
    assert written == {"Anne": 0, "Bob": 0, "Carl": 1}


def test_anonymous_items_are_not_attributed(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    anne = Session.create(title="T", protocol=codev, name="Anne", clock=clock,
                          anonymous=["question"])
    bob = replica_of(anne, "Bob")
    sync_pair(anne, bob)
    anne.start()
    anne.advance()  # questions: anonymous in this session
    sync_pair(anne, bob)
    bob.add_item("question", "Une question sans nom")
    bob.add_item("note", "Une note signée")
    sync_pair(anne, bob)
    assert len(anne.snapshot.items_of("question")) == 1
    assert {p.name: p.written for p in participation(anne.snapshot)} == {"Anne": 0, "Bob": 1}


def test_carried_actions_are_not_written_today(clock: FakeClock, codev) -> None:  # type: ignore[no-untyped-def]
    first = Session.create(title="Janvier", protocol=codev, name="Anne", clock=clock)
    first.start()
    first.add_item("action", "Appeler Marc", owner=first.me)
    first.end()
    clock.advance(60)
    second = Session.continue_from(first.doc, name="Anne", title="Février", clock=clock)
    assert second.snapshot.carried_actions()
    assert all(p.written == 0 for p in participation(second.snapshot))


def test_who_spoke_is_never_exported(started: tuple[Session, Session, Session]) -> None:
    anne, bob, carl = started
    anne.give_floor(carl.me)
    anne.give_floor(bob.me)
    for fmt in export.FORMATS:
        text = export.render(anne.snapshot, fmt, "en").decode()
        assert "spoke" not in text and "floor" not in text.casefold()
    assert "spoke" not in export.to_data(anne.snapshot)
