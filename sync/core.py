"""One laptop's replication of a session, as a sans-IO machine.

``MeshCore`` is fed what happens — a link came up or went down, an envelope arrived, the
person changed the document, time passed — together with ``now``, and answers with
effects: envelopes to send, links to close, events for the owner, addresses to dial.
``wake_at()`` says when to call ``tick`` next. It never touches a socket or a timer, so
everything here is tested with stand-in links and a fake clock (``tests/sync/sim.py``);
``sync.node`` is the asyncio wiring around it.

**Pushes.** A local change is saved, then pushed at once to every peer, each change with
its author's signature (``SignedHead``). Received changes are pushed on only to the peers
with no link to the sender (``Presence.links``), so in a full mesh nobody relays.

**Exchange.** When a link comes up, the dialler says what it holds (``Have``: how many
changes of each author); the other side answers with every change it holds beyond that,
with its latest signed head of each author, and asks in turn if it lacks something. A
``Ping`` carries the sender's heads: a peer that sees heads it does not hold asks again
once the link is quiet. A newcomer holding nothing gets the whole saved ``Document`` from
the creator.

**What is taken.** Nothing is applied unless it is proven and allowed (see
``sync.coverage`` and ``model.validation``): each change is decoded and hashed here, must
be proven by a signed head of its own author, whose key the creator admitted, must keep
the write rules and the limits, and waits outside the document until what it depends on
is held (``sync.pending``). A link that sends anything else is dropped, the owner is told
who signed it (``Misbehaviour``) and the facilitator's laptop is told too (``Report``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, TypeVar

import msgspec
from automerge.core import Document as AmDocument

from model.binding import is_rust_panic
from model.changes import ChangeFormatError, DecodedChange, decode_change
from model.founding import read_founding
from model.keys import Identity, change_message, verify
from model.session import ApplyFailed, Session
from model.validation import (
    MAX_CHANGE_BYTES,
    MAX_ITEMS_PER_MINUTE,
    Ledger,
    Refused,
    WriteRules,
)
from sync.coverage import Node, covered
from sync.events import (
    CodeChanged,
    DocumentChanged,
    LinkProblem,
    Misbehaviour,
    NodeEvent,
    PeersChanged,
    Saved,
    SaveFailed,
)
from sync.handshake import Anchor
from sync.pending import PendingPool, Waiting
from sync.saving import SavePolicy
from sync.wire import (
    MAX_ACTORS,
    MAX_FRAME,
    MAX_HEADS,
    Bye,
    Certificate,
    Changes,
    Code,
    Document,
    Envelope,
    Have,
    Peer,
    Peers,
    Ping,
    Pong,
    Presence,
    Report,
    SignedHead,
)

__all__ = ["Close", "Dial", "Effect", "Emit", "LinkView", "MeshCore", "Pause", "Send"]

log = logging.getLogger("cercle.sync")

Address = tuple[str, int]
PING_INTERVAL: Final = 5.0
DEAD_AFTER: Final = 15.0
RESTART_QUIET: Final = 1.0  # seconds without changes on a link before a ping may ask again
ANSWER_BUDGET: Final = 6 * 1024 * 1024  # bytes of changes in one answer (the frame is 8 MiB)
PUSH_BYTES: Final = 1024 * 1024  # changes per pushed frame
REPORTS_PER_MINUTE: Final = 10
MAX_ADDRESSES: Final = MAX_ACTORS
MAX_OFFSET: Final = 366 * 86400.0  # a clock further off than a year is not believed


# -- effects ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Send:
    link: int
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class Close:
    link: int
    reason: str
    bye: str = ""  # say this Bye first ("" for none)


@dataclass(frozen=True, slots=True)
class Emit:
    event: NodeEvent


@dataclass(frozen=True, slots=True)
class Dial:
    host: str
    port: int
    actor: bytes  # the member expected there


@dataclass(frozen=True, slots=True)
class Pause:
    """Read nothing more from ``link`` for ``seconds`` (a brake, not a refusal)."""

    link: int
    seconds: float


Effect = Send | Close | Emit | Dial | Pause


@dataclass(frozen=True, slots=True)
class LinkView:
    """What the owner may know about a connected peer."""

    peer_id: str  # hex public key
    address: Address | None
    is_host: bool  # the session's creator
    presence: Presence | None
    clock_offset: float | None  # their clock minus ours, seconds
    rtt: float | None


@dataclass(eq=False)
class _Link:
    id: int
    peer: bytes
    initiator: bool
    remote: str
    listen: Address | None
    last_heard: float
    presence: Presence | None = None
    samples: list[tuple[float, float]] = field(default_factory=list)  # (rtt, offset)
    last_changes: float = 0.0  # changes crossed this link (either way)
    waiting: bool = False  # our Have is not answered yet
    asked_at: float = -1e9  # when we last sent a Have
    pinged_at: float = 0.0
    told: set[bytes] = field(default_factory=set)  # authors whose admission it was sent
    reports: list[float] = field(default_factory=list)
    closing: bool = False


class MeshCore:
    """Replicates one session with every linked member (see the module's docstring)."""

    def __init__(
        self,
        *,
        identity: Identity,
        anchor: Anchor,
        admission: bytes = b"",
        session: Session | None = None,
        make_session: Callable[[AmDocument], Session],
        save: Callable[[], str | None] | None = None,
        listen_port: int | None = None,
        wall_clock: Callable[[], float],
        ping_interval: float = PING_INTERVAL,
        dead_after: float = DEAD_AFTER,
        saving: SavePolicy | None = None,
        pending: PendingPool | None = None,
        heads: bytes = b"",
    ) -> None:
        self.identity = identity
        self.anchor = anchor
        self.admission = admission
        self.session = session
        self._make_session = make_session
        self._save_file = save
        self.listen_port = listen_port
        self.wall = wall_clock
        self.ping_interval = ping_interval
        self.dead_after = dead_after
        self.saving = saving or SavePolicy()
        self.pending = pending or PendingPool()
        self.presence = Presence()
        self.code_shown = ""  # the join code as the creator last told it
        self._links: dict[int, _Link] = {}
        self._addresses: dict[bytes, Address] = {}  # where members listen, as told
        self._admissions: dict[bytes, bytes] = {anchor.creator: b""}
        if admission:
            self._admissions[identity.actor] = admission
        self._heads: dict[bytes, tuple[int, SignedHead]] = {}
        self._pushed: list[bytes] = []
        self._seen: list[bytes] = []  # the document's heads when the ledger last caught up
        self._rules: WriteRules | None = None
        self.ledger = Ledger(anchor.creator)
        self._nonce = 0
        self._arrivals: dict[bytes, _Window] = {}  # author -> items of the last minute
        self._braked: dict[bytes, float] = {}  # author -> when the facilitator was last told
        if session is not None:
            self._adopt(session)
        if heads:
            self._load_heads(heads)

    # -- reading ----------------------------------------------------------------------
    @property
    def me(self) -> bytes:
        return self.identity.actor

    @property
    def is_creator(self) -> bool:
        return self.me == self.anchor.creator

    def links(self) -> list[LinkView]:
        return [self._view(link) for link in self._links.values()]

    def linked(self, actor: bytes) -> bool:
        return any(link.peer == actor for link in self._links.values())

    def _view(self, link: _Link) -> LinkView:
        best = min(link.samples) if link.samples else None
        return LinkView(link.peer.hex(), link.listen, link.peer == self.anchor.creator,
                        link.presence, best[1] if best else None, best[0] if best else None)

    def offset_to(self, actor_hex: str) -> float:
        """Seconds to add to our clock to read ``actor_hex``'s clock (0 when unknown)."""
        for link in self._links.values():
            if link.peer.hex() == actor_hex and link.samples:
                return min(link.samples)[1]
        return 0.0

    def is_synced(self, now: float, quiet: float = 0.3) -> bool:
        """Linked, holding a session, nothing waiting or in flight for ``quiet`` seconds."""
        if self.session is None or not self._links or len(self.pending):
            return False
        if self.saving.unsaved_local:
            return False
        return all(not link.waiting and now - link.last_changes >= quiet
                   for link in self._links.values())

    def admissions(self) -> dict[bytes, bytes]:
        return dict(self._admissions)

    def heads_blob(self) -> bytes:
        """The latest signed head of every other author, to keep beside the session file
        (ours this laptop signs again whenever it needs to)."""
        return msgspec.msgpack.encode([(seq, head) for actor, (seq, head) in self._heads.items()
                                       if actor != self.me])

    # -- the session --------------------------------------------------------------------
    def _adopt(self, session: Session) -> None:
        self.session = session
        self._rules = WriteRules.of(session.doc, self.anchor.creator)
        self.ledger = Ledger.of(session.doc, self._rules)
        self._seen = session.doc.get_heads()
        self._pushed = list(self._seen)
        self._read_admissions(session)

    def _read_admissions(self, session: Session) -> None:
        from automerge.core import ROOT, ObjType

        from model.reading import child, scalar
        from model.schema import K_PARTICIPANTS

        doc = session.doc
        people = child(doc, ROOT, K_PARTICIPANTS, ObjType.Map)
        if people is None:
            return
        for key in doc.keys(people):
            try:
                actor = bytes.fromhex(key)
            except ValueError:
                continue
            person = child(doc, people, key, ObjType.Map)
            admission = scalar(doc, person, "admission", bytes, b"") if person else b""
            if actor not in self._admissions and self.anchor.admits(actor, admission):
                self._admissions[actor] = admission

    def _load_heads(self, blob: bytes) -> None:
        try:
            entries = msgspec.msgpack.decode(blob, type=list[tuple[int, SignedHead]])
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("the signed heads kept beside the session do not read; ignoring them")
            return
        for seq, head in entries:
            if self.ledger.hash_at(head.actor, seq) == head.hash and self._signed(head):
                self._keep_head(seq, head)

    def _signed(self, head: SignedHead) -> bool:
        return verify(head.actor, head.sig, change_message(self.anchor.session_id, head.hash))

    def _keep_head(self, seq: int, head: SignedHead) -> None:
        current = self._heads.get(head.actor)
        if current is None or current[0] < seq:
            self._heads[head.actor] = (seq, head)

    def _catch_up(self) -> None:
        """Record the changes made here since the last look (our own)."""
        session = self.session
        if session is None:
            return
        heads = session.doc.get_heads()
        if heads == self._seen:
            return
        try:
            # Our own items are not counted here: no laptop judges its own changes.
            self.ledger.extend(session.doc.get_changes(self._seen))
        except ValueError:  # out of step with the document: read it all again
            log.warning("the change ledger was out of step with the document; rebuilt")
            self.ledger = Ledger.of(session.doc, self._rules)
        self._seen = heads

    # -- links ---------------------------------------------------------------------------
    def link_up(self, link_id: int, peer: bytes, *, initiator: bool, remote: str,
                listen: Address | None, admission: bytes, now: float) -> list[Effect]:
        """A link to the member ``peer`` (its key proven by the handshake) is up."""
        out: list[Effect] = []
        if admission and peer not in self._admissions:
            self._admissions[peer] = admission  # the handshake verified it
        existing = next((lnk for lnk in self._links.values() if lnk.peer == peer), None)
        link = _Link(link_id, peer, initiator, remote, listen, now, last_changes=now)
        if existing is not None:
            # Two links to one peer: both sides keep the one the smaller key dialled.
            def dialer(lnk: _Link) -> bytes:
                return self.me if lnk.initiator else peer

            if dialer(link) < dialer(existing) or dialer(link) == dialer(existing):
                out.append(Close(existing.id, "a newer link to the same peer", bye="duplicate"))
                self._forget(existing)
            else:
                return [Close(link_id, "a link to this peer exists", bye="duplicate")]
        self._links[link_id] = link
        if listen is not None:
            self._addresses[peer] = listen
        out += self._links_changed()
        out.append(Send(link_id, self.presence))
        others = [Peer(lnk.peer, lnk.remote, lnk.listen[1]) for lnk in self._links.values()
                  if lnk is not link and lnk.listen is not None]
        if others:
            out.append(Send(link_id, Peers(peers=others)))
        if listen is not None:
            for other in self._links.values():
                if other is not link:
                    out.append(Send(other.id, Peers(peers=[Peer(peer, remote, listen[1])])))
        if initiator:
            out += self._ask(link, now)
        out.append(Emit(PeersChanged()))
        return out

    def link_down(self, link_id: int, now: float) -> list[Effect]:
        link = self._links.get(link_id)
        if link is None:
            return []
        self._forget(link)
        return [*self._links_changed(), Emit(PeersChanged())]

    def _forget(self, link: _Link) -> None:
        self._links.pop(link.id, None)

    def _links_changed(self) -> list[Effect]:
        links = sorted({link.peer for link in self._links.values()})
        if links == list(self.presence.links):
            return []
        self.presence = msgspec.structs.replace(self.presence, links=links)
        return [Send(link.id, self.presence) for link in self._links.values()]

    def set_presence(self, **fields: object) -> list[Effect]:
        """Update and send our ephemeral presence (hand, done, typing)."""
        self.presence = msgspec.structs.replace(self.presence, **fields)
        return [*(Send(link.id, self.presence) for link in self._links.values()),
                Emit(PeersChanged())]

    def announce_code(self, code: str, reason: str) -> list[Effect]:
        """The creator's laptop changed the join code: tell every member."""
        self.code_shown = code
        return [*(Send(link.id, Code(code=code, reason=reason))
                  for link in self._links.values()), Emit(CodeChanged(code, reason))]

    def goodbye(self, reason: str = "leaving") -> list[Effect]:
        return [Close(link.id, reason, bye=reason) for link in self._links.values()]

    # -- local changes -----------------------------------------------------------------------
    def local_changed(self, now: float) -> None:
        """The person changed the document: it is saved and pushed a moment later."""
        self.saving.local(now)

    def flush(self, now: float) -> list[Effect]:
        """Save now whatever waits, and push our changes; see ``saved_all``."""
        if not self.saving.pending:
            return self._push_local(now) if self.session is not None else []
        return self._save_now(now)

    @property
    def saved_all(self) -> bool:
        return not self.saving.pending

    def _save_now(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        self._catch_up()
        problem = self._save_file() if self._save_file is not None else None
        was_failing = self.saving.failing
        self.saving.saved(problem is None, now)
        if problem is not None:
            if not was_failing:
                out.append(Emit(SaveFailed(problem)))
            return out
        if was_failing:
            out.append(Emit(Saved()))
        return out + self._push_local(now)

    def _push_local(self, now: float) -> list[Effect]:
        """Push our changes made since the last push, each with our signature.

        Only saved changes leave (a restart would otherwise reuse their numbers)."""
        session = self.session
        if session is None or self.saving.unsaved_local:
            return []
        self._catch_up()
        heads = session.doc.get_heads()
        if heads == self._pushed:
            return []
        mine = [c for c in session.doc.get_changes(self._pushed) if c.actor_id == self.me]
        self._pushed = heads
        if not mine:
            return []
        signed = [self._sign(c.hash, c.seq) for c in mine]
        out: list[Effect] = []
        for batch in _batches(list(zip([c.bytes for c in mine], signed, strict=True)),
                              PUSH_BYTES):
            for link in self._links.values():
                link.last_changes = now
                out.append(Send(link.id, Changes(
                    changes=[data for data, _ in batch], heads=[head for _, head in batch],
                    admissions=self._admissions_for(link, [self.me]))))
        return out

    def _sign(self, change_hash: bytes, seq: int) -> SignedHead:
        head = SignedHead(self.me, change_hash, self.identity.sign(
            change_message(self.anchor.session_id, change_hash)))
        self._keep_head(seq, head)
        return head

    def _admissions_for(self, link: _Link, authors: Iterable[bytes]) -> list[Certificate]:
        out = []
        for author in dict.fromkeys(authors):
            if author in link.told or author == self.anchor.creator:
                continue
            admission = self._admissions.get(author)
            if admission:
                out.append(Certificate(author, admission))
                link.told.add(author)
        return out

    # -- time -------------------------------------------------------------------------------
    def wake_at(self) -> float | None:
        times = [self.saving.wake_at(), self.pending.wake_at()]
        if self._links:
            times.append(min(link.pinged_at for link in self._links.values())
                         + self.ping_interval)
        return min((t for t in times if t is not None), default=None)

    def tick(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        if self.saving.due(now):
            out += self._save_now(now)
        ask, dropped = self.pending.tick(now)
        if dropped:
            log.info("dropped %d changes still missing what they depend on", len(dropped))
        if ask:
            for link in self._links.values():
                out += self._ask(link, now)
        for link in list(self._links.values()):
            if now - link.pinged_at < self.ping_interval:
                continue
            if now - link.last_heard > self.dead_after:
                out.append(Close(link.id, "stopped answering"))
                out.append(Emit(LinkProblem(link.remote, "a peer stopped answering")))
                self._forget(link)
                out += self._links_changed()
                out.append(Emit(PeersChanged()))
                continue
            link.pinged_at = now
            self._nonce += 1
            heads = self.session.doc.get_heads()[:MAX_HEADS] if self.session else []
            out.append(Send(link.id, Ping(nonce=self._nonce, sent=self.wall(), heads=heads)))
        return out

    # -- incoming ---------------------------------------------------------------------------
    def receive(self, link_id: int, envelope: Envelope, now: float) -> list[Effect]:
        """One envelope from the peer of ``link_id``."""
        link = self._links.get(link_id)
        if link is None:
            return []
        link.last_heard = now
        match envelope:
            case Have():
                return self._answer(link, envelope, now)
            case Changes():
                return self._on_changes(link, envelope, now)
            case Document():
                return self._on_document(link, envelope, now)
            case Presence():
                link.presence = envelope
                return [Emit(PeersChanged())]
            case Peers(peers=peers):
                return self._on_peers(link, peers)
            case Ping(nonce=nonce, sent=sent, heads=heads):
                out: list[Effect] = [Send(link_id, Pong(nonce=nonce, sent=sent,
                                                        peer_time=self.wall()))]
                unknown = [h for h in heads if h not in self.ledger.known]
                if unknown and now - link.last_changes >= RESTART_QUIET \
                        and now - link.asked_at >= self.ping_interval:
                    out += self._ask(link, now)
                return out
            case Pong(sent=sent, peer_time=peer_time):
                wall = self.wall()
                rtt = wall - sent
                offset = peer_time - (sent + wall) / 2
                if 0 <= rtt <= 60 and abs(offset) <= MAX_OFFSET:
                    link.samples = [*link.samples[-7:], (rtt, offset)]
                return []
            case Code(code=code, reason=reason) if link.peer == self.anchor.creator:
                self.code_shown = code
                return [Emit(CodeChanged(code, reason))]
            case Report(about=about, reason=reason):
                return self._on_report(link, about, reason, now)
            case Bye():
                link.closing = True
                self._forget(link)
                return [Close(link.id, "left"), *self._links_changed(), Emit(PeersChanged())]
            case _:
                return self._violation(link, link.peer, f"sent an unexpected "
                                                        f"{type(envelope).__name__}")

    def _on_peers(self, link: _Link, peers: list[Peer]) -> list[Effect]:
        """Remember where members listen; dial those whose admission we know (the others
        once it is known: a newcomer hears of the others before it holds the session)."""
        out: list[Effect] = []
        for peer in peers:
            if peer.actor == self.me or self._addresses.get(peer.actor) == (peer.host,
                                                                             peer.port):
                continue
            if peer.actor not in self._addresses and len(self._addresses) >= MAX_ADDRESSES:
                continue
            self._addresses[peer.actor] = (peer.host, peer.port)
            out += self._dial(peer.actor)
        return out

    def _dial(self, actor: bytes) -> list[Effect]:
        address = self._addresses.get(actor)
        if address is None or actor not in self._admissions or self.linked(actor):
            return []
        return [Dial(address[0], address[1], actor)]

    def _learn(self, actor: bytes, admission: bytes) -> list[Effect]:
        """Note a verified admission; dial the member if we know where it listens."""
        if actor in self._admissions:
            return []
        self._admissions[actor] = admission
        return self._dial(actor)

    def _on_report(self, link: _Link, about: bytes, reason: str, now: float) -> list[Effect]:
        link.reports = [t for t in link.reports if now - t < 60.0]
        if len(link.reports) >= REPORTS_PER_MINUTE or not self._facilitating():
            return []
        link.reports.append(now)
        return [Emit(Misbehaviour(about.hex(), reason, reported_by=link.peer.hex()))]

    def _facilitating(self) -> bool:
        session = self.session
        return session is not None and session.snapshot.control.roles.facilitator == \
            self.me.hex()

    # -- the exchange -------------------------------------------------------------------------
    def _ask(self, link: _Link, now: float) -> list[Effect]:
        """Tell ``link``'s peer what we hold, so it sends what we lack."""
        self._catch_up()
        link.asked_at = now
        link.waiting = True
        seqs = list(self.ledger.seqs().items())[:MAX_ACTORS]
        return [Send(link.id, Have(seqs=seqs))]

    def _answer(self, link: _Link, have: Have, now: float) -> list[Effect]:
        session = self.session
        if session is None:
            return [Send(link.id, Changes(changes=[], answer=True))]
        self._catch_up()
        theirs = dict(have.seqs)
        if not theirs and self.is_creator:
            link.last_changes = now
            return [Send(link.id, Document(
                data=session.doc.save(), heads=[head for _, (_, head) in self._all_heads()],
                admissions=[Certificate(a, c) for a, c in self._admissions.items() if c]))]
        effective = [h for h in (self.ledger.hash_at(actor, min(seq, self.ledger.seq(actor)))
                                 for actor, seq in theirs.items()) if h is not None]
        changes = session.doc.get_changes(effective) if effective else \
            session.doc.get_changes([])
        signed = {actor: head for actor, (_, head) in self._all_heads()}
        signed_seq = {actor: seq for actor, (seq, _) in self._all_heads()}
        sendable = [c for c in changes if c.seq <= signed_seq.get(c.actor_id, 0)]

        def held(change_hash: bytes) -> bool:
            place = self.ledger.place(change_hash)
            return place is not None and place[1] <= theirs.get(place[0], 0)

        proven = covered((Node(c.hash, c.actor_id, tuple(c.deps)) for c in sendable),
                         {a: [h.hash] for a, h in signed.items()}, held)
        batch, size = [], 0
        for change in sendable:
            if change.hash not in proven:
                continue
            size += len(change.bytes)
            if size > ANSWER_BUDGET:
                log.warning("an answer is larger than %d bytes: sending part of it",
                            ANSWER_BUDGET)
                break
            batch.append(change)
        authors = list(dict.fromkeys(c.actor_id for c in batch))
        out: list[Effect] = [Send(link.id, Changes(
            changes=[c.bytes for c in batch], heads=[signed[a] for a in authors],
            admissions=self._admissions_for(link, authors), answer=True))]
        if batch:
            link.last_changes = now
        if any(seq > self.ledger.seq(actor) for actor, seq in theirs.items()) \
                and not link.waiting:
            out += self._ask(link, now)
        return out

    def _all_heads(self) -> list[tuple[bytes, tuple[int, SignedHead]]]:
        """The latest signed head of every author we hold, ours signed afresh."""
        own = self.ledger.seq(self.me)
        if own and (self.me not in self._heads or self._heads[self.me][0] < own):
            change_hash = self.ledger.hash_at(self.me, own)
            assert change_hash is not None  # noqa: S101 - own < seq means it exists
            self._sign(change_hash, own)
        return list(self._heads.items())

    def _on_document(self, link: _Link, msg: Document, now: float) -> list[Effect]:
        if link.peer != self.anchor.creator:
            return self._violation(link, link.peer, "sent a whole document (only the "
                                                    "creator's laptop does)")
        link.waiting = False
        link.last_changes = now
        try:
            doc = AmDocument.load(msg.data)
        except Exception as exc:  # the binding raises bare Exception on bad bytes
            return self._violation(link, link.peer, f"sent a document that does not load "
                                                    f"({exc})")
        out: list[Effect] = []
        for cert in msg.admissions:
            if self.anchor.admits(cert.actor, cert.admission):
                out += self._learn(cert.actor, cert.admission)
        if self.session is None:
            if read_founding(doc).session_id != self.anchor.session_id:
                return self._violation(link, link.peer, "sent another session's document")
            self._adopt(self._make_session(doc))  # its items are read when first shown
        else:
            before = self.session.doc.get_heads()
            self.session.merge(doc)
            self.ledger.extend(self.session.doc.get_changes(before))
            self.ledger.count_items(self.session.doc)
            self._seen = self.session.doc.get_heads()
        for head in msg.heads:
            place = self.ledger.place(head.hash)
            if place is not None and place[0] == head.actor and self._signed(head):
                self._keep_head(place[1], head)
        self.saving.received(now)
        for actor in list(self._addresses):
            out += self._dial(actor)
        return [*out, Emit(DocumentChanged())]

    # -- taking changes -----------------------------------------------------------------------
    def _on_changes(self, link: _Link, msg: Changes, now: float) -> list[Effect]:
        if msg.answer:
            link.waiting = False
        if msg.changes:
            link.last_changes = now
        learned: list[Effect] = []
        for cert in msg.admissions:
            if not self.anchor.admits(cert.actor, cert.admission):
                return self._violation(link, link.peer, "sent an admission that the "
                                                        "creator did not sign")
            learned += self._learn(cert.actor, cert.admission)
        if self.session is None or not msg.changes:
            return learned  # before the document: the answer to our Have brings it all
        self._catch_up()  # our own changes, so that one coming back is known as ours
        decoded: list[DecodedChange] = []
        for data in msg.changes:
            try:
                decoded.append(decode_change(data, max_size=MAX_CHANGE_BYTES))
            except ChangeFormatError as exc:
                return self._violation(link, link.peer, f"sent a malformed change ({exc})")
        new = [c for c in decoded
               if c.hash not in self.ledger.known and c.hash not in self.pending]
        if not new:
            return []
        heads: dict[bytes, list[bytes]] = {}
        head_of: dict[bytes, SignedHead] = {}
        for head in msg.heads:
            if not self._signed(head):
                return self._violation(link, link.peer, "sent a signature that does not "
                                                        "verify")
            heads.setdefault(head.actor, []).append(head.hash)
            head_of[head.hash] = head
        nodes = [Node(c.hash, c.actor, c.deps) for c in new]
        for waiting in self._pool_nodes():
            nodes.append(waiting)
        proven = covered(nodes, heads, lambda h: h in self.ledger.known)
        entries = []
        for change in new:
            if change.hash not in proven:
                # Unsigned by its author: whoever sent it made it up (or passed on junk).
                return self._violation(link, link.peer, "sent a change its author did not "
                                                        "sign (a forgery)")
            if change.actor not in self._admissions:
                return self._violation(link, change.actor, "wrote without being admitted")
            assert self._rules is not None  # noqa: S101 - set with the session
            try:
                items = self._rules.check(change)
            except Refused as refused:
                return self._violation(link, refused.culprit, refused.reason)
            except ChangeFormatError as exc:
                return self._violation(link, change.actor, f"sent a malformed change ({exc})")
            entries.append(Waiting(change, items, head_of.get(change.hash), link.id, now))
        dropped = self.pending.add(entries)
        if dropped:
            log.warning("dropped %d waiting changes: too many wait for what they depend on",
                        len(dropped))
        return learned + self._brake(link, entries, now) + self._release(now)

    def _brake(self, link: _Link, entries: list[Waiting], now: float) -> list[Effect]:
        """Items per person per minute, as they arrive: past ``MAX_ITEMS_PER_MINUTE`` the
        link that brings them is read more slowly, and the facilitator is told. Nothing is
        refused for it: when something arrives is not the same on every laptop, and a
        refusal that differs between laptops would split the session."""
        out: list[Effect] = []
        for author in {w.change.actor for w in entries if w.items}:
            if author == self.anchor.creator:
                continue
            window = self._arrivals.setdefault(author, _Window())
            window.add(now, sum(w.items for w in entries if w.change.actor == author))
            count = window.total
            if count <= MAX_ITEMS_PER_MINUTE:
                continue
            seconds = min(60.0, max(1.0, 60.0 * (count - MAX_ITEMS_PER_MINUTE)
                                    / MAX_ITEMS_PER_MINUTE))
            out.append(Pause(link.id, seconds))
            if now - self._braked.get(author, -1e9) >= 60.0:
                self._braked[author] = now
                out += self._tell(author, f"adds items faster than {MAX_ITEMS_PER_MINUTE} "
                                          "a minute: slowed down", link)
        return out

    def _pool_nodes(self) -> list[Node]:
        """Waiting changes, proven already: a walk may pass through them."""
        return [Node(w.change.hash, w.change.actor, w.change.deps)
                for w in self.pending.entries()]

    def _release(self, now: float) -> list[Effect]:
        session = self.session
        assert session is not None  # noqa: S101
        released = self.pending.release(self.ledger.known)
        if not released:
            return []
        out: list[Effect] = []
        accepted, refused = self.ledger.judge([(w.change, w.items) for w in released])
        for change, reason in refused:
            sender = next((w.sender for w in released if w.change is change), -1)
            link = self._links.get(sender)
            out += self._violation(link, reason.culprit, reason.reason)
            self.pending.remove(self.pending.dependents(change.hash))
        keep = [w for w in released if w.change in accepted]
        if not keep:
            return out
        panicked = False
        try:
            applied = session.apply_changes([w.change.data for w in keep],
                                            [(w.change.hash, w.change.deps) for w in keep])
            error = ""
        except ApplyFailed as failed:
            applied, error = failed.applied, str(failed.error)
            panicked = is_rust_panic(failed.error)
        taken = [w for w in keep if w.change.hash in applied]
        left = [w for w in keep if w.change.hash not in applied]
        if left and panicked:
            # A fault inside the binding on changes every check passed: nobody is blamed;
            # the link starts over, and the changes come again with its exchange.
            log.error("Automerge failed on checked changes (%s); starting the link over",
                      error[:200])
            link = self._links.get(left[0].sender)
            if link is not None and not link.closing:
                link.closing = True
                self._forget(link)
                out += [Close(link.id, "Automerge failed on a change"),
                        *self._links_changed(), Emit(PeersChanged()),
                        Emit(LinkProblem(link.remote, "the session library failed on a "
                                                      "change; reconnecting"))]
        elif left and error:
            # The first change it did not apply is the one it refused; those after it
            # depend on it or were not reached: they come again with the next exchange.
            bad = left[0]
            out += self._violation(self._links.get(bad.sender), bad.change.actor,
                                   f"sent a change Automerge refuses ({error[:120]})")
        elif left:
            log.error("Automerge applied %d of %d checked changes; the rest will come again",
                      len(taken), len(keep))
        return out + self._accepted(taken, now)

    def _accepted(self, keep: list[Waiting], now: float) -> list[Effect]:
        session = self.session
        assert session is not None  # noqa: S101
        for waiting in keep:
            self.ledger.record_change(waiting.change, waiting.items)
            if waiting.head is not None:
                self._keep_head(waiting.change.seq, waiting.head)
        self._seen = session.doc.get_heads()
        if not self.saving.unsaved_local:
            self._pushed = list(self._seen)  # what we push next starts from here
        self.saving.received(now)
        out: list[Effect] = [Emit(DocumentChanged())]
        # Relay pushed changes (each with its own signature) to peers with no link to the
        # sender: in a full mesh the author reaches everyone and nobody relays.
        by_sender: dict[int, list[Waiting]] = {}
        for waiting in keep:
            if waiting.head is not None:
                by_sender.setdefault(waiting.sender, []).append(waiting)
        for sender_id, relayed in by_sender.items():
            sender = self._links.get(sender_id)
            for link in self._links.values():
                if link.id == sender_id or (sender is not None and link.presence is not None
                                            and sender.peer in link.presence.links):
                    continue
                theirs_not = [(w.change.data, w.head) for w in relayed
                              if w.change.actor != link.peer and w.head is not None]
                for batch in _batches(theirs_not, PUSH_BYTES):
                    out.append(Send(link.id, Changes(
                        changes=[data for data, _ in batch],
                        heads=[head for _, head in batch if head is not None],
                        admissions=self._admissions_for(link, [h.actor for _, h in batch
                                                               if h is not None]))))
        return out

    # -- refusing -------------------------------------------------------------------------------
    def _violation(self, link: _Link | None, culprit: bytes, reason: str) -> list[Effect]:
        """Drop ``link``, tell the owner who sent what, and tell the facilitator's laptop."""
        out: list[Effect] = []
        if link is not None and not link.closing:
            link.closing = True
            self._forget(link)
            out += [Close(link.id, f"refused: {reason}"), *self._links_changed(),
                    Emit(PeersChanged())]
        return self._tell(culprit, reason, link) + out

    def _tell(self, culprit: bytes, reason: str, link: _Link | None) -> list[Effect]:
        """Tell the owner, and the facilitator's laptop, that ``culprit`` did ``reason``."""
        sender = link.peer.hex() if link is not None else ""
        log.warning("from %s (%s): %s", sender[:12], culprit.hex()[:12], reason)
        out: list[Effect] = [Emit(Misbehaviour(culprit.hex(), reason, sender=sender))]
        session = self.session
        facilitator = session.snapshot.control.roles.facilitator if session else ""
        for other in self._links.values():
            if other.peer.hex() == facilitator and other.peer != culprit:
                out.append(Send(other.id, Report(about=culprit, reason=reason[:200])))
        return out


class _Window:
    """Items an author added in the last minute, as they arrived: a running total, so a
    flood of small changes costs the same per change as a trickle."""

    def __init__(self) -> None:
        self._arrivals: deque[tuple[float, int]] = deque()
        self.total = 0

    def add(self, now: float, items: int) -> None:
        self._arrivals.append((now, items))
        self.total += items
        while self._arrivals and self._arrivals[0][0] <= now - 60.0:
            self.total -= self._arrivals.popleft()[1]


T = TypeVar("T")


def _batches(items: list[tuple[bytes, T]], limit: int) -> list[list[tuple[bytes, T]]]:
    """``items`` in order, cut into lists of at most ``limit`` bytes (or one item)."""
    batches: list[list[tuple[bytes, T]]] = [[]]
    size = 0
    for item in items:
        if batches[-1] and size + len(item[0]) > limit:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += len(item[0])
    return batches if batches[0] else []


_ = MAX_FRAME  # the answer budget stays under it
