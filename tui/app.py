"""The Cercle Textual app: owns the session room, its network node and the screens."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from model import sessionfile
from model.protocols import Protocol
from model.session import LegacySession, Session
from sync.codes import InvalidCode, generate_code
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
from sync.node import SessionNode
from tui import identity
from tui.headless import HeadlessError, default_file, parse_peer, session_tag
from tui.i18n import language, set_language, t
from tui.messages import PeersUpdated, SessionChanged
from tui.room import Room
from tui.settings import Settings

JOIN_TIMEOUT = 10.0


@dataclass(frozen=True)
class HostChoices:
    """What ``cercle host`` was told on its command line, for the app's host form."""

    title: str = ""
    protocol: str = ""  # a built-in key or a TOML file
    code: str = ""
    port: int = 0
    label: str = "Cercle"


class CercleApp(App[int]):
    """One laptop's Cercle: home, hosting, joining, the live session, review."""

    CSS_PATH = "cercle.tcss"
    TITLE = "Cercle"
    BINDINGS = [
        Binding("f1", "help", "key.help", show=True),
        Binding("ctrl+q", "quit", "key.quit", show=True, priority=True),
    ]

    def __init__(
        self,
        *,
        start: str = "home",
        room: Room | None = None,
        lang: str | None = None,
        interfaces: list[str] | None = None,
        listen_host: str = "0.0.0.0",  # noqa: S104 - peers in the room must reach us
        advertise: bool = True,
        clock: Callable[[], float] = time.time,
        join_address: str = "",
        join_code: str = "",
        name: str = "",
        demo: Any = None,
        continue_from: Path | None = None,
        hosting: HostChoices | None = None,
    ) -> None:
        self.settings = Settings.load()
        set_language(lang or self.settings.lang or None)
        super().__init__()
        self._translate_bindings()
        self.start_screen = start
        self.room = room
        self.interfaces = interfaces
        self.listen_host = listen_host if not interfaces else interfaces[0]
        self.advertise = advertise
        self.clock = clock
        self.join_address = join_address
        self.join_code = join_code
        self.person = name
        self.demo = demo
        self.continue_from = continue_from
        self.hosting = hosting or HostChoices()
        self.join_timeout = JOIN_TIMEOUT
        self._advertiser: Any = None
        self._online = 0  # peers linked at the last count: tells a lost connection
        self._tasks: set[asyncio.Task[None]] = set()
        self._junk_told: dict[str, float] = {}
        self._stack = contextlib.AsyncExitStack()
        self.addresses: list[str] = []

    def _translate_bindings(self) -> None:
        from tui.screens.base import translate_bindings

        merged = type(self)._merged_bindings
        if merged is not None:
            self._bindings = translate_bindings(merged.copy())

    # -- start and stop ------------------------------------------------------------
    async def on_mount(self) -> None:
        from tui.screens.home import HomeScreen

        self.push_screen(HomeScreen())
        match self.start_screen:
            case "host":
                from tui.screens.host import HostScreen

                self.push_screen(HostScreen(name=self.person, continue_from=self.continue_from,
                                            title=self.hosting.title,
                                            protocol=self.hosting.protocol))
            case "join":
                from tui.screens.join import JoinScreen

                self.push_screen(JoinScreen(self.join_address, self.join_code, self.person))
            case "review" if self.room is not None:
                from tui.screens.review import ReviewScreen

                self.push_screen(ReviewScreen(self.room))
            case "live" if self.room is not None:
                await self._go_live(self.room, lobby=False)
            case "demo" if self.demo is not None:
                room = await self.demo.start(self._on_node_event)
                await self._go_live(room, lobby=False)
                self.notify(t("demo.welcome"), timeout=12)

    async def on_unmount(self) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop the demo, the node and the advertisement (saving the file)."""
        if self.demo is not None:
            await self.demo.stop()
        await self._stack.aclose()

    # -- network events → messages ------------------------------------------------------
    def _on_node_event(self, event: NodeEvent) -> None:
        match event:
            case DocumentChanged():
                self._to_screens(SessionChanged)
            case PeersChanged():
                self._to_screens(PeersUpdated)
                self._peers_changed()
            case AuthFailure(address=address, failures=failures, incoming=True):
                self.notify(t("net.wrong_code_from", address=address, count=failures),
                            severity="warning")
            case HandshakeFailed(address=address) if self._facilitating():
                # Junk or a stalled connection: said once a minute per address, not per attempt.
                now = time.monotonic()
                if now - self._junk_told.get(address, -60.0) >= 60.0:
                    self._junk_told[address] = now
                    self.notify(t("net.junk_from", address=address), severity="warning")
            case LinkProblem():
                pass  # reconnection is automatic; the roster shows who is offline
            case SaveFailed(message=message):
                self.notify(t("net.save_failed", error=message), severity="error",
                            timeout=15)
            case Saved():
                self.notify(t("net.saved_again"))
            case CodeChanged(code=code):
                self.notify(t("net.code_changed", code=code))

    def _facilitating(self) -> bool:
        return self.room is not None and "facilitator" in self.room.my_roles

    def _peers_changed(self) -> None:
        node = self.room.node if self.room else None
        if node is None:
            return
        online = len(node.peers)
        if online == 0 and self._online > 0 and not node.is_host:
            self.notify(t("net.lost"), severity="warning", timeout=8)
        elif online > 0 and self._online == 0 and self._lost_once:
            self.notify(t("net.back"))
        self._lost_once = self._lost_once or (online == 0 and self._online > 0)
        self._online = online
        if self._advertiser is not None:  # the count people see before joining
            task = asyncio.get_running_loop().create_task(self._advertiser.update(online + 1))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    _lost_once = False

    def _to_screens(self, kind: type[SessionChanged] | type[PeersUpdated]) -> None:
        for screen in self.screen_stack:
            screen.post_message(kind())

    # -- hosting -----------------------------------------------------------------------
    def start_hosting(self, *, title: str, protocol: Protocol | None, name: str,
                      continue_from: Path | None = None) -> None:
        self._remember_name(name)
        self._host(title, protocol, name, continue_from)

    @work(exclusive=True, exit_on_error=False, group="network")
    async def _host(self, title: str, protocol: Protocol | None, name: str,
                    continue_from: Path | None) -> None:
        try:
            if continue_from is not None:
                # The group's next meeting: open actions, members and chain carried over.
                session = Session.continue_from(continue_from, name=name, title=title or None,
                                                protocol=protocol)
            else:
                assert protocol is not None  # noqa: S101 - the host form always gives one
                session = Session.create(title=title, protocol=protocol, name=name)
        except (sessionfile.SessionFileError, ValueError) as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        path = default_file(session.snapshot.info.title)
        try:
            sessionfile.save(path, session.doc)
        except sessionfile.SessionFileError as exc:
            self.notify(str(exc), severity="error")
            return
        await self._serve(session, path)

    def resume_hosting(self, path: Path) -> None:
        """Host a session from its file again (after a crash, or another day)."""
        self._resume(path)

    @work(exclusive=True, exit_on_error=False, group="network")
    async def _resume(self, path: Path) -> None:
        try:
            loaded = sessionfile.load(path)
        except sessionfile.SessionFileError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        session = Session(loaded.doc, identity=identity.identity_for(loaded.session_id))
        try:
            session.check_can_host(str(path))
        except LegacySession as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return
        if not session.is_facilitator:
            self.notify(t("host.not_facilitator"), severity="warning", timeout=10)
        await self._serve(session, path)

    async def _serve(self, session: Session, path: Path) -> None:
        """Open ``session`` on the network and show the lobby.

        A session hosted before from this computer keeps its port and join code,
        so the laptops already in it find it again by themselves.
        """
        session_id = session.snapshot.info.id
        identity.remember(session_id, session.identity, path)
        # What the command line asked for wins; then what this session had before.
        port, code = identity.hosting(session_id) or (0, generate_code())
        port, code = self.hosting.port or port, self.hosting.code or code
        node = None
        for attempt_port in dict.fromkeys((port, 0)):  # the old port may be taken
            node = SessionNode(session, code=code, name=session.snapshot.name_of(session.me),
                               is_host=True, tag=session_tag(session_id),
                               listen_host=self.listen_host, port=attempt_port,
                               save_path=path, on_event=self._on_node_event)
            try:
                await self._stack.enter_async_context(node)
                break
            except OSError:
                node = None
        if node is None:
            self.notify(t("host.cannot_listen"), severity="error", timeout=10)
            return
        identity.remember_hosting(session_id, node.port, node.code)
        room = Room(session, node=node, path=path, clock=self.clock)
        self.addresses = self.interfaces or self._local_addresses()
        if self.advertise:
            from sync.discovery import Advertiser

            try:
                self._advertiser = await self._stack.enter_async_context(Advertiser(
                    tag=node.tag or "", port=node.port, label=self.hosting.label,
                    addresses=self.addresses, interfaces=self.interfaces))
            except Exception as exc:  # no multicast here: joining by address still works
                self.notify(t("net.no_discovery", error=str(exc)), severity="warning")
        await self._go_live(room, lobby=True)

    def _local_addresses(self) -> list[str]:
        from sync.discovery import local_ipv4_addresses

        return local_ipv4_addresses() or ["127.0.0.1"]

    async def _go_live(self, room: Room, *, lobby: bool) -> None:
        from tui.screens.home import HomeScreen
        from tui.screens.live import LiveScreen
        from tui.screens.lobby import LobbyScreen

        self.room = room
        self._online = len(room.node.peers) if room.node else 0
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        if lobby:
            await self.push_screen(LobbyScreen(room, addresses=self.addresses))
        else:
            await self.push_screen(LiveScreen(room))

    # -- joining -----------------------------------------------------------------------
    def join_session(self, *, address: str, code: str, name: str) -> None:
        self._remember_name(name)
        self._join(address, code, name)

    @work(exclusive=True, exit_on_error=False, group="network")
    async def _join(self, address: str, code: str, name: str) -> None:
        from tui.screens.join import JoinScreen

        screen = self.screen if isinstance(self.screen, JoinScreen) else None

        def say(text: str, error: bool = True) -> None:
            if screen is not None:
                screen.status(text, error)
            else:
                self.notify(text, severity="error" if error else "information")

        try:
            target = parse_peer(address)
        except HeadlessError as exc:
            say(str(exc))
            return
        code = code or target.code or ""
        try:
            session = Session.empty()
            node = SessionNode(session, code=code, name=name, tag=target.tag,
                               listen_host=self.listen_host, on_event=self._on_node_event)
        except InvalidCode:
            say(t("join.bad_code"))
            return
        if not await self._fetch(node, target.host, target.port, say):
            return
        session_id = session.snapshot.info.id
        earlier = identity.earlier(session_id)
        if earlier is not None and earlier[0].me in {p.peer_id for p in node.peers}:
            earlier = None  # that actor is in the room right now: two of it would clash
        if earlier is None:
            path = default_file(session.snapshot.info.title)
        else:
            # This laptop was in this session (a crash, a quit): come back as the same
            # person, from the same file, instead of a second "Bob".
            known, path, doc = earlier
            received = session.doc
            await node.stop()
            session = Session(doc, identity=known)
            session.merge(received)
            node = SessionNode(session, code=node.code, name=name, tag=node.tag,
                               listen_host=self.listen_host, on_event=self._on_node_event)
            if not await self._fetch(node, target.host, target.port, say):
                return
        node.save_path = path
        identity.remember(session_id, session.identity, path)
        session.join(name)
        node.local_changed()
        await self._stack.enter_async_context(_Running(node))
        await self._go_live(Room(session, node=node, path=path, clock=self.clock),
                            lobby=False)

    async def _fetch(self, node: SessionNode, host: str, port: int,
                     say: Callable[[str], None]) -> bool:
        """Start ``node``, reach ``host:port`` and wait until in step; False (said, and the
        node stopped) on a wrong code or an unreachable peer."""
        await node.start()
        node.connect(host, port)
        ok = False
        try:
            async with asyncio.timeout(self.join_timeout):
                ok = await node.wait_synced()
        except TimeoutError:
            ok = False
        if not ok:
            refused = node.refused
            await node.stop()
            say(t("join.wrong_code") if refused else
                t("join.unreachable", address=f"{host}:{port}"))
        return ok

    # -- reviewing -----------------------------------------------------------------------
    def open_review(self, path: Path) -> None:
        from tui.screens.review import ReviewScreen

        try:
            loaded = sessionfile.load(path)
        except sessionfile.SessionFileError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        room = Room(Session(loaded.doc), path=path, read_only=True)
        self.push_screen(ReviewScreen(room))

    # -- settings, help, palette -----------------------------------------------------------
    def _remember_name(self, name: str) -> None:
        if name and name != self.settings.name:
            self.settings.name = name
            with contextlib.suppress(sessionfile.SessionFileError):
                self.settings.save()

    def toggle_language(self) -> None:
        from tui.screens.home import HomeScreen

        self.settings.lang = set_language("fr" if language() == "en" else "en")
        self._translate_bindings()
        with contextlib.suppress(sessionfile.SessionFileError):
            self.settings.save()
        if isinstance(self.screen, HomeScreen):
            self.switch_screen(HomeScreen())

    def _screen_bindings(self, screen: Screen[Any]) -> Iterable[tuple[str, str, str]]:
        for key, binding in screen._bindings:
            if binding.description and screen.check_action(binding.action, ()) is not False:
                yield key, binding.description, binding.action

    def action_help(self) -> None:
        from tui.screens.dialogs import Help
        from tui.screens.live import LiveScreen

        rows = [(self.get_key_display(Binding(key, "")), description)
                for key, description, _ in self._screen_bindings(self.screen)]
        rows += [("F1", t("key.help")), ("Ctrl+P", t("help.palette")),
                 ("Ctrl+Q", t("key.quit"))]
        intro = ""
        if isinstance(self.screen, LiveScreen) and self.screen.snap.current_phase is not None:
            phase = self.screen.snap.current_phase
            intro = f"{phase.title.get(language())}\n{phase.instruction.get(language())}"
        self.push_screen(Help(rows, intro))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, description, action in self._screen_bindings(screen):
            yield SystemCommand(f"{description} ({self.get_key_display(Binding(key, ''))})",
                                t("help.run_action"),
                                lambda a=action, s=screen: s.run_action(a))  # type: ignore[misc]


class _Running(contextlib.AbstractAsyncContextManager["_Running"]):
    """Stops an already started node when the app's stack closes."""

    def __init__(self, node: SessionNode) -> None:
        self.node = node

    async def __aexit__(self, *exc: object) -> None:
        await self.node.stop()
