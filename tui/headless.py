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
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from model import sessionfile
from model.ops import OperationError
from model.protocols import DEFAULT_PROTOCOL, load_protocol
from model.session import NotAllowed, Session
from model.text import clean_line
from sync.events import (
    AuthFailure,
    CodeChanged,
    DocumentChanged,
    HandshakeFailed,
    LinkProblem,
    Misbehaviour,
    NodeEvent,
    PeersChanged,
    Saved,
    SaveFailed,
)
from tui import identity
from tui.meeting import Meeting, MeetingError, Target, default_file, digest, host, join
from tui.platform import install_stop_handlers

__all__ = ["HeadlessError", "digest", "run_host", "run_join"]


class HeadlessError(Exception):
    """A failure reported in one line (exit code 1)."""


@dataclass
class Printer:
    """Human lines, or JSON lines for programs. Text from other laptops is shown as one
    clean line (no terminal escapes, no right-to-left overrides)."""

    json_mode: bool
    stream: TextIO = field(default_factory=lambda: sys.stdout)

    def __call__(self, event: str, text: str, **data: Any) -> None:
        if self.json_mode:
            print(json.dumps({"event": event, **data}, ensure_ascii=False), file=self.stream,
                  flush=True)
        else:
            print(text, file=self.stream, flush=True)


def _plain(text: str, limit: int = 200) -> str:
    return clean_line(text, limit)


SCRIPT_BATCH = 200  # script lines applied in one go at most


def _read_script(queue: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop) -> None:
    # A thread, because reading a console asynchronously is not portable.
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


def _run_command(meeting: Meeting, line: str, say: Printer) -> bool:
    """Apply one script line other than `add` (see `_run_commands`); False on quit."""
    session = meeting.session
    word = line.strip().partition(" ")[0]
    try:
        match word:
            case "" | "#":
                return True
            case "quit":
                return False
            case "status":
                status(meeting, say)
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
    meeting.node.local_changed()
    return True


def _run_commands(meeting: Meeting, lines: list[str | None], say: Printer) -> bool:
    """Apply script lines in order, a run of ``add`` lines as one change; False on quit.

    ``None`` is the end of the script. A line with an error is said and skipped.
    """
    adds: list[tuple[str, str]] = []

    def flush_adds() -> None:
        if adds:
            meeting.session.add_items(adds)
            meeting.node.local_changed()
            adds.clear()

    for line in lines:
        if line is None:
            flush_adds()
            return False
        word, _, rest = line.strip().partition(" ")
        if word == "add":
            kind, _, text = rest.partition(" ")
            try:  # the phase's kinds and contributors, as for a person (model.rules)
                meeting.session.check_add(kind, text)
            except (OperationError, NotAllowed) as exc:
                say("error", f"refused: {exc}", message=str(exc))
                continue
            adds.append((kind, text))
            continue
        flush_adds()
        if not _run_command(meeting, line, say):
            return False
    flush_adds()
    return True


def status(meeting: Meeting, say: Printer) -> None:
    meeting.node.flush()  # what status reports is on disk
    snap = meeting.session.snapshot
    peers = len(meeting.node.peers)
    say("status", f"{len(snap.items)} items, {peers} peers, phase "
        f"{snap.control.phase.index + 1} [{snap.control.phase.status}]",
        items=len(snap.items), peers=peers, digest=digest(meeting.session),
        phase=snap.control.phase.index, participants=len(snap.participants),
        ignored=snap.control.ignored)


def _events(say: Printer, watch: bool, current: Callable[[], Session | None]
            ) -> Callable[[NodeEvent], None]:
    last_problem: dict[str, str] = {}

    def name_of(participant: str) -> str:
        session = current()
        return _plain(session.snapshot.name_of(participant)) if session else participant[:8]

    def on_event(event: NodeEvent) -> None:
        match event:
            case DocumentChanged() if watch and (session := current()) is not None:
                count = session.item_count()
                say("changed", f"{count} items", items=count, t=time.time())
            case AuthFailure(address=address, failures=failures, incoming=True):
                say("auth-failure", f"wrong join code from {address} ({failures} recent "
                    "failures)", address=address, failures=failures)
            case PeersChanged():
                pass
            case HandshakeFailed(address=address, reason=reason):
                say("handshake-failed", f"{address} failed the handshake: {_plain(reason)}",
                    address=address, reason=reason)
            case LinkProblem(address=address, reason=reason):
                if last_problem.get(address) != reason:  # a retry loop repeats itself
                    last_problem[address] = reason
                    say("link-problem", f"{address}: {_plain(reason)}", address=address,
                        reason=reason)
            case Misbehaviour(culprit=culprit, reason=reason, sender=sender,
                              reported_by=reported_by):
                by = f" (seen by {name_of(reported_by)})" if reported_by else ""
                say("refused", f"refused from {name_of(culprit)}{by}: {_plain(reason)}",
                    culprit=culprit, reason=reason, sender=sender, reported_by=reported_by)
            case CodeChanged(code=code, reason=reason):
                say("code", f"new join code: {code}"
                    + (" (after repeated wrong codes)" if reason == "guessing" else ""),
                    code=code, reason=reason)
            case SaveFailed(message=message):
                say("save-failed", f"cannot save: {message}", message=message)
            case Saved():
                say("saved", "saved again")
    return on_event


async def _serve(meeting: Meeting, say: Printer, script: bool, watch: bool,
                 stop: asyncio.Event) -> None:
    """Run until ``stop`` (Ctrl+C, SIGTERM, a closed console), or until the script says
    quit or ends.

    With ``watch``, each batch of script lines is followed by an ``applied`` line
    with the items now held, as remote changes are by a ``changed`` line.
    """
    peers_seen: tuple[str, ...] | None = None
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    if script:
        threading.Thread(target=_read_script, args=(queue, asyncio.get_running_loop()),
                         daemon=True).start()
    while not stop.is_set():
        peers = tuple(sorted(p.peer_id for p in meeting.node.peers))
        if peers != peers_seen:
            peers_seen = peers
            names = [_plain(meeting.session.snapshot.name_of(p)) for p in peers]
            say("peers", f"{len(peers)} peer(s) connected", count=len(peers), names=names)
            if meeting.advertiser is not None:  # people looking see everyone in, host too
                await meeting.advertiser.update(len(peers) + 1)
        if script:
            try:
                line = await asyncio.wait_for(queue.get(), 0.2)
            except TimeoutError:
                continue
            # Lines that arrived together are applied together: one save and one send
            # (a hundred adds take some 30 ms; past SCRIPT_BATCH the network is heard).
            lines = [line]
            while lines[-1] is not None and not queue.empty() and len(lines) < SCRIPT_BATCH:
                lines.append(queue.get_nowait())
            if not _run_commands(meeting, lines, say):
                return
            if watch:
                count = meeting.session.item_count()
                say("applied", f"{count} items", items=count, lines=len(lines),
                    t=time.time())
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
    say("continuing", f"continuing “{_plain(snap.group.name)}” after "
        f"“{_plain(snap.chain[-1].title)}”: {len(snap.carried_actions())} open action(s) "
        "carried over", group=snap.group.name, previous=snap.chain[-1].id,
        carried=len(snap.carried_actions()), chain=len(snap.chain))
    return session


def _session_to_host(*, title: str | None, file: str | None, protocol: str, name: str,
                     continue_from: str | None, group: str | None,
                     say: Printer) -> tuple[Session, Path]:
    """The session ``host`` opens, and its file: continued, opened, or new."""
    if continue_from:  # protocol "" keeps the previous session's
        session = _continue_session(continue_from, title=title, file=file, name=name,
                                    protocol=protocol or None, group=group, say=say)
        path = Path(file) if file else default_file(session.snapshot.info.title)
        sessionfile.save(path, session.doc)
    elif file and Path(file).exists():
        loaded = sessionfile.load(file)
        session = Session(loaded.doc, identity=identity.identity_for(loaded.session_id))
        path = Path(file)
    else:
        if not title:
            raise HeadlessError("give --title for a new session (or --file of an existing one)")
        session = Session.create(title=title, name=name,
                                 protocol=load_protocol(protocol or DEFAULT_PROTOCOL))
        path = Path(file) if file else default_file(title)
        sessionfile.save(path, session.doc)
    return session, path


async def run_host(*, title: str | None, file: str | None, protocol: str, code: str | None,
                   port: int, interface: str | None, name: str, label: str, advertise: bool,
                   json_mode: bool, script: bool, watch: bool = False,
                   continue_from: str | None = None, group: str | None = None) -> int:
    say = Printer(json_mode)
    session, path = _session_to_host(title=title, file=file, protocol=protocol, name=name,
                                     continue_from=continue_from, group=group, say=say)
    try:
        meeting = await host(session, path, code=code, port=port, label=label,
                             advertise=advertise, interface=interface,
                             on_event=_events(say, watch, lambda: session))
    except MeetingError as exc:
        raise HeadlessError(str(exc)) from None
    stop = asyncio.Event()
    handlers = install_stop_handlers(asyncio.get_running_loop(), stop.set)
    try:
        for warning in meeting.warnings:
            say("warning", f"note: {warning}", message=warning)
        node = meeting.node
        shown = meeting.addresses[0] if meeting.addresses else "127.0.0.1"
        title_shown = _plain(session.snapshot.info.title)
        say("ready", f"hosting “{title_shown}” on "
            + ", ".join(f"{a}:{node.port}" for a in meeting.addresses)
            + f"\njoin code: {node.code}\nsession words: {meeting.fingerprint}"
            + f"\njoin link: {meeting.join_link(shown)}\nfile: {path}",
            address=shown, addresses=meeting.addresses, port=node.port, code=node.code,
            tag=node.tag, link=meeting.join_link(shown), file=str(path),
            session=session.snapshot.info.id, fingerprint=meeting.fingerprint)
        await _serve(meeting, say, script, watch, stop)
    finally:
        await meeting.close()
        handlers.stopped()  # a closing console window waited for the last save
        handlers.remove()
    say("stopped", f"stopped; saved {path}", file=str(path))
    return 0


async def _find_by_tag(tag: str, interface: str | None, timeout: float) -> Target:
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
        return Target.found(found)


async def run_join(*, peer: str | None, tag: str | None, code: str | None, name: str,
                   file: str | None, until_synced: bool, timeout: float, port: int,
                   interface: str | None, json_mode: bool, script: bool,
                   watch: bool = False) -> int:
    say = Printer(json_mode)
    try:
        target = Target.parse(peer) if peer else None
    except MeetingError as exc:
        raise HeadlessError(str(exc)) from None
    if target is None:
        if not tag:
            raise HeadlessError("give --peer HOST:PORT, a join link, or --tag TAG")
        target = await _find_by_tag(tag, interface, timeout)
    elif tag and not target.tag:
        target = Target(target.hosts, target.port, tag, target.code)
    holder: list[Meeting] = []
    try:
        meeting = await join(target, name=name, code=code, file=Path(file) if file else None,
                             interface=interface, port=port, timeout=timeout,
                             on_event=_events(say, watch,
                                              lambda: holder[0].session if holder else None))
    except MeetingError as exc:
        message = str(exc)
        raise HeadlessError(f"wrong join code: {message}" if exc.kind == "wrong-code"
                            else message) from None
    holder.append(meeting)
    stop = asyncio.Event()
    handlers = install_stop_handlers(asyncio.get_running_loop(), stop.set)
    try:
        try:
            async with asyncio.timeout(timeout):
                await meeting.node.wait_synced()
        except TimeoutError:
            raise HeadlessError(f"the session at {target.hosts[0]}:{target.port} stopped "
                                "answering") from None
        snap = meeting.session.snapshot
        say("synced", f"joined “{_plain(snap.info.title)}”: {len(snap.items)} items "
            f"(session words: {meeting.fingerprint})", items=len(snap.items),
            digest=digest(meeting.session), title=snap.info.title, port=meeting.node.port,
            file=str(meeting.path) if meeting.path else None,
            fingerprint=meeting.fingerprint)
        if not until_synced:
            await _serve(meeting, say, script, watch, stop)
    finally:
        await meeting.close()
        handlers.stopped()
        handlers.remove()
    return 0
