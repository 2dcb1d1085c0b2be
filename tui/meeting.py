"""Hosting and joining a live session: the one way, for the app, the headless peers and the
demo. No Textual here.

``host()`` opens a session on the network from this laptop (it must be the laptop that
created it: only the creator admits newcomers), reusing the port and code it had before
so the laptops already in it find it again. ``join()`` reaches a session with its code the
first time, and with this laptop's key afterwards (a laptop back after a crash or a quit
is the same participant, in the same file, and never types the code again). Both return a
``Meeting``: the replica, its node, its file, where it listens, and its advertisement;
``close()`` stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from model import sessionfile
from model.continuation import group_of
from model.keys import Identity
from model.session import Session
from sync.codes import InvalidCode, WeakCode, chosen_code, generate_code
from sync.discovery import DEFAULT_LABEL, FoundSession, local_networks, order_for
from sync.events import CodeChanged, NodeEvent
from sync.fingerprint import fingerprint
from sync.handshake import Anchor, Credentials
from sync.node import SessionNode
from tui import identity
from tui.paths import sessions_dir

__all__ = ["Meeting", "MeetingError", "Target", "default_file", "digest", "host", "join"]

log = logging.getLogger("cercle.meeting")

JOIN_TIMEOUT: Final = 15.0
OnEvent = Callable[[NodeEvent], None]

# Keys this process is using right now: two replicas with one key would fight over their
# links, so a second join of the same session from this process comes as someone new.
_in_use: set[bytes] = set()


class MeetingError(Exception):
    """Hosting or joining failed; str(error) says why, for the person, and ``kind`` what
    happened, for a caller that says it in the person's language: "wrong-code",
    "refused" (the laptop, for another reason), "unreachable", "code" (not a usable
    code), "file", "not-yours", "listen", "address" or "other"."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    """Where a session is: addresses to try in order, its port, and if known its tag (a
    link or a session seen on the network gives it) and code (a link gives it)."""

    hosts: tuple[str, ...]
    port: int
    tag: str | None = None
    code: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """``HOST:PORT`` or a join link ``cercle://HOST:PORT/TAG#CODE``."""
        text = text.strip()
        if text.startswith("cercle://"):
            parts = urlsplit(text)
            try:
                port = parts.port
            except ValueError:
                port = None
            if not parts.hostname or not port:
                raise MeetingError(f"not a join link: {text}", "address")
            return cls((parts.hostname,), port, parts.path.strip("/") or None,
                       parts.fragment or None)
        host, sep, port_text = text.rpartition(":")
        if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise MeetingError(f"expected HOST:PORT or a cercle:// link, got {text!r}",
                               "address")
        return cls((host.strip("[]") or "127.0.0.1",), int(port_text))

    @classmethod
    def found(cls, session: FoundSession, code: str | None = None) -> Target:
        """A session seen on the network: its addresses, those on our own network first."""
        hosts = order_for(session.addresses or (session.host,), local_networks())
        return cls(tuple(hosts), session.port, session.tag, code)


@dataclass
class Meeting:
    """A live session on this laptop (see the module's docstring)."""

    session: Session
    node: SessionNode
    path: Path | None
    addresses: list[str] = field(default_factory=list)  # where we listen, best first
    advertiser: Any = None
    label: str = ""  # what the session is announced as (public)
    warnings: list[str] = field(default_factory=list)  # for the person (no discovery...)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.node.tag or "")

    def join_link(self, host: str | None = None) -> str:
        return self.node.join_link(host or (self.addresses[0] if self.addresses else
                                            "127.0.0.1"))

    async def close(self) -> None:
        """Stop advertising, save, say bye and stop the node."""
        try:
            await self._stack.aclose()
        finally:
            _in_use.discard(self.node.identity.actor)


def default_file(title: str) -> Path:
    """A new file in the sessions folder, named after ``title`` (never an existing one)."""
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:40]
    slug = slug or "session"
    path = sessions_dir() / f"{slug}.cercle"
    counter = 2
    while path.exists():
        path = sessions_dir() / f"{slug}-{counter}.cercle"
        counter += 1
    return path


def digest(session: Session) -> str:
    """A short fingerprint of the items held (equal on replicas holding the same items)."""
    ids = sorted(f"{i.id}:{i.text}" for i in session.snapshot.items)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _heads_keeper(session_id: str) -> Callable[[bytes], None]:
    def keep(blob: bytes) -> None:
        identity.keep_heads(session_id, blob)
    return keep


def _code_keeper(session_id: str, meeting: Callable[[], Meeting | None],
                 on_event: OnEvent | None) -> OnEvent:
    """``on_event``, keeping each new join code (changed by hand, or by itself after
    repeated wrong guesses) with the port, so a host restarted after a crash comes back
    with the code the room was last given."""
    def handle(event: NodeEvent) -> None:
        current = meeting()
        if isinstance(event, CodeChanged) and current is not None:
            identity.remember_hosting(session_id, current.node.port, event.code)
        if on_event is not None:
            on_event(event)
    return handle


# -- hosting -------------------------------------------------------------------------------
def _host_code(code: str | None, kept: str) -> str:
    """The code to host with: the one asked for (refused if weak), else the one kept from
    the last time (unless an older Cercle kept a weak one), else a random one."""
    if code:
        try:
            return chosen_code(code)
        except WeakCode as exc:
            raise MeetingError(str(exc), "weak-code") from None
        except InvalidCode as exc:
            raise MeetingError(str(exc), "code") from None
    if kept:
        with contextlib.suppress(InvalidCode):
            return chosen_code(kept)
    return generate_code()


async def host(
    session: Session,
    path: Path | None,
    *,
    code: str | None = None,
    port: int = 0,
    label: str = "",
    advertise: bool = True,
    interface: str | None = None,
    listen_host: str | None = None,
    remember: bool = True,
    on_event: OnEvent | None = None,
    **node_options: Any,
) -> Meeting:
    """Open ``session`` (kept in ``path``) on the network from this laptop, its creator's.

    The port and code it was hosted with before are reused unless given, so laptops
    already in it find it again (``remember`` False: nothing is kept, as in the demo).
    Raises MeetingError: not this laptop's session, a weak code, no port to listen on."""
    info = session.snapshot.info
    try:
        session.check_can_host(str(path))
    except ValueError as exc:
        raise MeetingError(str(exc), "file") from None
    if info.creator != session.me:
        raise MeetingError("this session was opened on another computer: only that one can "
                           "host it (join it instead)", "not-yours")
    anchor = Anchor.proven(info.creator_key, info.nonce)
    if remember:
        identity.remember(info.id, session.identity, path)
    old_port, old_code = (identity.hosting(info.id) if remember else None) or (0, "")
    code = _host_code(code, old_code)
    listen = listen_host or interface or "0.0.0.0"  # noqa: S104 - the room must reach us
    meeting: Meeting | None = None
    if remember:
        on_event = _code_keeper(info.id, lambda: meeting, on_event)
    for attempt in dict.fromkeys((port or old_port, 0)):  # the old port may be taken
        try:
            node = SessionNode(identity=session.identity, session=session, anchor=anchor,
                               code=code, listen_host=listen, port=attempt, save_path=path,
                               heads=identity.heads(info.id) if remember else b"",
                               on_saved=_heads_keeper(info.id) if remember else None,
                               on_event=on_event, **node_options)
        except InvalidCode as exc:
            raise MeetingError(str(exc), "code") from None
        meeting = Meeting(session, node, path)
        try:
            await meeting._stack.enter_async_context(node)
            break
        except OSError as exc:
            log.info("cannot listen on port %s: %s", attempt, exc)
            meeting = None
    if meeting is None:
        raise MeetingError("cannot listen for the others on this computer (no free port?)",
                           "listen")
    group = group_of(session.snapshot).id
    label = label or (identity.kept_label(group) if remember else "") or default_label(session)
    meeting.label = label
    if remember:
        identity.remember_hosting(info.id, meeting.node.port, meeting.node.code)
        identity.remember_label(group, label)
    meeting.addresses = [interface] if interface else _addresses()
    if advertise:
        from sync.discovery import Advertiser

        try:
            meeting.advertiser = await meeting._stack.enter_async_context(Advertiser(
                tag=anchor.tag, port=meeting.node.port, people=1,  # the host is in
                label=label, addresses=meeting.addresses,
                interfaces=[interface] if interface else None))
        except Exception as exc:  # no multicast here: joining by link still works
            meeting.warnings.append(f"the session is not announced on the network ({exc}); "
                                    "give people the join link")
    _in_use.add(session.identity.actor)
    return meeting


def default_label(session: Session) -> str:
    """What a session is announced as when the facilitator gave no label and none is kept
    for its group: "Cercle · " and the facilitator's name, so two groups in one building
    are told apart. Never the group's name: it defaults to the first session's title, which
    may say something about a case, and a label is public."""
    snap = session.snapshot
    return f"{DEFAULT_LABEL} · {snap.name_of(snap.control.roles.facilitator)}"


def _addresses() -> list[str]:
    from sync.discovery import local_ipv4_addresses

    return local_ipv4_addresses() or ["127.0.0.1"]


# -- joining -------------------------------------------------------------------------------
async def join(
    target: Target,
    *,
    name: str,
    code: str | None = None,
    file: Path | None = None,
    interface: str | None = None,
    listen_host: str | None = None,
    port: int = 0,
    timeout: float = JOIN_TIMEOUT,
    remember: bool = True,
    keep_file: bool = True,
    on_event: OnEvent | None = None,
    **node_options: Any,
) -> Meeting:
    """Join the session at ``target`` as ``name``.

    A laptop that was admitted to this session before comes back with its key (no code
    asked) and its file; otherwise the code (``code``, or the link's) admits it. With
    ``remember`` False nothing is kept for next time, with ``keep_file`` False no file is
    written (the demo's simulated people). Raises MeetingError when the code is refused,
    the session cannot be reached within ``timeout`` seconds, or ``file`` holds another
    session."""
    code = code or target.code
    listen = listen_host or interface or "0.0.0.0"  # noqa: S104 - the room must reach us
    newcomer = Identity.generate()

    def known(tag: str) -> tuple[Anchor, Credentials] | None:
        member = identity.membership(tag) if remember else None
        if member is None or member.identity.actor in _in_use:
            return None  # never admitted, or that key is in use in this process right now
        return member.anchor, Credentials(member.identity, member.admission)

    def open_session(anchor: Anchor, me: Identity) -> Session | None:
        earlier = identity.earlier(anchor.session_id)
        if earlier is None or (file is not None and earlier[1] != file):
            return None
        return Session(earlier[2], identity=me)

    try:
        node = SessionNode(identity=newcomer, code=code or "", listen_host=listen, port=port,
                           on_event=on_event, known=known, open_session=open_session,
                           make_session=lambda doc: Session(doc, identity=node.identity),
                           **node_options)
    except InvalidCode as exc:
        raise MeetingError(str(exc), "code") from None
    meeting = Meeting(Session.empty(identity=newcomer), node, file)
    await meeting._stack.enter_async_context(node)
    try:
        node.join(list(target.hosts), target.port, tag=target.tag)
        await _wait_for_session(node, target, timeout)
        session = node.session
        assert session is not None and node.anchor is not None  # noqa: S101 - waited for
        info = session.snapshot.info
        earlier = identity.earlier(info.id)
        if file is None and earlier is not None and earlier[0].actor == node.identity.actor:
            file = earlier[1]  # back in the file it kept the session in
        problem = _other_session_in(file, info.id) if file is not None else None
        if problem:
            raise MeetingError(problem, "file")
    except BaseException:
        await meeting.close()
        raise
    meeting.session = session
    if keep_file:
        meeting.path = file or default_file(info.title)
        node.save_path = meeting.path
        node.on_saved = _heads_keeper(info.id) if remember else None
    if remember:
        identity.remember(info.id, node.identity, meeting.path)
        identity.remember_membership(node.anchor, node.identity, node.admission)
    me = next((p for p in session.snapshot.participants if p.id == session.me), None)
    if me is None or (name and me.plain_name != name):
        session.join(name, node.admission)
        node.local_changed()
    _in_use.add(node.identity.actor)
    return meeting


def _other_session_in(file: Path, session_id: str) -> str | None:
    """Why ``file`` cannot keep the session ``session_id`` (None when it can)."""
    if not file.exists():
        return None
    try:
        earlier = sessionfile.load(file)
    except sessionfile.SessionFileError as exc:
        return str(exc)
    if earlier.session_id != session_id:
        return f"{file} holds another session: give a new file"
    return None


def _refused(node: SessionNode) -> MeetingError:
    return MeetingError(f"refused: {node.refused}",
                        "wrong-code" if node.refused_code else "refused")


async def _wait_for_session(node: SessionNode, target: Target, timeout: float) -> None:
    where = f"{target.hosts[0]}:{target.port}"
    try:
        async with asyncio.timeout(timeout):
            if not await node.wait_synced():
                raise _refused(node)
    except TimeoutError:
        if node.refused is not None:
            raise _refused(node) from None
        raise MeetingError(f"cannot reach the session at {where} within {timeout:.0f} s "
                           "(is the address right? see Troubleshooting in the README: "
                           "firewall, Local Network permission)", "unreachable") from None
