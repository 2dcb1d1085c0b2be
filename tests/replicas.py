"""Test stand-ins shared by the suites: a fake clock and in-process replicas."""

from __future__ import annotations

from automerge.core import ROOT, ScalarType

from model import ops
from model.session import Session


class FakeClock:
    """Milliseconds that only move when a test says so."""

    def __init__(self, start: int = 1_780_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


def replica_of(original: Session, name: str, clock: FakeClock | None = None) -> Session:
    """A second laptop: a fresh actor holding a copy of ``original``, joined as ``name``."""
    clock = clock or original.clock
    if isinstance(clock, FakeClock):
        clock.advance(1)  # people arrive one after the other
    other = Session(original.doc.fork(), clock=clock)
    other.join(name)
    return other


def sync_pair(a: Session, b: Session) -> None:
    """Exchange changes both ways until both replicas hold the same heads."""
    a.merge(b.doc.fork())
    b.merge(a.doc.fork())
    assert sorted(a.doc.get_heads()) == sorted(b.doc.get_heads())


def write_control(session: Session, type: str, *, now: int = 1, **fields: object) -> None:
    """A control event signed by ``session``'s own key and appended to its own log, past
    every check of ``Session`` (what a modified client can write)."""
    ops.append_control(session.doc, identity=session.identity,
                       session_id=session.snapshot.info.id, type=type, now=now, **fields)
    session.refresh()


def make_legacy(session: Session, *, format: int = 2, session_id: str | None = None) -> None:
    """Turn ``session`` (just created) into what an older Cercle wrote: no creator key nor
    nonce, ``format`` 1 or 2 (and ``session_id`` if given). Its creator writes it all, as
    older versions did, so nothing looks tampered with: it is only unproven."""
    doc = session.doc
    with doc.transaction() as tx:
        got = tx.get(ROOT, "session")
        assert got is not None
        tx.delete(got[1], "creator_key")
        tx.delete(got[1], "nonce")
        if session_id is not None:
            tx.put(got[1], "id", ScalarType.Str, session_id)
        tx.put(ROOT, "format", ScalarType.Int, format)
    session.refresh()
