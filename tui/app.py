"""The Cercle Textual app: owns the session room, its network node and the screens.

Screens never call the app: they post the messages of ``tui.messages``, and the
app, which owns the room, the network and the settings, handles them and
decides which screen comes next; what a screen needs from the app comes down
as constructor arguments. ``make_app`` builds the app, for the command line
and for every test.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from model import sessionfile
from model.protocols import Protocol
from model.session import Session
from model.snapshot import Snapshot
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
from tui import identity, keys
from tui.exports import write_exports
from tui.format import TITLE_WIDTH, line, paragraph
from tui.i18n import language, set_language, t
from tui.meeting import Meeting, MeetingError, Target, default_file
from tui.meeting import host as host_meeting
from tui.meeting import join as join_meeting
from tui.messages import (
    ExportRequested,
    HostFormRequested,
    HostRequested,
    JoinFormRequested,
    JoinRequested,
    LanguageToggled,
    LobbyClosed,
    LobbyRequested,
    PeersUpdated,
    ResumeRequested,
    ReviewRequested,
    SessionChanged,
)
from tui.room import Room
from tui.screens.base import translate_bindings
from tui.screens.dialogs import FunctionKeys, Help
from tui.screens.home import HomeScreen
from tui.screens.host import HostScreen
from tui.screens.join import JoinScreen
from tui.screens.live import LiveScreen
from tui.screens.lobby import LobbyScreen
from tui.screens.review import ReviewScreen
from tui.settings import Settings

if TYPE_CHECKING:
    from tui.demo import Demo

JOIN_TIMEOUT = 10.0
NOTICE_MAX = 1_000  # characters of a notification (an error may quote a whole item)


@dataclass(frozen=True)
class HostChoices:
    """What ``cercle host`` was told on its command line, for the app's host form."""

    title: str = ""
    protocol: str = ""  # a built-in key or a TOML file
    code: str = ""
    port: int = 0
    label: str = ""  # "" announces the label kept for the group, or "Cercle · <facilitator>"


class CercleApp(App[int]):
    """One laptop's Cercle: home, hosting, joining, the live session, review."""

    CSS_PATH = "cercle.tcss"
    TITLE = "Cercle"
    BINDINGS = [
        Binding("f1", "help", "key.help", show=True),
        Binding("ctrl+q", "quit", "key.quit", show=True, priority=True),
        # Textual adds the palette's key unless it is bound; bound here, it keeps its
        # translated description (the footer shows it on the right of every screen).
        Binding("ctrl+p", "command_palette", "key.palette", show=False, priority=True),
        Binding(keys.FKEYS_TWIN, "function_keys", "key.fkeys", show=True, priority=True),
    ]

    def __init__(
        self,
        *,
        settings: Settings,
        start: str = "home",
        room: Room | None = None,
        interfaces: list[str] | None = None,
        listen_host: str = "0.0.0.0",  # noqa: S104 - peers in the room must reach us
        advertise: bool = True,
        clock: Callable[[], float] = time.time,
        join_address: str = "",
        join_code: str = "",
        name: str = "",
        demo: Demo | None = None,
        continue_from: Path | None = None,
        hosting: HostChoices | None = None,
        join_timeout: float = JOIN_TIMEOUT,
    ) -> None:
        super().__init__()
        self.settings = settings
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
        self.join_timeout = join_timeout
        self._advertiser: Any = None
        self.meeting: Meeting | None = None  # the live session on the network, if any
        self._online = 0  # peers linked at the last count: tells a lost connection
        self._tasks: set[asyncio.Task[None]] = set()
        self._junk_told: dict[str, float] = {}
        self._refused_told: dict[str, float] = {}  # culprit -> when the host was last told
        self._stack = contextlib.AsyncExitStack()
        self.addresses: list[str] = []

    def _translate_bindings(self) -> None:
        merged = type(self)._merged_bindings
        if merged is not None:
            self._bindings = translate_bindings(merged.copy())

    # -- start and stop ------------------------------------------------------------
    async def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        match self.start_screen:
            case "host":
                self._show_host_form(self.continue_from, title=self.hosting.title,
                                     protocol=self.hosting.protocol)
            case "join":
                self._show_join_form(self.join_address, self.join_code, self.person)
            case "review" if self.room is not None:
                self.push_screen(ReviewScreen(self.room))
            case "live" if self.room is not None:
                await self._go_live(self.room, lobby=False)
            case "demo" if self.demo is not None:
                room = await self.demo.start(self._on_node_event)
                await self._go_live(room, lobby=False)
                self.notify(t("demo.welcome", timer=keys.name("f5"), next=keys.name("f7"),
                              help=keys.name("f1")), timeout=12)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Show a notification as plain text, whatever the caller asked: ours use no
        markup, and many quote a name, a title or an error from another laptop."""
        super().notify(paragraph(message, NOTICE_MAX), title=line(title), severity=severity,
                       timeout=timeout, markup=False)

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
            case Misbehaviour(culprit=culprit, reason=reason) if self._facilitating():
                # Refused before it touched the session: said once a minute per person.
                now = time.monotonic()
                if now - self._refused_told.get(culprit, -60.0) >= 60.0:
                    self._refused_told[culprit] = now
                    name = self.room.snapshot.name_of(culprit) if self.room else culprit[:8]
                    self.notify(t("net.refused_from", name=name, reason=reason[:120]),
                                severity="warning", timeout=15)
            case LinkProblem():
                pass  # reconnection is automatic; the roster shows who is offline
            case SaveFailed(message=message):
                offline = self.room is not None and self.room.node is None
                self.notify(t("save.failed_offline" if offline else "net.save_failed",
                              error=message), severity="error", timeout=15)
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

    # -- the forms --------------------------------------------------------------------
    @on(HostFormRequested)
    def _host_form_requested(self, message: HostFormRequested) -> None:
        self._show_host_form(message.continue_from)

    def _show_host_form(self, continue_from: Path | None, *, title: str = "",
                        protocol: str = "") -> None:
        self.push_screen(HostScreen(name=self.person or self.settings.name, title=title,
                                    continue_from=continue_from, protocol=protocol,
                                    label=self.hosting.label))

    @on(JoinFormRequested)
    def _join_form_requested(self, message: JoinFormRequested) -> None:
        self._show_join_form(message.address, message.code, message.name)

    def _show_join_form(self, address: str, code: str, name: str) -> None:
        self.push_screen(JoinScreen(address, code, name or self.person or self.settings.name,
                                    interfaces=self.interfaces))

    # -- hosting -----------------------------------------------------------------------
    @on(HostRequested)
    def _host_requested(self, message: HostRequested) -> None:
        self._remember_name(message.name)
        self._host(message.title, message.protocol, message.name, message.continue_from,
                   message.label)

    @work(exclusive=True, exit_on_error=False, group="network")
    async def _host(self, title: str, protocol: Protocol | None, name: str,
                    continue_from: Path | None, label: str) -> None:
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
        await self._open(session, path, label)

    @on(ResumeRequested)
    def _resume_requested(self, message: ResumeRequested) -> None:
        """Host a session from its file again (after a crash, or another day)."""
        self._resume(message.path)

    @work(exclusive=True, exit_on_error=False, group="network")
    async def _resume(self, path: Path) -> None:
        try:
            loaded = sessionfile.load(path)
        except sessionfile.SessionFileError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        session = Session(loaded.doc, identity=identity.identity_for(loaded.session_id))
        await self._open(session, path)

    async def _open(self, session: Session, path: Path, label: str = "") -> None:
        """Open ``session`` on the network (``tui.meeting.host``), announced as ``label``
        (else as the command line said, else as last time for its group, else
        ``tui.meeting.default_label``), and show the lobby.

        A session hosted before from this computer keeps its port and join code, so
        the laptops already in it find it again by themselves; what the command line
        asked for wins."""
        interface = self.interfaces[0] if self.interfaces else None
        try:
            meeting = await host_meeting(
                session, path, code=self.hosting.code or None, port=self.hosting.port,
                label=label or self.hosting.label, advertise=self.advertise, interface=interface,
                listen_host=self.listen_host, on_event=self._on_node_event)
        except MeetingError as exc:
            message = {"listen": t("host.cannot_listen"),
                       "not-yours": t("host.not_yours"),
                       "weak-code": t("host.weak_code")}.get(exc.kind, str(exc))
            self.notify(message, severity="error", timeout=15)
            return
        self._stack.push_async_callback(meeting.close)
        for warning in meeting.warnings:
            self.notify(t("net.no_discovery", error=warning), severity="warning")
        self.meeting = meeting
        self.addresses = meeting.addresses
        self._advertiser = meeting.advertiser
        await self._go_live(Room(session, node=meeting.node, path=path, clock=self.clock),
                            lobby=True)

    async def _go_live(self, room: Room, *, lobby: bool) -> None:
        self.room = room
        if room.on_event is None:  # an offline room tells of its saves as a node does
            room.on_event = self._on_node_event
        self._online = len(room.node.peers) if room.node else 0
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        if lobby:
            await self.push_screen(LobbyScreen(room, addresses=self.addresses))
        else:
            await self.push_screen(LiveScreen(room))

    # -- the lobby ----------------------------------------------------------------------
    @on(LobbyRequested)
    def _lobby_requested(self) -> None:
        if self.room is not None:
            self.push_screen(LobbyScreen(self.room, return_to_live=False,
                                         addresses=self.addresses))

    @on(LobbyClosed)
    def _lobby_closed(self, message: LobbyClosed) -> None:
        if message.begin and self.room is not None:
            self.switch_screen(LiveScreen(self.room))
        else:
            self.pop_screen()

    # -- joining -----------------------------------------------------------------------
    @on(JoinRequested)
    def _join_requested(self, message: JoinRequested) -> None:
        self._remember_name(message.name)
        self._join(message.address, message.code, message.name)

    @work(exclusive=True, exit_on_error=False, group="network")
    async def _join(self, address: str, code: str, name: str) -> None:
        screen = self.screen if isinstance(self.screen, JoinScreen) else None

        def say(text: str, error: bool = True) -> None:
            if screen is not None:
                screen.status(text, error)
            else:
                self.notify(text, severity="error" if error else "information")

        try:
            target = Target.parse(address)
        except MeetingError as exc:
            say(str(exc))
            return
        if screen is not None and screen.chosen is not None \
                and screen.chosen.tag == target.tag:
            target = Target.found(screen.chosen, target.code)  # every address it announced
        interface = self.interfaces[0] if self.interfaces else None
        try:
            meeting = await join_meeting(target, name=name, code=code or None,
                                         interface=interface, listen_host=self.listen_host,
                                         timeout=self.join_timeout,
                                         on_event=self._on_node_event)
        except MeetingError as exc:
            where = f"{target.hosts[0]}:{target.port}"
            say({"code": t("join.bad_code"),
                 "wrong-code": t("join.wrong_code"),
                 "refused": t("join.refused", reason=str(exc).removeprefix("refused: ")),
                 "unreachable": t("join.unreachable", address=where)}.get(exc.kind,
                                                                         str(exc)))
            return
        self._stack.push_async_callback(meeting.close)
        self.meeting = meeting
        await self._go_live(Room(meeting.session, node=meeting.node, path=meeting.path,
                                 clock=self.clock), lobby=False)

    # -- reviewing and exporting ---------------------------------------------------------
    @on(ReviewRequested)
    def _review_requested(self, message: ReviewRequested) -> None:
        try:
            loaded = sessionfile.load(message.path)
        except sessionfile.SessionFileError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        room = Room(Session(loaded.doc), path=message.path, read_only=True)
        self.push_screen(ReviewScreen(room))

    @on(ExportRequested)
    def _export_requested(self, message: ExportRequested) -> None:
        # The snapshot is immutable: the thread reads it while the session goes on.
        self._export(message.room.snapshot, message.room.path, language())

    @work(thread=True, exit_on_error=False, group="export")
    def _export(self, snap: Snapshot, path: Path | None, lang: str) -> None:
        """Write the exports into the exports folder (the person's documents), off the
        event loop, then say where they are, by their full path (or why not)."""
        try:
            written = write_exports(snap, path, lang)
        except Exception as exc:  # a full disk, no permission, a bug: said, never fatal
            self.notify(t("export.failed", error=str(exc)), severity="error", timeout=15)
            return
        if written:  # the whole path: people look for the files afterwards
            self.notify(t("export.done", folder=str(written[0].parent),
                          files=", ".join(p.name for p in written)), timeout=15)

    # -- settings, help, palette -----------------------------------------------------------
    def _remember_name(self, name: str) -> None:
        if name and name != self.settings.name:
            self.settings.name = name
            with contextlib.suppress(sessionfile.SessionFileError):
                self.settings.save()

    @on(LanguageToggled)
    def _language_toggled(self) -> None:
        self.settings.lang = set_language("fr" if language() == "en" else "en")
        self._translate_bindings()
        with contextlib.suppress(sessionfile.SessionFileError):
            self.settings.save()
        if isinstance(self.screen, HomeScreen):
            self.switch_screen(HomeScreen())

    # Every screen's own keys from Textual (Tab, Shift+Tab, copy): not Cercle's to explain.
    _TEXTUAL_ACTIONS = frozenset(b.action for b in Screen.BINDINGS if isinstance(b, Binding))

    def _screen_bindings(self, screen: Screen[Any]) -> Iterable[tuple[str, str, str]]:
        for key, binding in screen._bindings:
            if binding.description and binding.action not in self._TEXTUAL_ACTIONS \
                    and screen.check_action(binding.action, ()) is not False:
                yield key, binding.description, binding.action

    def get_key_display(self, binding: Binding) -> str:
        """F-keys as their keycaps say ("F5"; "fn+F5" on a Mac), other keys as Textual
        shows them ("^e")."""
        return keys.name(binding.key) or super().get_key_display(binding)

    def action_help(self) -> None:
        rows = [(keys.help_name(key), description)
                for key, description, _ in self._screen_bindings(self.screen)]
        rows += [(keys.help_name("f1"), t("key.help")),
                 (keys.help_name(keys.FKEYS_TWIN), t("help.fkeys")),
                 (keys.help_name("ctrl+p"), t("help.palette")),
                 (keys.help_name("ctrl+q"), t("key.quit"))]
        intro = ""
        if isinstance(self.screen, LiveScreen) and self.screen.snap.current_phase is not None:
            phase = self.screen.snap.current_phase
            intro = (f"{line(phase.title.get(language()), TITLE_WIDTH)}\n"
                     f"{phase.instruction.get(language())}")
        self.push_screen(Help(rows, intro))

    def _function_keys(self, screen: Screen[Any]) -> list[tuple[str, str]]:
        """The F-keys ``screen`` offers now, with what they do, F1 (help) included."""
        found = {key: description for key, description, _ in self._screen_bindings(screen)
                 if keys.fkey_number(key) is not None}
        found.setdefault("f1", t("key.help"))
        return sorted(found.items(), key=lambda row: keys.fkey_number(row[0]) or 0)

    def action_function_keys(self) -> None:
        """Ctrl+F: the twin of every F-key. The next number typed presses that F-key
        (0 for F10); the list shows which ones the screen offers."""
        if isinstance(self.screen, FunctionKeys):  # Ctrl+F again: never mind
            self.screen.dismiss(None)
            return

        def press(key: str | None) -> None:
            if key:
                self.simulate_key(key)

        self.push_screen(FunctionKeys(self._function_keys(self.screen)), press)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, description, action in self._screen_bindings(screen):
            yield SystemCommand(f"{description} ({keys.help_name(key)})",
                                t("help.run_action"),
                                lambda a=action, s=screen: s.run_action(a))


def make_app(
    start: str = "home",
    *,
    lang: str | None = None,
    settings: Settings | None = None,
    room: Room | None = None,
    interfaces: list[str] | None = None,
    listen_host: str = "0.0.0.0",  # noqa: S104 - peers in the room must reach us
    advertise: bool = True,
    clock: Callable[[], float] = time.time,
    name: str = "",
    join_address: str = "",
    join_code: str = "",
    continue_from: Path | None = None,
    hosting: HostChoices | None = None,
    demo: Demo | None = None,
    join_timeout: float = JOIN_TIMEOUT,
) -> CercleApp:
    """The app as ``cercle`` runs it, and as every test builds it.

    ``start`` is the first screen over home: ``home``, ``host`` (the form, filled
    from ``hosting``, ``name`` and ``continue_from``), ``join`` (filled from
    ``join_address``, ``join_code`` and ``name``), ``review`` or ``live`` (of
    ``room``), or ``demo``. The settings are read from the config folder unless
    given; the language is ``lang``, else the settings', else the locale's.
    ``interfaces`` limits listening, advertising and browsing to those addresses.
    """
    settings = settings if settings is not None else Settings.load()
    set_language(lang or settings.lang or None)
    return CercleApp(settings=settings, start=start, room=room, interfaces=interfaces,
                     listen_host=listen_host, advertise=advertise, clock=clock, name=name,
                     join_address=join_address, join_code=join_code, demo=demo,
                     continue_from=continue_from, hosting=hosting, join_timeout=join_timeout)
