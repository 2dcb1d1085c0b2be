"""Headless peers: host or join a session without a screen (scripts, archiving, the lab).

A headless peer prints what a person needs (address, code, join link) and,
with ``--json``, one JSON object per line for programs. With ``--script``
it reads commands from standard input, one per line::

    add KIND TEXT      start | pause | resume | advance | back | end
    status             quit
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from model import sessionfile
from model.ops import OperationError
from model.protocols import DEFAULT_PROTOCOL, load_protocol
from model.session import NotAllowed, Session
from sync.codes import generate_code
from sync.events import (
    AuthFailure,
    DocumentChanged,
    HandshakeFailed,
    LinkProblem,
    NodeEvent,
    PeersChanged,
    Saved,
    SaveFailed,
)
from sync.node import SessionNode
from tui import identity
from tui.paths import sessions_dir


class HeadlessError(Exception):
    """A failure reported in one line (exit code 1)."""


@dataclass
class Peer:
    host: str
    port: int
    tag: str | None = None
    code: str | None = None


def parse_peer(text: str) -> Peer:
    """``HOST:PORT`` or a join link ``cercle://HOST:PORT/TAG#CODE``."""
    if text.startswith("cercle://"):
        parts = urlsplit(text)
        if not parts.hostname or not parts.port:
            raise HeadlessError(f"not a join link: {text}")
        return Peer(parts.hostname, parts.port, parts.path.strip("/") or None,
                    parts.fragment or None)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise HeadlessError(f"expected HOST:PORT, got {text!r}")
    return Peer(host.strip("[]") or "127.0.0.1", int(port))


def default_file(title: str) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:40] or "session"
    path = sessions_dir() / f"{slug}.cercle"
    counter = 2
    while path.exists():
        path = sessions_dir() / f"{slug}-{counter}.cercle"
        counter += 1
    return path


def session_tag(session_id: str) -> str:
    """The public tag a host announces for a session, derived from the session's id.

    Peers bind their handshake to the tag they learned, so a random tag per run locked
    everyone out of a facilitator restarted from its file (same address, port and code):
    their reconnections failed as "another session". The tag stays public and reveals
    nothing but which advertisements belong to one session.
    """
    return hashlib.sha256(b"cercle/tag/" + session_id.encode()).hexdigest()[:8]


def digest(session: Session) -> str:
    """A short fingerprint of the items held (equal on replicas holding the same items)."""
    ids = sorted(f"{i.id}:{i.text}" for i in session.snapshot.items)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


@dataclass
class Printer:
    """Human lines, or JSON lines for programs."""

    json_mode: bool
    stream: TextIO = field(default_factory=lambda: sys.stdout)

    def __call__(self, event: str, text: str, **data: Any) -> None:
        if self.json_mode:
            print(json.dumps({"event": event, **data}, ensure_ascii=False), file=self.stream,
                  flush=True)
        else:
            print(text, file=self.stream, flush=True)


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))


SCRIPT_BATCH = 200  # script lines applied in one go at most


def _read_script(queue: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop) -> None:
    # A thread, because reading a console asynchronously is not portable.
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


def _run_command(node: SessionNode, line: str, say: Printer) -> bool:
    """Apply one script line other than `add` (see `_run_commands`); False on quit."""
    session = node.session
    word = line.strip().partition(" ")[0]
    try:
        match word:
            case "" | "#":
                return True
            case "quit":
                return False
            case "status":
                status(node, say)
                return True
            case "start" | "pause" | "resume" | "advance" | "end":
                getattr(session, word)()
            case "back":
                session.go_back()
            case _:
                say("error", f"unknown command: {word}", message=f"unknown command: {word}")
                return True
    except (NotAllowed, ValueError) as exc:
        say("error", f"refused: {exc}", message=str(exc))
        return True
    node.local_changed()
    return True


def _run_commands(node: SessionNode, lines: list[str | None], say: Printer) -> bool:
    """Apply script lines in order, a run of ``add`` lines as one change; False on quit.

    ``None`` is the end of the script. A line with an error is said and skipped.
    """
    adds: list[tuple[str, str]] = []

    def flush_adds() -> None:
        if adds:
            node.session.add_items(adds)
            node.local_changed()
            adds.clear()

    for line in lines:
        if line is None:
            flush_adds()
            return False
        word, _, rest = line.strip().partition(" ")
        if word == "add":
            kind, _, text = rest.partition(" ")
            try:  # the phase's kinds and contributors, as for a person (model.rules)
                node.session.check_add(kind, text)
            except (OperationError, NotAllowed) as exc:
                say("error", f"refused: {exc}", message=str(exc))
                continue
            adds.append((kind, text))
            continue
        flush_adds()
        if not _run_command(node, line, say):
            return False
    flush_adds()
    return True


def status(node: SessionNode, say: Printer) -> None:
    node.flush()  # what status reports is on disk
    snap = node.session.snapshot
    say("status", f"{len(snap.items)} items, {len(node.peers)} peers, phase "
        f"{snap.control.phase.index + 1} [{snap.control.phase.status}]",
        items=len(snap.items), peers=len(node.peers), digest=digest(node.session),
        phase=snap.control.phase.index, participants=len(snap.participants))


def _events(say: Printer, watch: bool = False, session: Session | None = None) -> Any:
    last_problem: dict[str, str] = {}

    def on_event(event: NodeEvent) -> None:
        match event:
            case DocumentChanged() if watch and session is not None:
                count = session.item_count()
                say("changed", f"{count} items", items=count, t=time.time())
            case AuthFailure(address=address, failures=failures, incoming=True):
                say("auth-failure", f"wrong join code from {address} ({failures} recent "
                    "failures)", address=address, failures=failures)
            case PeersChanged():
                pass
            case HandshakeFailed(address=address, reason=reason):
                say("handshake-failed", f"{address} failed the handshake: {reason}",
                    address=address, reason=reason)
            case LinkProblem(address=address, reason=reason):
                if last_problem.get(address) != reason:  # a retry loop repeats itself
                    last_problem[address] = reason
                    say("link-problem", f"{address}: {reason}", address=address, reason=reason)
            case SaveFailed(message=message):
                say("save-failed", f"cannot save: {message}", message=message)
            case Saved():
                say("saved", "saved again")
    return on_event


async def _serve(node: SessionNode, say: Printer, script: bool, watch: bool = False) -> None:
    """Run until SIGINT/SIGTERM, or until the script says quit or ends.

    With ``watch``, each batch of script lines is followed by an ``applied`` line
    with the items now held, as remote changes are by a ``changed`` line.
    """
    stop = asyncio.Event()
    _install_stop(stop)
    peers_seen = -1
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    if script:
        threading.Thread(target=_read_script, args=(queue, asyncio.get_running_loop()),
                         daemon=True).start()
    while not stop.is_set():
        if len(node.peers) != peers_seen:
            peers_seen = len(node.peers)
            say("peers", f"{peers_seen} peer(s) connected", count=peers_seen,
                names=[p.name for p in node.peers])
        if script:
            try:
                line = await asyncio.wait_for(queue.get(), 0.2)
            except TimeoutError:
                continue
            # Lines that arrived together are applied together: one save and one send (a
            # hundred adds take some 30 ms; past SCRIPT_BATCH the network is heard first).
            lines = [line]
            while lines[-1] is not None and not queue.empty() and len(lines) < SCRIPT_BATCH:
                lines.append(queue.get_nowait())
            if not _run_commands(node, lines, say):
                return
            if watch:
                count = node.session.item_count()
                say("applied", f"{count} items", items=count, lines=len(lines), t=time.time())
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)


def _continue_session(previous: str, *, title: str | None, file: str | None, name: str,
                      protocol: str | None, group: str | None, say: Printer) -> Session:
    """The next session of the group of ``previous`` (``host --continue``)."""
    if file and Path(file).exists():
        raise HeadlessError(f"{file} already exists: the next session needs a new file")
    session = Session.continue_from(
        previous, name=name, title=title, group=group,
        protocol=load_protocol(protocol) if protocol else None)
    snap = session.snapshot
    say("continuing", f"continuing “{snap.group.name}” after “{snap.chain[-1].title}”: "
        f"{len(snap.carried_actions())} open action(s) carried over",
        group=snap.group.name, previous=snap.chain[-1].id,
        carried=len(snap.carried_actions()), chain=len(snap.chain))
    return session


async def run_host(*, title: str | None, file: str | None, protocol: str, code: str | None,
                   port: int, interface: str | None, name: str, label: str, advertise: bool,
                   json_mode: bool, script: bool, watch: bool = False,
                   continue_from: str | None = None, group: str | None = None) -> int:
    say = Printer(json_mode)
    if continue_from:  # protocol "" keeps the previous session's
        session = _continue_session(continue_from, title=title, file=file, name=name,
                                    protocol=protocol or None, group=group, say=say)
        path = Path(file) if file else default_file(session.snapshot.info.title)
        sessionfile.save(path, session.doc)
    elif file and Path(file).exists():  # noqa: ASYNC240 - one stat before the loop runs
        loaded = sessionfile.load(file)
        session = Session(loaded.doc, identity=identity.identity_for(loaded.session_id))
        session.check_can_host(file)
        path = Path(file)
    else:
        if not title:
            raise HeadlessError("give --title for a new session (or --file of an existing one)")
        session = Session.create(title=title, protocol=load_protocol(protocol or DEFAULT_PROTOCOL),
                                 name=name)
        path = Path(file) if file else default_file(title)
        sessionfile.save(path, session.doc)
    identity.remember(session.snapshot.info.id, session.identity, path)
    if not session.is_facilitator:
        say("warning", "note: you are not this session's facilitator on this computer")
    node = SessionNode(session, code=code or generate_code(), name=name, is_host=True,
                       tag=session_tag(session.snapshot.info.id),
                       listen_host=interface or "0.0.0.0", port=port,  # noqa: S104
                       save_path=path, on_event=_events(say, watch, session))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(node)
        addresses = [interface] if interface else _addresses()
        if advertise:
            from sync.discovery import Advertiser

            await stack.enter_async_context(Advertiser(
                tag=node.tag or "", port=node.port, label=label, addresses=addresses,
                interfaces=[interface] if interface else None))
        shown = addresses[0] if addresses else "127.0.0.1"
        say("ready", f"hosting “{session.snapshot.info.title}” on "
            + ", ".join(f"{a}:{node.port}" for a in addresses)
            + f"\njoin code: {node.code}\njoin link: {node.join_link(shown)}\nfile: {path}",
            address=shown, addresses=addresses, port=node.port, code=node.code, tag=node.tag,
            link=node.join_link(shown), file=str(path), session=session.snapshot.info.id)
        await _serve(node, say, script, watch)
    say("stopped", f"stopped; saved {path}", file=str(path))
    return 0


def _addresses() -> list[str]:
    from sync.discovery import local_ipv4_addresses

    return local_ipv4_addresses() or ["127.0.0.1"]


async def _find_by_tag(tag: str, interface: str | None, timeout: float) -> Peer:
    from sync.discovery import Browser

    async with Browser(interfaces=[interface] if interface else None) as browser:
        try:
            async with asyncio.timeout(timeout):
                await browser.wait_for(lambda found: any(s.tag == tag for s in found.values()))
        except TimeoutError:
            raise HeadlessError(f"no session with tag {tag} found on the network "
                                f"within {timeout:.0f} s") from None
        found = browser.find_by_tag(tag)
        if found is None:  # it left between the two looks
            raise HeadlessError(f"the session with tag {tag} just left the network")
        return Peer(found.host, found.port, tag)


async def run_join(*, peer: str | None, tag: str | None, code: str | None, name: str,
                   file: str | None, until_synced: bool, timeout: float, port: int,
                   interface: str | None, json_mode: bool, script: bool,
                   watch: bool = False) -> int:
    say = Printer(json_mode)
    target = parse_peer(peer) if peer else None
    if target is None:
        if not tag:
            raise HeadlessError("give --peer HOST:PORT, a join link, or --tag TAG")
        target = await _find_by_tag(tag, interface, timeout)
    code = code or target.code
    if not code:
        raise HeadlessError("give the join code with --code")
    path = Path(file) if file else None
    existed = path is not None and path.exists()
    if path is not None and existed:
        loaded = sessionfile.load(path)
        session = Session(loaded.doc, identity=identity.identity_for(loaded.session_id))
    else:
        session = Session.empty()
    node = SessionNode(session, code=code, name=name, tag=target.tag or tag,
                       listen_host=interface or "0.0.0.0", port=port,  # noqa: S104
                       save_path=path, on_event=_events(say, watch, session))
    ok = False
    try:
        async with node:
            node.connect(target.host, target.port)
            try:
                async with asyncio.timeout(timeout):
                    ok = await node.wait_synced()
            except TimeoutError:
                ok = False
            if not ok:
                if node.refused:
                    raise HeadlessError(f"wrong join code: {node.refused}")
                raise HeadlessError(f"cannot reach the session at {target.host}:{target.port} "
                                    f"within {timeout:.0f} s")
            identity.remember(session.snapshot.info.id, session.identity, path)
            if session.me not in {p.id for p in session.snapshot.participants}:
                session.join(name)
                node.local_changed()
            async with asyncio.timeout(timeout):
                await node.wait_synced()
            say("synced", f"joined “{session.snapshot.info.title}”: "
                f"{len(session.snapshot.items)} items", items=len(session.snapshot.items),
                digest=digest(session), title=session.snapshot.info.title,
                port=node.port, file=str(path) if path else None)
            if not until_synced:
                await _serve(node, say, script, watch)
    finally:
        if not ok and path is not None and not existed:
            path.unlink(missing_ok=True)  # never leave a partial file behind
    return 0
