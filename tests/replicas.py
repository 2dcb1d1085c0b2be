"""Test stand-ins shared by the suites: a fake clock and in-process replicas."""

from __future__ import annotations

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
