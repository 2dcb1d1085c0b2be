"""SessionNode: one laptop's presence in a session's peer-to-peer mesh.

The node owns a TCP listener, the optional zeroconf advertisement, one
secure link per peer and every task around them. Per link it runs the
standard Automerge sync protocol with its own ``SyncState`` until both sides
are quiet, when the link comes up and whenever a ping shows the two documents
differ. A local change is saved, then pushed at once to every peer as its
encoded changes; a remote change is applied, forwarded to the peers with no
link to its sender, saved shortly after and announced as one coalesced
``DocumentChanged`` event. Leaving ``async with`` says bye to every peer,
saves, and stops every task the node started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn

from automerge.core import Message, SyncState

from model import sessionfile
from model.session import Session, SyncFailed
from sync.codes import normalize_code
from sync.events import (
    AuthFailure,
    CodeChanged,
    DocumentChanged,
    HandshakeFailed,
    LinkProblem,
    NodeEvent,
    PeersChanged,
    Saved,
    SaveFailed,
)
from sync.handshake import HandshakeError, PeerRejected, WrongCode
from sync.link import Link, LinkClosed, open_link
from sync.ratelimit import FailureLimiter
from sync.wire import (
    MAX_PING_HEADS,
    PROTOCOL_VERSION,
    REJECT_BUSY,
    REJECT_WRONG_CODE,
    Bye,
    Changes,
    Code,
    Hello,
    Peers,
    Ping,
    Pong,
    Presence,
    Sync,
    encode_frame,
    encode_handshake,
)
from sync.wire import Reject as RejectMsg

log = logging.getLogger("cercle.sync")

Address = tuple[str, int]
MAX_PENDING_HANDSHAKES: Final = 32
MAX_HANDSHAKES_PER_ADDRESS: Final = 4
CONNECT_TIMEOUT: Final = 5.0
HELLO_TIMEOUT: Final = 10.0
MAX_BACKOFF: Final = 5.0
STOP_GRACE: Final = 2.0  # seconds a leaving node waits for its last changes to be answered
LOCAL_BATCH: Final = 0.002  # seconds during which local operations share one save and send
DANGLING_CHECK: Final = 1.0  # seconds between two looks for changes held back for good
ACK_TIMEOUT: Final = 2.0  # seconds an unacknowledged sync message may hold back the next
PUSH_BYTES: Final = 1024 * 1024  # changes per pushed frame, well under the frame limit
SAVE_RETRY: Final = 1.0  # seconds before a failed save is tried again
SAVE_WITHIN: Final = 5.0  # seconds at most before received changes are on disk, however busy
RESTART_QUIET: Final = 1.0  # seconds without changes on a link before a ping may restart its sync


@dataclass(frozen=True, slots=True)
class PeerView:
    """What the owner may know about a connected peer."""

    peer_id: str
    name: str
    address: Address | None
    is_host: bool
    presence: Presence | None
    clock_offset: float | None  # their clock minus ours, seconds
    rtt: float | None


@dataclass(eq=False)
class _Peer:
    peer_id: str
    name: str
    link: Link
    is_host: bool
    listen: Address | None
    sync_state: SyncState = field(default_factory=SyncState)
    presence: Presence | None = None
    samples: list[tuple[float, float]] = field(default_factory=list)  # (rtt, offset)
    last_heard: float = 0.0
    last_sync_in: float = 0.0
    # Flow control: at most one sync message of ours unacknowledged on this link.
    sent_seq: int = 0  # the number of our last sync message
    acked: int = 0  # the last of ours the peer acknowledged
    sent_at: float = 0.0
    owed: int = 0  # the peer's last message, which we have not acknowledged yet
    pending: bool = False  # something to send once our last message is acknowledged
    reconciled: list[bytes] | None = None  # our heads when we last started an exchange over
    restart: bool = False  # start the exchange over with the next message
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    left_on_purpose: bool = False

    def awaiting(self, now: float) -> bool:
        """Whether our last sync message is still unacknowledged (and not given up on)."""
        return self.acked < self.sent_seq and now - self.sent_at < ACK_TIMEOUT

    @property
    def settled(self) -> bool:
        """Everything we had for this peer was sent and acknowledged."""
        return self.acked >= self.sent_seq and not self.pending

    def view(self) -> PeerView:
        best = min(self.samples) if self.samples else None
        return PeerView(self.peer_id, self.name, self.listen, self.is_host, self.presence,
                        best[1] if best else None, best[0] if best else None)


class SessionNode:
    """Replicates ``session`` with every peer that knows the join code."""

    def __init__(
        self,
        session: Session,
        *,
        code: str,
        name: str,
        tag: str | None = None,
        is_host: bool = False,
        listen_host: str = "0.0.0.0",  # noqa: S104 - peers in the room must reach us
        port: int = 0,
        save_path: Path | None = None,
        on_event: Callable[[NodeEvent], None] | None = None,
        ping_interval: float = 5.0,
        dead_after: float = 15.0,
        save_delay: float = 1.0,
        clock: Callable[[], float] = time.time,
        limiter: FailureLimiter | None = None,
        accept_incoming: bool = True,
    ) -> None:
        normalize_code(code)  # refuse a weak code before anything starts
        self.session = session
        self.code = code
        self.name = name
        self.is_host = is_host
        self.tag = tag if tag is not None else (secrets.token_hex(4) if is_host else None)
        self.listen_host = listen_host
        self.port = port
        self.save_path = save_path
        self._on_event = on_event
        self.ping_interval = ping_interval
        self.dead_after = dead_after
        self.save_delay = save_delay
        self.clock = clock
        self.limiter = limiter or FailureLimiter(time.monotonic)
        self.accept_incoming = accept_incoming
        self.presence = Presence(peer_id=session.me, name=name)
        self._peers: dict[str, _Peer] = {}
        self._dialing: dict[Address, asyncio.Task[None]] = {}
        self._addr_peer: dict[Address, str] = {}
        self._self_addrs: set[Address] = set()
        self._handshaking: dict[str, int] = {}  # address -> handshakes in progress
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._changed_pending = False
        self._save_handle: asyncio.TimerHandle | None = None
        self._received_handle: asyncio.TimerHandle | None = None
        self._received_since: float | None = None  # first arrival not yet saved (loop time)
        self._unsaved_local = False
        self._local_handle: asyncio.TimerHandle | None = None
        self._sync_arrived = asyncio.Event()
        self._save_failed = False
        self._ping_nonce = 0
        self._replies: set[_Peer] = set()
        self._replies_scheduled = False
        self._pushed: list[bytes] = []  # our heads when our changes were last pushed
        self._pushes: list[tuple[_Peer, list[bytes]]] = []  # arrived this loop turn
        self._pushed_at = 0.0  # when we last pushed changes (monotonic)
        self._dangling_handle: asyncio.TimerHandle | None = None
        self._missing: frozenset[bytes] = frozenset()  # dependencies missing at the last look
        self._asked_for_missing = False
        self.refused: str | None = None  # why our code was refused, if it was
        self.learned_tag = asyncio.Event()
        if self.tag is not None:
            self.learned_tag.set()

    # -- lifecycle ------------------------------------------------------------
    async def __aenter__(self) -> SessionNode:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen for peers and start the background tasks."""
        self._pushed = self.session.doc.get_heads()  # what exists now goes with each link's sync
        if self.accept_incoming:
            self._server = await asyncio.start_server(
                self._on_incoming, host=self.listen_host, port=self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._ping_loop(), "ping")

    async def stop(self) -> None:
        """Say bye to every peer, save, and stop everything this node started."""
        if self._stopping:
            return
        # Changes made just before leaving still go out, and get their answers, first.
        if self.flush() and self._peers:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE):
                    while not all(p.settled for p in self._peers.values()):
                        self._sync_arrived.clear()
                        await self._sync_arrived.wait()
        self._stopping = True
        for peer in list(self._peers.values()):
            with contextlib.suppress(LinkClosed):
                peer.link.send_nowait(Bye("leaving"))
        if self._server is not None:
            self._server.close()
        for peer in list(self._peers.values()):
            await peer.link.close()
        tasks = list(self._tasks) + list(self._dialing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        for handle in (self._save_handle, self._received_handle, self._local_handle,
                       self._dangling_handle):
            if handle is not None:
                handle.cancel()
        self._save()

    def _spawn(self, coro: object, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            coro, name=f"cercle-{name}")  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def running_tasks(self) -> int:
        """Tasks still alive (0 after stop: nothing is left behind)."""
        return len([t for t in (*self._tasks, *self._dialing.values()) if not t.done()])

    # -- reading --------------------------------------------------------------
    @property
    def peers(self) -> list[PeerView]:
        return [peer.view() for peer in self._peers.values()]

    def peer_addresses(self) -> list[Address]:
        return [p.listen for p in self._peers.values() if p.listen is not None]

    def join_link(self, host: str) -> str:
        """A link to paste in a chat or type by hand: ``cercle://HOST:PORT/TAG#CODE``."""
        return f"cercle://{host}:{self.port}/{self.tag or ''}#{self.code}"

    def offset_to(self, peer_id: str) -> float:
        """Seconds to add to our clock to read ``peer_id``'s clock (0 when unknown or us)."""
        peer = self._peers.get(peer_id)
        view = peer.view() if peer else None
        return view.clock_offset if view and view.clock_offset is not None else 0.0

    def facilitator_now_ms(self) -> int:
        """Now on the facilitator's clock, in ms: every laptop shows the same timer."""
        facilitator = self.session.snapshot.control.roles.facilitator
        return int((self.clock() + self.offset_to(facilitator)) * 1000)

    def is_synced(self, quiet: float = 0.3) -> bool:
        """True when connected and nothing is in flight with any peer for ``quiet`` seconds."""
        if not self._peers or self._unsaved_local or self._local_handle is not None:
            return False
        now = time.monotonic()
        for peer in self._peers.values():
            if now - peer.last_sync_in < quiet or not peer.settled:
                return False
        return not self.session.is_empty

    async def wait_synced(self, quiet: float = 0.3) -> bool:
        """Wait until ``is_synced`` (True) or until our code is refused (False).

        Bound it with ``asyncio.timeout``: an unreachable peer never syncs.
        """
        while self.refused is None:
            if self.is_synced(quiet):
                return True
            await asyncio.sleep(0.05)
        return False

    # -- owner's intents ---------------------------------------------------------
    def local_changed(self) -> None:
        """Call after a local operation: save, then push to every peer.

        Both happen a moment later (``LOCAL_BATCH``), once for a burst of
        operations: a script adding a hundred items saves and sends a few times,
        not a hundred. A person typing does not notice 2 ms.
        """
        self._unsaved_local = True
        if self._local_handle is None:
            self._local_handle = asyncio.get_running_loop().call_later(
                LOCAL_BATCH, self._flush_local)

    def flush(self) -> bool:
        """Save pending local changes now and send them wherever nothing is in flight
        (elsewhere they leave with the next acknowledgement); False if the file could
        not be written."""
        if self._local_handle is not None:
            self._local_handle.cancel()
            self._local_handle = None
        if self._unsaved_local and self._save():
            self._push_local()
        return not self._unsaved_local

    def _flush_local(self) -> None:
        self._local_handle = None
        if self._save():
            self._push_local()

    def set_presence(self, **fields: object) -> None:
        """Update and broadcast our ephemeral presence (hand, done, typing)."""
        self.presence = Presence(**{**self._presence_fields(), **fields})  # type: ignore[arg-type]
        for peer in list(self._peers.values()):
            self._send(peer, self.presence)
        self._emit(PeersChanged())

    def _presence_fields(self) -> dict[str, object]:
        p = self.presence
        return {"peer_id": p.peer_id, "name": p.name, "hand_raised": p.hand_raised,
                "hand_raised_at": p.hand_raised_at, "done_phase": p.done_phase,
                "typing": p.typing, "links": p.links}

    def rotate_code(self, code: str) -> None:
        """Use ``code`` from now on and tell every peer (facilitator only, checked by peers)."""
        normalize_code(code)
        self.code = code
        for peer in list(self._peers.values()):
            self._send(peer, Code(code=code, by=self.session.me))
        self._emit(CodeChanged(code))

    def connect(self, host: str, port: int) -> None:
        """Keep a link to ``host:port`` (reconnecting with backoff) until stopped."""
        addr = (host, port)
        if self._stopping or addr in self._dialing or addr in self._self_addrs:
            return
        if addr == (self.listen_host, self.port):
            return
        task = asyncio.get_running_loop().create_task(self._dial_loop(addr),
                                                      name=f"cercle-dial-{host}:{port}")
        self._dialing[addr] = task

    # -- events and saving ----------------------------------------------------------
    def _emit(self, event: NodeEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # the owner's bug must not take the mesh down
                log.exception("event handler failed")

    def _announce_change(self) -> None:
        if self._changed_pending:
            return
        self._changed_pending = True

        def fire() -> None:
            self._changed_pending = False
            self.session.poke()  # listeners hear of everything that arrived this turn at once
            self._emit(DocumentChanged())

        asyncio.get_running_loop().call_soon(fire)

    def _retry_save(self) -> None:
        """A save failed: try again in a second (then push what waited for it)."""
        if self.save_path is None or self._save_handle is not None:
            return

        def run() -> None:
            self._save_handle = None
            if self._save():
                self._after_save()

        self._save_handle = asyncio.get_running_loop().call_later(SAVE_RETRY, run)

    def _after_save(self) -> None:
        """What waited for a save (after a failed one) may go now."""
        self._push_local()
        for peer in list(self._peers.values()):
            if peer.pending:
                self._sync_out(peer)

    def _save_received(self) -> None:
        """Save received changes once arrivals pause for ``save_delay``, and at the latest
        ``SAVE_WITHIN`` after the first one still unsaved.

        Saving writes the whole session (20–30 ms with 3,000 items, mostly writing and
        syncing the file) and the app's keys wait meanwhile: under steady traffic this
        saves every few seconds instead of every second. Nothing is at risk: the peers
        hold what they sent, and our own changes are saved before they leave.
        """
        if self.save_path is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._received_since is None:
            self._received_since = now
        when = min(now + self.save_delay,
                   self._received_since + max(self.save_delay, SAVE_WITHIN))
        if self._received_handle is not None:
            self._received_handle.cancel()
        self._received_handle = loop.call_at(when, self._save_received_now)

    def _save_received_now(self) -> None:
        self._received_handle = self._received_since = None
        if self._save():
            self._after_save()

    def _save(self) -> bool:
        """Write the session file; False (and an event) when it could not be written."""
        if self.save_path is None or self.session.is_empty:
            self._unsaved_local = False
            return True
        try:
            sessionfile.save(self.save_path, self.session.doc)
        except sessionfile.SessionFileError as exc:
            if not self._save_failed:
                self._save_failed = True
                self._emit(SaveFailed(str(exc)))
            if not self._stopping:
                self._retry_save()
            return False
        self._unsaved_local = False
        if self._save_failed:
            self._save_failed = False
            self._emit(Saved())
        return True

    # -- sending ------------------------------------------------------------------
    def _send(self, peer: _Peer, envelope: object) -> None:
        with contextlib.suppress(LinkClosed):
            peer.link.send_nowait(envelope)  # type: ignore[arg-type]

    def _sync_out(self, peer: _Peer) -> None:
        """Send ``peer`` what the sync protocol says it needs, or hold it back.

        While our last message is unacknowledged the next waits (``pending``) and
        only an acknowledgement of theirs leaves, so two peers waiting on each
        other cannot stall. Automerge alone would resend every change not yet
        confirmed with each message that crosses one of theirs. A ``restart``
        asked for by ``_reconcile`` happens here, with the next message.
        """
        if peer.awaiting(time.monotonic()):
            peer.pending = True
            self._send_ack(peer)
            return
        # Changes of ours not yet on disk must not leave: a restart would reuse their numbers.
        if self._unsaved_local and not self._save():
            peer.pending = True
            self._send_ack(peer)
            return
        peer.pending = False
        reset, peer.restart = peer.restart, False
        if reset:
            peer.sync_state = SyncState()
            peer.reconciled = self.session.doc.get_heads()
        try:
            message = self.session.generate_sync_message(peer.sync_state)
        except SyncFailed as exc:  # start this link again, with a fresh sync state
            log.warning("sync with %s failed: %s", peer.name, exc)
            self._emit(LinkProblem(peer.link.remote[0], str(exc)))
            self._spawn(peer.link.close(), "close-failed-sync")
            return
        if message is None:
            self._send_ack(peer)
            return
        peer.sent_seq += 1
        peer.sent_at = time.monotonic()
        self._send(peer, Sync(data=message.encode(), seq=peer.sent_seq, ack=peer.owed,
                              reset=reset))
        peer.owed = 0

    def _send_ack(self, peer: _Peer) -> None:
        if peer.owed:
            self._send(peer, Sync(data=b"", ack=peer.owed))
            peer.owed = 0

    def _push_local(self) -> None:
        """Push the changes we made since the last push to every peer, once each.

        Only saved changes leave (a restart would reuse their numbers), hence the
        callers save first. A push lost with its link is not missed: the sync
        exchange of the next link sends whatever the peer lacks.
        """
        if self._unsaved_local:
            return
        heads = self.session.doc.get_heads()
        if heads == self._pushed:
            return
        changes = self.session.changes_since(self._pushed, mine=True)
        self._pushed = heads
        if changes:
            self._push(changes, list(self._peers.values()))

    def _push(self, changes: list[bytes], peers: list[_Peer]) -> None:
        self._pushed_at = time.monotonic()
        for batch in _batches(changes, PUSH_BYTES):
            frame = Changes(changes=batch)
            for peer in peers:
                self._send(peer, frame)

    def _reconcile(self, peer: _Peer) -> None:
        """Start the sync exchange with ``peer`` over from nothing, on both sides.

        Pushes keep a link's ``SyncState`` from seeing most changes go by, so its
        idea of what the peer holds grows stale and its next message would resend
        them all. A fresh start sends our heads and a Bloom filter of our changes;
        the answer carries exactly what we lack, and ours what they lack.
        """
        peer.restart = True
        self._sync_out(peer)

    # -- connections ------------------------------------------------------------------
    async def _on_incoming(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peer = writer.get_extra_info("peername")
        ip = peer[0] if peer else "?"
        if (self._stopping or self.tag is None
                or self._handshaking.get(ip, 0) >= MAX_HANDSHAKES_PER_ADDRESS
                or sum(self._handshaking.values()) >= MAX_PENDING_HANDSHAKES):
            writer.write(encode_frame(encode_handshake(RejectMsg(reason=REJECT_BUSY))))
            writer.close()
            return
        self._handshaking[ip] = self._handshaking.get(ip, 0) + 1
        try:
            delay = self.limiter.delay_for(ip)
            if delay > 0:
                await asyncio.sleep(min(delay, 60.0))
            try:
                link = await open_link(reader, writer, code=self.code, tag=self.tag,
                                       initiator=False)
            except WrongCode:
                count = self.limiter.record_failure(ip)
                log.warning("wrong join code from %s (%d recent failures)", ip, count)
                self._emit(AuthFailure(ip, count, incoming=True))
                return
            except (HandshakeError, LinkClosed) as exc:
                log.info("handshake with %s failed: %s", ip, exc)
                self._emit(HandshakeFailed(ip, str(exc)))
                return
        finally:
            self._handshaking[ip] -= 1
            if not self._handshaking[ip]:
                del self._handshaking[ip]
        self.limiter.record_success(ip)
        await self._run_peer(link, dialed=None)

    async def _dial_loop(self, addr: Address) -> None:
        backoff = 0.2
        try:
            while not self._stopping:
                known = self._addr_peer.get(addr)
                if known is not None and known in self._peers:
                    await self._peers[known].gone.wait()
                    continue
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(*addr), CONNECT_TIMEOUT)
                except (OSError, TimeoutError) as exc:
                    self._emit(LinkProblem(f"{addr[0]}:{addr[1]}",
                                           f"cannot reach {addr[0]}:{addr[1]} ({exc})"))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                try:
                    link = await open_link(reader, writer, code=self.code, tag=self.tag,
                                           initiator=True)
                except (WrongCode, PeerRejected) as exc:
                    if isinstance(exc, PeerRejected) and exc.reason != REJECT_WRONG_CODE:
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, MAX_BACKOFF)
                        continue
                    self.refused = "the join code was refused by " + f"{addr[0]}:{addr[1]}"
                    self._emit(AuthFailure(f"{addr[0]}:{addr[1]}", 1, incoming=False))
                    return
                except (HandshakeError, LinkClosed) as exc:
                    self._emit(LinkProblem(f"{addr[0]}:{addr[1]}", str(exc)))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                if self.tag is None:
                    self.tag = link.tag
                    self.learned_tag.set()
                backoff = 0.2
                outcome = await self._run_peer(link, dialed=addr)
                if outcome in ("self", "bye"):
                    return
                await asyncio.sleep(backoff)
        finally:
            if self._dialing.get(addr) is asyncio.current_task():
                del self._dialing[addr]

    async def _run_peer(self, link: Link, dialed: Address | None) -> str:
        """Serve one established link until it ends; returns why it ended."""
        try:
            await link.send(Hello(version=PROTOCOL_VERSION, peer_id=self.session.me,
                                  name=self.name,
                                  listen_port=self.port if self._server else None,
                                  is_host=self.is_host))
            hello = await asyncio.wait_for(link.receive(), HELLO_TIMEOUT)
        except (LinkClosed, TimeoutError) as exc:
            await link.close()
            log.info("no hello from %s: %s", link.remote[0], exc)
            return "dropped"
        if not isinstance(hello, Hello) or hello.version != PROTOCOL_VERSION:
            await link.close()
            return "dropped"
        if hello.peer_id == self.session.me:
            if dialed is not None:
                self._self_addrs.add(dialed)
            await link.close()
            return "self"
        listen = (link.remote[0], hello.listen_port) if hello.listen_port else None
        if dialed is not None:
            self._addr_peer[dialed] = hello.peer_id
        if listen is not None:
            self._addr_peer[listen] = hello.peer_id
        peer = _Peer(hello.peer_id, hello.name, link, hello.is_host, listen,
                     last_heard=time.monotonic(), reconciled=self.session.doc.get_heads())
        if not self._admit(peer):
            await link.close()
            return "duplicate"
        self._peers[peer.peer_id] = peer
        self._emit(PeersChanged())
        if not self._links_changed():
            # Our presence may have gone over a duplicate link that was just closed.
            self._send(peer, self.presence)
        others = [a for a in self.peer_addresses() if a != listen]
        if others:
            self._send(peer, Peers(addrs=others))
        if not link.initiator:
            # The listener opens the sync; the dialer answers. Both opening at once made an
            # empty joiner ask for (and receive) the whole document twice.
            self._sync_out(peer)
        for other in list(self._peers.values()):  # tell the others about the newcomer
            if other is not peer and listen is not None:
                self._send(other, Peers(addrs=[listen]))
        outcome = "dropped"
        try:
            outcome = await self._serve(peer)
        except LinkClosed as exc:
            if not self._stopping:
                log.info("link to %s (%s) ended: %s", peer.name, link.remote[0], exc.reason)
                self._emit(LinkProblem(link.remote[0], exc.reason))
        finally:
            await link.close()
            if self._peers.get(peer.peer_id) is peer:
                del self._peers[peer.peer_id]
                self._links_changed()
                self._emit(PeersChanged())
            peer.gone.set()
        return outcome

    def _admit(self, peer: _Peer) -> bool:
        """Resolve two links to the same peer: keep the one the smaller id dialled."""
        existing = self._peers.get(peer.peer_id)
        if existing is None:
            return True
        me = self.session.me

        def dialer(link: Link) -> str:
            return me if link.initiator else peer.peer_id

        new, old = dialer(peer.link), dialer(existing.link)
        if new == old or new < old:  # same direction: the old link is stale
            self._send(existing, Bye("duplicate"))
            existing.left_on_purpose = False
            self._spawn(existing.link.close(), "close-duplicate")
            del self._peers[peer.peer_id]
            existing.gone.set()
            return True
        self._send(peer, Bye("duplicate"))
        return False

    async def _serve(self, peer: _Peer) -> str:
        link = peer.link
        while True:
            envelope = await link.receive()
            peer.last_heard = time.monotonic()
            if self._pushes and not isinstance(envelope, Changes):
                # Frames are taken in order: pushes queued for this turn go first.
                refused = self._apply_pushes()
                mine = refused.pop(peer, None)
                self._drop_links(refused)
                if mine is not None:
                    raise LinkClosed(mine)
            match envelope:
                case Sync(data=data, seq=seq, ack=ack, reset=reset):
                    peer.last_sync_in = time.monotonic()
                    self._sync_arrived.set()
                    if ack > peer.acked:
                        peer.acked = min(ack, peer.sent_seq)
                    if seq:
                        peer.owed = seq
                    if reset:
                        peer.sync_state = SyncState()
                        peer.reconciled = self.session.doc.get_heads()
                    if data:
                        self._on_sync(peer, data)
                    elif peer.pending or peer.owed:  # an acknowledgement: what waited may go
                        self._schedule_reply(peer)
                case Changes(changes=changes):
                    peer.last_sync_in = time.monotonic()
                    self._on_changes(peer, changes)
                case Presence() if envelope.peer_id == peer.peer_id:
                    peer.presence = envelope
                    self._emit(PeersChanged())
                case Peers(addrs=addrs):
                    for host, port in addrs[:64]:
                        if (host, port) not in self._addr_peer or \
                                self._addr_peer[(host, port)] not in self._peers:
                            self.connect(host, port)
                case Ping(nonce=nonce, sent=sent, heads=heads):
                    self._send(peer, Pong(nonce=nonce, sent=sent, peer_time=self.clock()))
                    ours = self.session.doc.get_heads()
                    if sorted(heads) == sorted(ours):
                        peer.reconciled = ours  # in step: no need to start over
                case Pong(sent=sent, peer_time=peer_time):
                    now = self.clock()
                    rtt = max(0.0, now - sent)
                    peer.samples = [*peer.samples[-7:], (rtt, peer_time - (sent + now) / 2)]
                case Code(code=code, by=by):
                    facilitator = self.session.snapshot.control.roles.facilitator
                    if by == peer.peer_id == facilitator:
                        with contextlib.suppress(ValueError):
                            normalize_code(code)
                            self.code = code
                            self._emit(CodeChanged(code))
                case Bye():
                    peer.left_on_purpose = True
                    return "bye"
                case _:
                    log.info("ignored %s from %s", type(envelope).__name__, peer.name)

    def _on_sync(self, peer: _Peer, data: bytes) -> None:
        before = self.session.doc.get_heads()
        try:
            message = Message.decode(data)
            changed = self.session.receive_sync_message(peer.sync_state, message)
        except Exception as exc:  # the binding raises bare Exception on bad input
            self._refuse(peer, f"bad sync message from {peer.name}: {exc}")
        self._check_dangling_later()
        if changed:
            self._arrived([peer], before)
        # The answer waits for the end of this loop turn: frames that arrived together get
        # one answer (generating one costs a pass over the changes in flight).
        self._schedule_reply(peer)

    def _on_changes(self, peer: _Peer, changes: list[bytes]) -> None:
        """Queue pushed changes; all that arrive in one loop turn are applied at once.

        Applying costs Automerge a pass per call as well as per change: in a burst
        nine peers' pushes taken together cost about half of taking them one by one.
        """
        self._pushes.append((peer, changes))
        if len(self._pushes) == 1:
            asyncio.get_running_loop().call_soon(self._apply_pushes_later)

    def _apply_pushes_later(self) -> None:
        self._drop_links(self._apply_pushes())

    def _drop_links(self, refused: dict[_Peer, str]) -> None:
        for peer, reason in refused.items():
            log.info("dropping the link to %s: %s", peer.name, reason)
            self._emit(LinkProblem(peer.link.remote[0], reason))
            self._spawn(peer.link.close(), "close-bad-changes")

    def _apply_pushes(self) -> dict[_Peer, str]:
        """Apply the queued pushes; the peers whose bytes were not changes, and why."""
        pushes, self._pushes = self._pushes, []
        pushes = [(peer, changes) for peer, changes in pushes
                  if self._peers.get(peer.peer_id) is peer]
        if not pushes:
            return {}
        before = self.session.doc.get_heads()
        refused: dict[_Peer, str] = {}
        try:
            changed = self.session.apply_changes([c for _, changes in pushes for c in changes])
        except Exception:  # someone sent bytes that are not changes: find out who
            changed = False
            for peer, changes in pushes:
                if peer in refused:
                    continue
                try:
                    changed = self.session.apply_changes(changes) or changed
                except Exception as exc:  # the binding raises bare Exception on bad input
                    refused[peer] = f"bad changes from {peer.name}: {exc}"
            if refused:
                self._drop_what_was_left_dangling()
        self._check_dangling_later()
        if changed:
            senders = {peer.peer_id: peer for peer, _ in pushes if peer not in refused}
            self._arrived(list(senders.values()), before)
        return refused

    def _refuse(self, peer: _Peer, reason: str) -> NoReturn:
        self._drop_what_was_left_dangling()
        raise LinkClosed(reason)

    def _drop_what_was_left_dangling(self) -> None:
        """A peer sent bad bytes: what it left waiting for dependencies will not be completed."""
        if self.session.has_dangling_changes():
            self._drop_dangling()

    def _arrived(self, senders: list[_Peer], before: list[bytes]) -> None:
        """New changes came from ``senders``: announce, save soon, relay where needed."""
        self._announce_change()
        self._save_received()
        if not self._unsaved_local and self._local_handle is None:
            # Nothing of ours waits to be pushed: the next push starts from here, and does
            # not sift through what others wrote.
            self._pushed = self.session.doc.get_heads()
        # Relay only to peers that have no link of their own to a sender: in a full
        # mesh the author reaches everyone directly and nobody relays (n, not n², frames).
        targets = [other for other in self._peers.values() if any(
            sender is not other and (other.presence is None
                                     or sender.peer_id not in other.presence.links)
            for sender in senders)]
        if targets:
            self._push(self.session.changes_since(before), targets)

    def _schedule_reply(self, peer: _Peer) -> None:
        self._replies.add(peer)
        if not self._replies_scheduled:
            self._replies_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_replies)

    def _flush_replies(self) -> None:
        """Answer the sync messages that arrived this loop turn, once per peer."""
        self._replies_scheduled = False
        targets, self._replies = self._replies, set()
        for other in targets:
            if self._peers.get(other.peer_id) is other:
                self._sync_out(other)

    def _check_dangling_later(self) -> None:
        if self._dangling_handle is None and not self._stopping:
            self._dangling_handle = asyncio.get_running_loop().call_later(
                DANGLING_CHECK, self._check_dangling)

    def _check_dangling(self) -> None:
        """Ask for, then drop, changes held back for dependencies nobody sends.

        Pushes from several authors cross, so a change often waits a moment for
        what it depends on. A dependency still missing a second later is asked of
        every peer (the exchange starts over); still missing a second after that,
        it never will come, and while Automerge keeps the changes waiting for it a
        new joiner receives nothing: they are dropped.
        """
        self._dangling_handle = None
        missing = self.session.missing_dependencies()
        stuck, self._missing = missing & self._missing, missing
        if not stuck:
            self._asked_for_missing = False
            if missing:
                self._check_dangling_later()
            return
        if not self._asked_for_missing:
            self._asked_for_missing = True
            for peer in list(self._peers.values()):
                self._reconcile(peer)
            self._check_dangling_later()
            return
        self._drop_dangling()

    def _drop_dangling(self) -> None:
        log.warning("dropping changes received without the changes they depend on")
        self._missing, self._asked_for_missing = frozenset(), False
        self.session.drop_dangling_changes()
        self._save()
        for peer in list(self._peers.values()):  # start every exchange again from what we hold
            self._reconcile(peer)

    def _links_changed(self) -> bool:
        """Tell every peer whom we are linked to (they use it to avoid needless relays);
        False if that had not changed (and nothing was sent)."""
        links = tuple(sorted(self._peers))
        if links == self.presence.links:
            return False
        self.presence = Presence(**{**self._presence_fields(), "links": links})  # type: ignore[arg-type]
        for peer in list(self._peers.values()):
            self._send(peer, self.presence)
        return True

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            now = time.monotonic()
            for peer in list(self._peers.values()):
                if now - peer.last_heard > self.dead_after:
                    log.info("%s stopped answering; dropping the link", peer.name)
                    self._emit(LinkProblem(peer.link.remote[0], f"{peer.name} stopped answering"))
                    await peer.link.close()
                    continue
                self._ping_nonce += 1
                heads = self.session.doc.get_heads()
                self._send(peer, Ping(nonce=self._ping_nonce, sent=self.clock(),
                                      heads=heads[:MAX_PING_HEADS]))
                # A backstop for pushes lost or relays skipped on stale link lists: once
                # per interval with changes, the exchange starts over and fills any gap;
                # not while changes flow, when the documents differ only by what is on its way.
                quiet = now - max(peer.last_sync_in, self._pushed_at) > RESTART_QUIET
                if peer.reconciled != heads and not peer.restart and quiet:
                    self._reconcile(peer)


def _batches(changes: list[bytes], limit: int) -> list[list[bytes]]:
    """``changes`` in order, cut into lists of at most ``limit`` bytes (or one change)."""
    batches: list[list[bytes]] = [[]]
    size = 0
    for change in changes:
        if batches[-1] and size + len(change) > limit:
            batches.append([])
            size = 0
        batches[-1].append(change)
        size += len(change)
    return batches if batches[0] else []
