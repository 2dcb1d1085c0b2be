"""Facilitator controls count only when the facilitator wrote them, on every reader."""

from __future__ import annotations

from automerge.core import ROOT, ObjType, ScalarType

from model.reading import child
from model.session import Session
from tests.replicas import replica_of, sync_pair, write_control


def _forge(replica: Session, log_owner: str, **event: object) -> None:
    """Write a control event straight into the document, bypassing every check."""
    logs = child(replica.doc, ROOT, "control", ObjType.Map)
    assert logs is not None
    with replica.doc.transaction() as tx:
        got = tx.get(logs, log_owner)
        log = got[1] if got else tx.put_object(logs, log_owner, ObjType.List)
        entry = tx.insert_object(log, tx.length(log), ObjType.Map)
        for key, value in event.items():
            stype = ScalarType.Int if isinstance(value, int) else ScalarType.Str
            tx.put(entry, key, stype, value)
    replica.refresh()


def test_non_facilitator_phase_write_is_ignored_by_every_reader(session: Session) -> None:
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    # Bob writes a phase change in his own log, exactly as the facilitator would.
    write_control(bob, "goto", to=3)
    assert bob.snapshot.control.phase.index == 0
    sync_pair(session, bob)
    for reader in (session, bob):
        assert reader.snapshot.control.phase.index == 0
        assert reader.snapshot.control.ignored == 1


def test_event_forged_into_the_facilitators_log_is_ignored(session: Session) -> None:
    bob = replica_of(session, "Bob")
    session.start()
    sync_pair(session, bob)
    _forge(bob, session.me, type="goto", at=5, to=4)
    _forge(bob, session.me, type="role", at=5, role="facilitator", who=bob.me)
    sync_pair(session, bob)
    for reader in (session, bob):
        assert reader.snapshot.control.phase.index == 0
        assert reader.snapshot.control.roles.facilitator == session.me
        assert reader.snapshot.control.ignored == 2


def test_raw_phase_field_written_at_the_root_has_no_effect(session: Session) -> None:
    bob = replica_of(session, "Bob")
    with bob.doc.transaction() as tx:
        tx.put(ROOT, "phase", ScalarType.Int, 4)
    bob.refresh()
    sync_pair(session, bob)
    assert session.snapshot.control.phase.index == 0


def test_hand_over_moves_authority(session: Session) -> None:
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.hand_over(bob.me)
    sync_pair(session, bob)
    bob.goto(2)
    # The former facilitator's writes no longer count.
    write_control(session, "goto", now=9, to=5)
    sync_pair(session, bob)
    for reader in (session, bob):
        assert reader.snapshot.control.phase.index == 2
        assert reader.snapshot.control.roles.facilitator == bob.me


def test_events_after_end_are_ignored(session: Session) -> None:
    session.end()
    write_control(session, "goto", now=9, to=2)
    assert session.snapshot.control.phase.status == "ended"
    assert session.snapshot.control.ignored == 1
