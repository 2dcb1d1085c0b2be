"""A deterministic network for replication tests: cores, in-memory links, a fake clock.

``SimNet`` runs ``sync.core.MeshCore`` machines with no sockets, no tasks and no sleeps:
every envelope goes through the wire encoder (so its bounds are checked) and is delivered
``latency`` seconds later on the fake clock, in order per link; timers fire when the clock
reaches a core's ``wake_at``. A test can cut links, drop frames on purpose, or play a
hostile laptop by sending envelopes of its own making.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from model.session import Session
from sync.core import Close, Dial, Effect, Emit, MeshCore, Pause, Send
from sync.events import NodeEvent
from sync.handshake import Anchor
from sync.wire import Envelope, WireError, decode_envelope, encode_envelope
from tests.sync.people import Person, creator, member, session_of

WALL = 1_800_000_000.0  # the fake wall clock starts here (seconds)


@dataclass(eq=False)
class SimPeer:
    net: SimNet
    person: Person
    core: MeshCore
    events: list[NodeEvent] = field(default_factory=list)
    dials: list[Dial] = field(default_factory=list)
    links: dict[int, tuple[SimPeer, int]] = field(default_factory=dict)
    paused: dict[int, float] = field(default_factory=dict)  # link -> read nothing before
    saves: int = 0
    save_ok: bool = True

    @property
    def name(self) -> str:
        return self.person.name

    @property
    def session(self) -> Session:
        assert self.core.session is not None, f"{self.name} holds no session yet"
        return self.core.session

    def of(self, kind: type) -> list[NodeEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    def link_to(self, other: SimPeer) -> int | None:
        return next((lid for lid, (peer, _) in self.links.items() if peer is other), None)

    def changed(self) -> None:
        """The person changed the document (what the node's local_changed does)."""
        self.core.local_changed(self.net.now)

    def send(self, other: SimPeer, envelope: Envelope) -> None:
        """Send ``envelope`` on the link to ``other`` as if the core had (a hostile laptop)."""
        lid = self.link_to(other)
        assert lid is not None, f"{self.name} has no link to {other.name}"
        self.net.apply(self, [Send(lid, envelope)])

    def __repr__(self) -> str:
        return f"<{self.name}>"


class SimNet:
    def __init__(self, latency: float = 0.002) -> None:
        self.now = 0.0
        self.latency = latency
        self.peers: list[SimPeer] = []
        self.delivered: list[tuple[SimPeer, SimPeer, Envelope]] = []
        self.drop: Callable[[SimPeer, SimPeer, Envelope], bool] | None = None
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._links = itertools.count(1)
        self.anchor: Anchor | None = None
        self.host: Person | None = None

    # -- people -------------------------------------------------------------------------------
    def creator(self, name: str = "Anne", **kwargs: str) -> SimPeer:
        person, session, anchor = creator(name, **kwargs)
        self.anchor, self.host = anchor, person
        return self._peer(person, session)

    def member(self, name: str, *, joined: bool = True) -> SimPeer:
        """A member the creator admitted; with ``joined`` she already holds the session."""
        assert self.anchor is not None and self.host is not None
        person = member(name, self.anchor, self.host)
        return self._peer(person, None)

    def restart(self, peer: SimPeer, *, heads: bytes = b"") -> SimPeer:
        """``peer``'s laptop stops (its links cut) and starts again from its file, with the
        signed heads it kept beside it (``heads``, as ``MeshCore.heads_blob`` gave them)."""
        for other, _ in list(peer.links.values()):
            self.cut(peer, other)
        self.peers.remove(peer)
        from automerge.core import Document

        return self._peer(peer.person, session_of(peer.person, Document.load(
            peer.session.save())), heads=heads)

    def _peer(self, person: Person, session: Session | None, *, heads: bytes = b"") -> SimPeer:
        assert self.anchor is not None
        holder: list[SimPeer] = []

        def save() -> str | None:
            peer = holder[0]
            peer.saves += 1
            return None if peer.save_ok else "the disk is full (simulated)"

        core = MeshCore(identity=person.identity, anchor=self.anchor,
                        admission=person.admission, session=session,
                        make_session=lambda doc: session_of(person, doc), save=save,
                        heads=heads, wall_clock=lambda: WALL + self.now)
        peer = SimPeer(self, person, core)
        holder.append(peer)
        self.peers.append(peer)
        return peer

    # -- links --------------------------------------------------------------------------------
    def link(self, dialer: SimPeer, listener: SimPeer) -> None:
        """``dialer`` dials ``listener``; both see the link come up."""
        a, b = next(self._links), next(self._links)
        dialer.links[a] = (listener, b)
        listener.links[b] = (dialer, a)
        self.apply(listener, listener.core.link_up(
            b, dialer.person.actor, initiator=False, remote=dialer.name,
            listen=(dialer.name, 1000),
            admission=dialer.person.admission, now=self.now))
        self.apply(dialer, dialer.core.link_up(
            a, listener.person.actor, initiator=True, remote=listener.name,
            listen=(listener.name, 1000), admission=listener.person.admission, now=self.now))

    def cut(self, a: SimPeer, b: SimPeer) -> None:
        """The link between ``a`` and ``b`` breaks (both notice at once)."""
        lid = a.link_to(b)
        if lid is None:
            return
        other, olid = a.links.pop(lid)
        other.links.pop(olid, None)
        self.apply(a, a.core.link_down(lid, self.now))
        self.apply(other, other.core.link_down(olid, self.now))

    def mesh(self, *peers: SimPeer) -> None:
        for i, a in enumerate(peers):
            for b in peers[i + 1:]:
                self.link(b, a)

    # -- running ------------------------------------------------------------------------------
    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), action))

    def apply(self, peer: SimPeer, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Send(link=lid, envelope=envelope):
                    if lid not in peer.links:
                        continue
                    other, olid = peer.links[lid]
                    try:
                        wired = decode_envelope(encode_envelope(envelope))  # bounds checked
                    except WireError:  # what a real link does with a frame it cannot read
                        self.apply(other, [Close(olid, "bad frame")])
                        continue
                    if self.drop is not None and self.drop(peer, other, wired):
                        continue
                    self.at(self.now + self.latency,
                            lambda o=other, lo=olid, e=wired, p=peer: self._deliver(p, o, lo, e))
                case Close(link=lid):
                    if lid in peer.links:
                        other, olid = peer.links.pop(lid)
                        other.links.pop(olid, None)
                        self.at(self.now + self.latency, lambda o=other, lo=olid: self.apply(
                            o, o.core.link_down(lo, self.now)))
                case Emit(event=event):
                    peer.events.append(event)
                case Dial():
                    peer.dials.append(effect)
                case Pause(link=lid, seconds=seconds):
                    peer.paused[lid] = self.now + seconds

    def _deliver(self, sender: SimPeer, peer: SimPeer, lid: int, envelope: Envelope) -> None:
        if lid not in peer.links:
            return
        if peer.paused.get(lid, 0.0) > self.now:  # braked: it waits, in order
            self.at(peer.paused[lid], lambda: self._deliver(sender, peer, lid, envelope))
            return
        self.delivered.append((sender, peer, envelope))
        self.apply(peer, peer.core.receive(lid, envelope, self.now))

    def run(self, seconds: float = 10.0, until: Callable[[], bool] | None = None) -> bool:
        """Advance the clock by up to ``seconds``, delivering and waking as it goes; True
        if ``until`` came to hold (then the clock stops there)."""
        end = self.now + seconds
        for _ in range(1_000_000):
            if until is not None and until():
                return True
            wakes = [(w, p) for p in self.peers if (w := p.core.wake_at()) is not None]
            next_wake = min((w for w, _ in wakes), default=None)
            next_frame = self._heap[0][0] if self._heap else None
            when = min((t for t in (next_wake, next_frame) if t is not None), default=None)
            if when is None or when > end:
                self.now = end
                return until is not None and until()
            self.now = max(self.now, when)
            while self._heap and self._heap[0][0] <= self.now:
                heapq.heappop(self._heap)[2]()
            for wake, peer in wakes:
                if wake <= self.now:
                    self.apply(peer, peer.core.tick(self.now))
        raise AssertionError("the simulation did not settle")

    def settle(self, seconds: float = 20.0) -> None:
        """Run until every peer holds the same changes (and nothing is waiting)."""
        assert self.run(seconds, lambda: self.converged()), "the peers did not converge"

    def converged(self) -> bool:
        held = [p for p in self.peers if p.core.session is not None]
        heads = [sorted(p.session.doc.get_heads()) for p in held]
        return len(held) == len(self.peers) and all(h == heads[0] for h in heads) and not any(
            len(p.core.pending) for p in held)

    def frames(self, kind: type, sender: SimPeer | None = None) -> list[Envelope]:
        return [e for s, _, e in self.delivered if isinstance(e, kind)
                and (sender is None or s is sender)]
