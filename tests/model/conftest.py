"""Fixtures of the model tests: a session played from start to end."""

from __future__ import annotations

import pytest

from model.session import Session
from tests.replicas import FakeClock, replica_of, sync_pair


@pytest.fixture
def played(session: Session, clock: FakeClock) -> Session:
    """A short co-development session played to the end."""
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.assign_role("client", bob.me)
    session.start()
    clock.advance(600)
    session.advance()  # questions
    q = session.add_item("question", "Depuis quand <l'équipe> résiste-t-elle ?")
    sync_pair(session, bob)
    bob.mark_answered(q)
    clock.advance(300)
    sync_pair(session, bob)
    session.advance()  # contract
    sync_pair(session, bob)
    bob.add_item("contract", "Comment embarquer l'équipe ?")
    sync_pair(session, bob)
    session.advance()  # advice
    a1 = session.add_item("advice", "Faire un atelier *participatif*")
    session.add_item("advice", "Attendre")
    sync_pair(session, bob)
    bob.mark_retained(a1)
    sync_pair(session, bob)
    session.advance()  # action plan
    sync_pair(session, bob)
    bob.add_item("action", "Planifier l'atelier", owner=bob.me, due="2026-12-10")
    sync_pair(session, bob)
    session.advance()  # learnings
    session.add_item("learning", "Les questions ouvrent des pistes")
    session.end()
    sync_pair(session, bob)
    return session


@pytest.fixture
def room(session: Session) -> tuple[Session, Session, Session]:
    """Anne (facilitator), Bob and Carl, all synced."""
    bob = replica_of(session, "Bob")
    carl = replica_of(session, "Carl")
    sync_pair(session, bob)
    sync_pair(session, carl)
    sync_pair(session, bob)
    return session, bob, carl
