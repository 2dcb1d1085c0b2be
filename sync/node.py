"""SessionNode: one laptop's presence in a session's mesh — the asyncio wiring.

The node owns a TCP listener, the dial loops, one task per link and one timer; what
happens on them is decided elsewhere, without I/O: the handshake by ``sync.handshake``,
who gets a handshake and how many code guesses by ``sync.admission``, replication by
``sync.core.MeshCore``, redial delays by ``sync.dialing``. The node feeds them events and
the time, and carries out what they answer. Leaving ``async with`` saves, says bye to
every peer and stops every task the node started.

A newcomer's node starts without knowing its session: ``join()`` dials the host with the
join code; once admitted it knows the session (``anchor``) and its own ``admission``,
which its owner keeps so that every later link is opened with its key, not the code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from automerge.core import Document

from model import sessionfile
from model.keys import Identity
from model.session import Session
from sync.admission import AdmissionGate, HandshakeSlots
from sync.codes import chosen_code, generate_code, normalize_code
from sync.core import Close, Dial, Effect, Emit, LinkView, MeshCore, Pause, Send
from sync.dialing import GIVE_UP_AFTER, DialBackoff
from sync.events import AuthFailure, DocumentChanged, HandshakeFailed, LinkProblem, NodeEvent
from sync.handshake import (
    Anchor,
    Credentials,
    GuessRefused,
    HandshakeError,
    Initiator,
    Known,
    NotAdmitting,
    NotAMember,
    PeerRejected,
    Responder,
    WrongCode,
    WrongSession,
)
from sync.link import Link, LinkClosed, accept, dial
from sync.transport import Listening, Network, TcpNetwork, Transport, TransportClosed
from sync.wire import (
    PROTOCOL_VERSION,
    REJECT_BUSY,
    REJECT_WRONG_CODE,
    Bye,
    Hello,
    Presence,
    Reject,
    encode_handshake,
)

__all__ = ["PeerView", "SessionNode"]

log = logging.getLogger("cercle.sync")

Address = tuple[str, int]
PeerView = LinkView
CONNECT_TIMEOUT: Final = 5.0
HELLO_TIMEOUT: Final = 10.0
STOP_GRACE: Final = 2.0  # seconds a leaving node waits for its last frames to leave
# Handshakes a newcomer tries again after the other side went quiet or hung up once its
# code was sent: a lossy wifi can drop one, and a laptop posing as the session gets at
# most this many guesses of the code from one newcomer's join.
CONFIRMED_TRIES: Final = 3


class SessionNode:
    """Replicates a session with every member it can reach (see the module's docstring)."""

    def __init__(
        self,
        *,
        identity: Identity,
        session: Session | None = None,
        anchor: Anchor | None = None,
        admission: bytes = b"",
        code: str | None = None,
        listen_host: str = "0.0.0.0",  # noqa: S104 - peers in the room must reach us
        port: int = 0,
        save_path: Path | None = None,
        heads: bytes = b"",
        on_event: Callable[[NodeEvent], None] | None = None,
        on_saved: Callable[[bytes], None] | None = None,
        make_session: Callable[[Document], Session] | None = None,
        known: Known | None = None,
        open_session: Callable[[Anchor, Identity], Session | None] | None = None,
        wall_clock: Callable[[], float] = time.time,
        ping_interval: float = 5.0,
        dead_after: float = 15.0,
        handshake_timeout: float = HELLO_TIMEOUT,
        accept_incoming: bool = True,
        gate: AdmissionGate | None = None,
        slots: HandshakeSlots | None = None,
        network: Network | None = None,
    ) -> None:
        if code:
            normalize_code(code)  # refuse a short code before anything starts
        if anchor is None and session is not None:
            raise ValueError("a node holding a session needs its anchor")
        self.identity = identity
        self.anchor = anchor
        self.admission = admission
        self.code = code or ""
        self.listen_host = listen_host
        self.port = port
        self.save_path = save_path
        self._on_event = on_event
        self.on_saved = on_saved  # gets the signed heads after each save, to keep them
        self._make_session = make_session or (lambda doc: _session_for(doc, self.identity))
        self._known = known
        self._open_session = open_session
        self.wall = wall_clock
        self.ping_interval = ping_interval
        self.dead_after = dead_after
        self.handshake_timeout = handshake_timeout  # dialling, and the first hello after
        self.accept_incoming = accept_incoming
        self.gate = gate or AdmissionGate()
        self.slots = slots or HandshakeSlots()
        self._heads = heads
        self._heads_kept = heads  # the signed heads last kept beside the file
        self._core: MeshCore | None = None
        if anchor is not None:
            self._core = self._new_core(anchor, session)
        self._links: dict[int, Link] = {}
        self._paused: dict[int, float] = {}  # link -> read nothing from it before then
        self._next_link = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._dialing: dict[Address, asyncio.Task[None]] = {}
        self._handshakes: dict[object, Transport] = {}
        self.network: Network = network or TcpNetwork()
        self._listening: Listening | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopping = False
        self._changed_pending = False
        self.refused: str | None = None  # why this newcomer was not let in, if it was not
        self.refused_code = False  # ...because of the join code
        self.admitted = asyncio.Event()  # a newcomer was let in (or this node was a member)
        if anchor is not None:
            self.admitted.set()

    def _new_core(self, anchor: Anchor, session: Session | None) -> MeshCore:
        return MeshCore(
            identity=self.identity, anchor=anchor, admission=self.admission, session=session,
            make_session=self._make_session, save=self._save, listen_port=None,
            wall_clock=self.wall, ping_interval=self.ping_interval,
            dead_after=self.dead_after, heads=self._heads)

    # -- reading --------------------------------------------------------------------------
    @property
    def session(self) -> Session | None:
        return self._core.session if self._core is not None else None

    @property
    def is_host(self) -> bool:
        """This laptop created the session: it admits newcomers."""
        return self.anchor is not None and self.anchor.creator == self.identity.actor

    @property
    def tag(self) -> str | None:
        return self.anchor.tag if self.anchor is not None else None

    @property
    def peers(self) -> list[PeerView]:
        return self._core.links() if self._core is not None else []

    @property
    def presence(self) -> Presence:
        return self._core.presence if self._core is not None else Presence()

    @property
    def shown_code(self) -> str:
        """The join code to show people: ours if we admit, else as the host last said."""
        if self.is_host:
            return self.code
        return self._core.code_shown if self._core is not None else ""

    def join_link(self, host: str) -> str:
        """A link to paste in a chat or type by hand: ``cercle://HOST:PORT/TAG#CODE``."""
        return f"cercle://{host}:{self.port}/{self.tag or ''}#{self.shown_code}"

    def offset_to(self, peer_id: str) -> float:
        return self._core.offset_to(peer_id) if self._core is not None else 0.0

    def facilitator_now_ms(self) -> int:
        """Now on the facilitator's clock, in ms: every laptop shows the same timer."""
        session = self.session
        facilitator = session.snapshot.control.roles.facilitator if session else ""
        return int((self.wall() + self.offset_to(facilitator)) * 1000)

    def is_synced(self, quiet: float = 0.3) -> bool:
        core = self._core
        return core is not None and core.is_synced(self._now(), quiet)

    async def wait_synced(self, quiet: float = 0.3) -> bool:
        """Wait until ``is_synced`` (True) or until we were refused (False).

        Bound it with ``asyncio.timeout``: an unreachable peer never syncs.
        """
        while self.refused is None:
            if self.is_synced(quiet):
                return True
            await asyncio.sleep(0.05)
        return False

    @property
    def running_tasks(self) -> int:
        """Tasks still alive (0 after stop: nothing is left behind)."""
        return len([t for t in (*self._tasks, *self._dialing.values()) if not t.done()])

    # -- lifecycle ----------------------------------------------------------------------------
    async def __aenter__(self) -> SessionNode:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen for peers."""
        if self.accept_incoming:
            self._listening = await self.network.listen(self.listen_host, self.port,
                                                        self._on_incoming)
            self.port = self._listening.port

    async def stop(self) -> None:
        """Save, send what waits, say bye to every peer, and stop everything we started."""
        if self._stopping:
            return
        self._stopping = True
        if self._core is not None:
            self._run(self._core.flush(self._now()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE):
                    for link in list(self._links.values()):
                        await link.drain()
            self._run(self._core.goodbye())
        if self._timer is not None:
            self._timer.cancel()
        for transport in list(self._handshakes.values()):
            await transport.close()
        for link in list(self._links.values()):
            await link.close()
        tasks = list(self._tasks) + list(self._dialing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listening is not None:
            await self._listening.close()
        if self._core is not None and not self._core.saved_all:
            self._save()

    def _spawn(self, coro: object, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            coro, name=f"cercle-{name}")  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- the owner's intents -------------------------------------------------------------------
    def local_changed(self) -> None:
        """Call after a local operation: it is saved, then pushed, a moment later."""
        if self._core is not None:
            self._core.local_changed(self._now())
            self._schedule()

    def flush(self) -> bool:
        """Save local changes now and push them; False if the file could not be written."""
        if self._core is None:
            return True
        self._run(self._core.flush(self._now()))
        return self._core.saved_all

    def set_presence(self, **fields: object) -> None:
        """Update and send our ephemeral presence (hand, done, typing)."""
        if self._core is not None:
            self._run(self._core.set_presence(**fields))

    def rotate_code(self, code: str | None = None, reason: str = "rotated") -> str:
        """Use a new join code from now on (the creator's laptop) and tell every member."""
        if not self.is_host:
            raise PermissionError("only the laptop that opened the session sets the code")
        code = chosen_code(code) if code else generate_code()
        self.code = code
        self.gate.rotated()
        if self._core is not None:
            self._run(self._core.announce_code(code, reason))
        return code

    def join(self, host: str | Sequence[str], port: int, *, tag: str | None = None) -> None:
        """A newcomer: dial ``host:port`` with the join code until admitted or refused.

        ``host`` may list several addresses (a session announces one per network): they
        are tried in turn until one answers."""
        hosts = [host] if isinstance(host, str) else list(host)
        if self.anchor is not None:
            self.connect(hosts[0], port)
            return
        addr = (hosts[0], port)
        if addr not in self._dialing:
            self._dialing[addr] = asyncio.get_running_loop().create_task(
                self._join_loop(hosts, port, tag), name=f"cercle-join-{hosts[0]}:{port}")

    def connect(self, host: str, port: int, *, expect: bytes | None = None,
                persistent: bool = True) -> None:
        """Keep a link to the member at ``host:port`` (reconnecting with backoff).

        ``expect`` is the member we were told is there; an address from another laptop
        (not ``persistent``) is given up after a few failures."""
        addr = (host, port)
        if self._stopping or addr in self._dialing or self.anchor is None:
            return
        if addr == (self.listen_host, self.port):
            return
        self._dialing[addr] = asyncio.get_running_loop().create_task(
            self._dial_loop(addr, expect, DialBackoff(
                give_up_after=None if persistent else GIVE_UP_AFTER)),
            name=f"cercle-dial-{host}:{port}")

    # -- carrying out what the core says --------------------------------------------------------
    def _run(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Send(link=link_id, envelope=envelope):
                    link = self._links.get(link_id)
                    if link is not None:
                        with contextlib.suppress(LinkClosed):
                            link.send_nowait(envelope)
                case Close(link=link_id, reason=reason, bye=bye):
                    link = self._links.pop(link_id, None)
                    if link is not None:
                        if bye:
                            with contextlib.suppress(LinkClosed):
                                link.send_nowait(Bye(reason=bye))
                        log.info("closing the link to %s: %s", link.remote, reason)
                        self._spawn(self._close_soon(link), "close")
                case Emit(event=event):
                    self._emit(event)
                case Dial(host=host, port=port, actor=actor):
                    self.connect(host, port, expect=actor, persistent=False)
                case Pause(link=link_id, seconds=seconds):
                    self._paused[link_id] = self._now() + seconds
        self._schedule()

    async def _close_soon(self, link: Link) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await link.drain()
        await link.close()

    def _schedule(self) -> None:
        core = self._core
        if core is None or self._stopping:
            return
        when = core.wake_at()
        if self._timer is not None:
            if when is not None and self._timer.when() <= when:
                return
            self._timer.cancel()
            self._timer = None
        if when is not None:
            self._timer = asyncio.get_running_loop().call_at(when, self._wake)

    def _wake(self) -> None:
        self._timer = None
        if self._core is not None and not self._stopping:
            self._run(self._core.tick(self._now()))

    def _emit(self, event: NodeEvent) -> None:
        if isinstance(event, DocumentChanged):
            # Everything that arrives in one loop turn is told once (a burst repaints once).
            if not self._changed_pending:
                self._changed_pending = True
                asyncio.get_running_loop().call_soon(self._announce_change)
            return
        self._tell(event)

    def _announce_change(self) -> None:
        self._changed_pending = False
        session = self.session
        if session is not None:
            session.poke()  # listeners hear of everything that arrived this turn at once
        self._tell(DocumentChanged())

    def _tell(self, event: NodeEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # the owner's bug must not take the mesh down
                log.exception("event handler failed")

    def _save(self) -> str | None:
        """Write the session file and the signed heads beside it; why not, if it failed."""
        core = self._core
        session = core.session if core is not None else None
        if self.save_path is None or session is None:
            return None
        try:
            sessionfile.save(self.save_path, session.doc)
        except sessionfile.SessionFileError as exc:
            return str(exc)
        if self.on_saved is not None and core is not None:
            blob = core.heads_blob()
            if blob != self._heads_kept:  # a save of our own edits leaves them as they were
                try:
                    self.on_saved(blob)
                    self._heads_kept = blob
                except Exception:
                    log.exception("keeping the signed heads failed")
        return None

    # -- links ------------------------------------------------------------------------------
    async def _serve(self, link: Link, listen: Address | None, admission: bytes) -> str:
        """Run one established link until it ends; why it ended."""
        core = self._core
        assert core is not None  # noqa: S101 - links exist once the session is known
        try:
            link.send_nowait(Hello(version=PROTOCOL_VERSION,
                                   listen_port=self.port if self._listening else None))
            async with asyncio.timeout(self.handshake_timeout):
                hello = await link.receive()
        except (LinkClosed, TimeoutError) as exc:
            await link.close()
            log.info("no hello from %s: %s", link.remote, exc)
            return "dropped"
        if not isinstance(hello, Hello) or hello.version != PROTOCOL_VERSION:
            await link.close()
            return "dropped"
        if link.peer == self.identity.actor:
            await link.close()
            return "self"
        if hello.listen_port is not None:
            listen = (link.remote, hello.listen_port)
        self._next_link += 1
        link_id = self._next_link
        self._links[link_id] = link
        self._run(core.link_up(link_id, link.peer, initiator=link.initiator,
                               remote=link.remote, listen=listen, admission=admission,
                               now=self._now()))
        outcome = "dropped"
        try:
            while link_id in self._links:
                resume = self._paused.pop(link_id, 0.0)
                if resume > self._now():
                    await asyncio.sleep(resume - self._now())  # braked: TCP holds the rest
                envelope = await link.receive()
                self._run(core.receive(link_id, envelope, self._now()))
                if isinstance(envelope, Bye):
                    outcome = "duplicate" if envelope.reason == "duplicate" else "bye"
        except LinkClosed as exc:
            if not self._stopping:
                log.info("link to %s ended: %s", link.remote, exc.reason)
                self._emit(LinkProblem(link.remote, exc.reason))
        finally:
            await link.close()
            if self._links.pop(link_id, None) is not None and not self._stopping:
                self._run(core.link_down(link_id, self._now()))
        return outcome

    async def _on_incoming(self, transport: Transport) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        ip = transport.remote
        now = self._now()
        slot, evicted = self.slots.open(ip, now) if not self._stopping else (None, None)
        if evicted is not None and evicted in self._handshakes:
            await self._handshakes.pop(evicted).close()
        if slot is None or self._core is None or self.anchor is None:
            with contextlib.suppress(TransportClosed):
                transport.send_nowait(encode_handshake(Reject(reason=REJECT_BUSY,
                                                              retry_after=1.0)))
            await transport.close()
            return
        self._handshakes[slot] = transport
        machine = Responder(
            anchor=self.anchor, credentials=Credentials(self.identity, self.admission),
            code=self.code if self.is_host and self.code else None,
            guess=lambda: self.gate.request(ip, self._now()))
        try:
            outcome = await accept(transport, machine, first_message=self.slots.first_message,
                                   finish=self.slots.finish,
                                   on_first=lambda: self.slots.spoke(slot))
        except WrongCode:
            self._guess_ended(ip, "wrong")
            return
        except GuessRefused as exc:
            log.info("code attempt from %s deferred %.0f s", ip, exc.retry_after)
            with contextlib.suppress(TransportClosed):
                transport.send_nowait(encode_handshake(Reject(
                    reason=REJECT_BUSY, retry_after=min(3600.0, exc.retry_after))))
            return
        except (HandshakeError, LinkClosed) as exc:
            if machine.guessing:
                self._guess_ended(ip, "abandoned")
            log.info("handshake with %s failed: %s", ip, exc)
            self._emit(HandshakeFailed(ip, str(exc)))
            return
        finally:
            self.slots.close(slot)
            self._handshakes.pop(slot, None)
            if transport.closed or not machine.done:
                await transport.close()
        if machine.guessing:
            self._guess_ended(ip, "right")
        link = Link(transport, outcome.channel, initiator=False, peer=outcome.peer)
        await self._serve(link, None, outcome.peer_admission)

    def _guess_ended(self, ip: str, how: str) -> None:
        rotate = self.gate.finished(ip, self._now(), how)  # type: ignore[arg-type]
        if how != "wrong":
            return
        failures = self.gate.failures(ip)
        log.warning("wrong join code from %s (%d recent failures)", ip, failures)
        self._emit(AuthFailure(ip, failures, incoming=True))
        if rotate:
            log.warning("%d wrong codes: the join code changes by itself",
                        self.gate.wrong_since_rotation)
            self.rotate_code(reason="guessing")

    async def _dial_loop(self, addr: Address, expect: bytes | None,
                         backoff: DialBackoff) -> None:
        try:
            while not self._stopping and not backoff.gave_up:
                core, anchor = self._core, self.anchor
                if core is None or anchor is None:
                    return
                if expect is not None and core.linked(expect):
                    await asyncio.sleep(self.ping_interval)  # linked another way: look later
                    continue
                try:
                    transport = await self.network.connect(*addr, CONNECT_TIMEOUT)
                    outcome = await dial(transport, Initiator(
                        anchor=anchor, credentials=Credentials(self.identity, self.admission)),
                        finish=self.handshake_timeout)
                except (OSError, TimeoutError, HandshakeError, LinkClosed) as exc:
                    self._emit(LinkProblem(f"{addr[0]}:{addr[1]}",
                                           f"cannot reach {addr[0]}:{addr[1]} ({exc})"))
                    await asyncio.sleep(backoff.failed())
                    continue
                if expect is not None and outcome.peer != expect:
                    await transport.close()
                    await asyncio.sleep(backoff.failed())
                    continue
                backoff.succeeded()
                link = Link(transport, outcome.channel, initiator=True, peer=outcome.peer)
                ended = await self._serve(link, addr, outcome.peer_admission)
                if ended in ("self", "bye"):
                    return
                if ended == "duplicate":
                    expect = outcome.peer
                await asyncio.sleep(backoff.failed())
        finally:
            if self._dialing.get(addr) is asyncio.current_task():
                del self._dialing[addr]

    async def _join_loop(self, hosts: list[str], port: int, tag: str | None) -> None:
        """A newcomer's attempts: busy means wait and try again (no guess was made); a
        refused code ends them, and so does a host that goes quiet or hangs up once our
        guess is on the table, the ``CONFIRMED_TRIES``-th time: a lossy wifi may cut a
        handshake, but a laptop that pretends to be the session gets a few guesses, not
        one per redial. An address that does not answer makes way for the next one
        announced."""
        backoff = DialBackoff()
        first = (hosts[0], port)
        turn = 0
        confirmed_failures = 0
        try:
            found: list[tuple[Anchor, Credentials]] = []

            def known(announced: str) -> tuple[Anchor, Credentials] | None:
                result = self._known(announced) if self._known is not None else None
                found[:] = [result] if result is not None else []
                return result

            while not self._stopping and self.anchor is None:
                addr = (hosts[turn % len(hosts)], port)
                machine = Initiator(identity=self.identity, code=self.code or None, tag=tag,
                                    known=known)
                try:
                    transport = await self.network.connect(*addr, CONNECT_TIMEOUT)
                    outcome = await dial(transport, machine, finish=self.handshake_timeout)
                except PeerRejected as exc:
                    if exc.reason == REJECT_BUSY:
                        await asyncio.sleep(max(0.2, exc.retry_after))
                        continue
                    self._refuse(addr, str(exc), exc.reason == REJECT_WRONG_CODE)
                    return
                except (WrongCode, WrongSession, NotAdmitting, NotAMember) as exc:
                    self._refuse(addr, str(exc), isinstance(exc, WrongCode))
                    return
                except (OSError, TimeoutError, HandshakeError, LinkClosed) as exc:
                    if machine.sent_confirm:
                        confirmed_failures += 1
                        if confirmed_failures >= CONFIRMED_TRIES:
                            self._refuse(addr, f"the other side hung up {CONFIRMED_TRIES} "
                                               "times once the code was sent: it may not be "
                                               "the session you want", True)
                            return
                    self._emit(LinkProblem(f"{addr[0]}:{addr[1]}",
                                           f"cannot reach {addr[0]}:{addr[1]} ({exc})"))
                    turn += 1
                    if turn % len(hosts) == 0:
                        await asyncio.sleep(backoff.failed())
                    continue
                session = None
                if not outcome.newcomer and found:  # back with the key it was admitted with
                    self.identity = found[0][1].identity
                    if self._open_session is not None:
                        session = self._open_session(outcome.anchor, self.identity)
                self.anchor = outcome.anchor
                self.admission = outcome.admission
                self._core = self._new_core(outcome.anchor, session)
                self.admitted.set()
                link = Link(transport, outcome.channel, initiator=True, peer=outcome.peer)
                ended = await self._serve(link, addr, outcome.peer_admission)
                if ended not in ("self", "bye") and not self._stopping:
                    self._dialing.pop(first, None)
                    self.connect(*addr, expect=outcome.peer)
                return
        finally:
            if self._dialing.get(first) is asyncio.current_task():
                del self._dialing[first]

    def _refuse(self, addr: Address, reason: str, code: bool) -> None:
        self.refused = reason
        self.refused_code = code
        where = f"{addr[0]}:{addr[1]}"
        log.warning("joining %s refused: %s", where, reason)
        if code:
            self._emit(AuthFailure(where, 1, incoming=False))
        else:
            self._emit(LinkProblem(where, reason))


def _session_for(doc: Document, identity: Identity) -> Session:
    """The replica of a document received whole, as ``identity`` (see ``make_session``)."""
    return Session(doc, identity=identity)
