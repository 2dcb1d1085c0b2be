"""Every string from another laptop is shown as plain text, on every screen.

A participant, a modified client or whoever wrote the protocol can put anything
in the document: Textual markup (``[/]`` crashed the facilitator's app),
terminal escapes, right-to-left overrides, zero-width and combining
characters, emoji, 10,000 characters. Hypothesis writes such strings into a
session (through ``Session``'s API, and through raw document writes for what
the API refuses), then Pilot walks every screen and dialog: nothing may raise,
each value must show literally (its markup-like marker is on screen), and no
control character may reach the terminal.

Each value starts with a marker that would vanish if it were read as markup
(``[b]T1[/b]`` would show ``T1``), followed by a space and the hostile part.
"""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automerge.core import ROOT, ObjType, ScalarType
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Select, Static

from model import sessionfile
from model.ops import OperationError
from model.protocols import LocalText, Protocol
from model.protocols import Phase as ProtocolPhase
from model.reading import child
from model.schema import K_ITEMS
from model.session import Session
from sync.discovery import FoundSession
from tests.replicas import FakeClock, replica_of, sync_pair
from tests.sync.mesh import until
from tests.tui.snapshot_apps.sessions import SecondsClock
from tests.tui.test_flows import host_session, loopback_app, open_join_form
from tui.app import CercleApp, HostChoices
from tui.format import line
from tui.messages import LobbyRequested, SessionChanged
from tui.paths import sessions_dir
from tui.room import Room
from tui.screens.cases import Cases
from tui.screens.dialogs import EditItem, Help, Roles
from tui.screens.evaluation import Evaluate
from tui.screens.floor import FloorDialog, PlanDialog
from tui.screens.follow_up import FollowUp
from tui.screens.home import HomeScreen
from tui.screens.host import HostScreen
from tui.screens.join import JoinScreen
from tui.screens.live import LiveScreen
from tui.screens.lobby import LobbyScreen
from tui.screens.next_meeting import NextMeetingDialog
from tui.screens.review import ReviewScreen
from tui.widgets.item_board import ItemBoard

SIZE = (200, 60)  # wide enough for every marker to fit where it is cut to one line
NOON = 1_768_478_400_000

MARKUP = ["[/]", "[bold", "[@click=app.quit]x[/]", "[link=file:///etc/passwd]x", "[/bold]",
          "\\[x]", "[]", "[[", "]]", "[b]", "$x ${y}", "{name}", "%s"]
NASTY = ["\x1b[2J\x1b]0;pwned\x07", "\x00\x08\x7f\x9b", "\u202eevil\u202c", "\u2066\u2067\u2069",
         "\u200b\u200c\u200d\ufeff", "e\u0301\u0327\u0308\u0336" * 4, "👩‍👩‍👧‍👦🇫🇷✋🏽",
         "\r\n\t\v\f", "\u2028\u2029", "ﷺ𒐫", "漢字かな", "     ", "\x85\u00ad"]
LONG = ["a" * 10_000, "[/]" * 3_400, "漢" * 10_000, "\u202e" * 10_000, "e\u0301" * 5_000,
        "x " * 5_000, "\x1b" * 10_000]

hostile = st.one_of(
    st.lists(st.one_of(st.sampled_from(MARKUP + NASTY), st.text(max_size=12)),
             max_size=4).map("".join),
    st.sampled_from(LONG))


MARKERS = {
    "title": "[b]T1[/b]", "earlier": "[i]T0[/i]", "anne": "[/]A", "bob": "[bold]B",
    "chloe": "[@click=app.quit]C[/]", "item": "[link=file:///etc/passwd]I", "action": "[red]X",
    "proposal": "[u]P[/u]", "phase": "[reverse]F", "instruction": "[blink]N", "note": "[dim]U",
    "place": "[on red]L", "feedback": "[italic]E", "kind": "[k]K", "status": "[s]S",
    "label": "[link=https://x]G",
}


class Strings:
    """What the session holds: one hostile value per place, each after its marker.

    Not a dataclass: Hypothesis would print all 10,000 characters of each value of a
    failing example; ``__repr__`` cuts them short."""

    title: str
    earlier: str  # the title of the group's previous session
    anne: str  # the facilitator
    bob: str  # the client
    chloe: str  # the speaker
    item: str
    action: str
    proposal: str
    phase: str  # a phase's title
    instruction: str
    note: str
    place: str
    feedback: str
    kind: str  # of an item no API accepts
    status: str  # of that item
    label: str  # a session heard on the network

    def __init__(self, **values: str) -> None:
        assert set(values) == set(MARKERS), set(values) ^ set(MARKERS)
        for place, value in values.items():
            setattr(self, place, value)

    def __repr__(self) -> str:
        return "Strings(" + ", ".join(f"{place}={_short(getattr(self, place))}"
                                      for place in MARKERS) + ")"


def _short(value: str) -> str:
    return repr(value) if len(value) <= 40 else f"{value[:30]!r}...({len(value)} chars)"




def marked(name: str) -> st.SearchStrategy[str]:
    return hostile.map(lambda value: f"{MARKERS[name]} {value}")


# Mapped, not built: a failure then prints through ``Strings.__repr__``, values cut short.
strings = st.fixed_dictionaries({place: marked(place) for place in MARKERS}).map(
    lambda values: Strings(**values))

# The worst of each kind at once: 10,000 characters, escapes, overrides, markup.
WORST = Strings(**{place: f"{MARKERS[place]} {(LONG + NASTY + MARKUP)[n]}"
                   for n, place in enumerate(MARKERS)})


def one_line(text: str, limit: int) -> str:
    """What the API accepts where it wants one short line (the marker stays first)."""
    return " ".join(text.split())[:limit]


def tolerant(action: Any, *args: Any, fallback: tuple[Any, ...] = ()) -> None:
    """Try ``action`` with hostile arguments; if the API refuses them, with ``fallback``."""
    try:
        action(*args)
    except (OperationError, ValueError):
        if fallback:
            action(*fallback)


def protocol(s: Strings) -> Protocol:
    """A protocol is copied into the document: its words are remote data too."""
    def local(text: str) -> LocalText:
        return LocalText(en=text, fr=text)

    return Protocol(
        key="hostile", name=local(s.phase), description=local(s.instruction),
        phases=(ProtocolPhase(key="one", title=local(s.phase),
                              instruction=local(s.instruction), minutes=20,
                              contributors=("everyone",),
                              kinds=("action", "note", "question", "proposal", "advice")),
                ProtocolPhase(key="two", title=local(s.phase + " 2"),
                              instruction=local(s.instruction), minutes=10,
                              contributors=("everyone",), kinds=("learning", "action"))))


def raw_item(session: Session, kind: str, text: str, status: str) -> None:
    """An item as a modified client writes it: a kind and a status no API accepts."""
    other = Session(session.doc.fork())
    items = child(other.doc, ROOT, K_ITEMS, ObjType.Map)
    assert items is not None
    with other.doc.transaction() as tx:
        item = tx.put_object(items, secrets.token_hex(8), ObjType.Map)
        tx.put(item, "kind", ScalarType.Str, kind)
        body = tx.put_object(item, "text", ObjType.Text)
        tx.splice_text(body, 0, 0, text)  # type: ignore[attr-defined]
        tx.put(item, "author", ScalarType.Str, other.actor.hex())
        tx.put(item, "phase", ScalarType.Int, 0)
        tx.put(item, "created", ScalarType.Int, NOON + 5_000)
        tx.put(item, "status", ScalarType.Str, status)
    session.merge(other.doc)


def force_title(session: Session, title: str) -> None:
    """The title as the creator's modified client writes it: past the API's 200 characters
    (its own session map: other laptops take it)."""
    section = child(session.doc, ROOT, "session", ObjType.Map)
    assert section is not None
    with session.doc.transaction() as tx:
        tx.put(section, "title", ScalarType.Str, title)
    session.refresh()


def force_name(session: Session, name: str) -> None:
    """A name as a modified client writes it in its own participant map: past the API's
    60 characters, with anything in it."""
    people = child(session.doc, ROOT, "participants", ObjType.Map)
    me = child(session.doc, people, session.me, ObjType.Map) if people is not None else None
    assert me is not None
    with session.doc.transaction() as tx:
        tx.put(me, "name", ScalarType.Str, name)
    session.refresh()


def hostile_item(session: Session, kind: str, text: str, **fields: Any) -> str:
    """An item whose text a modified client wrote past the API's 2,000 characters (in its
    own item: other laptops take it)."""
    item_id = session.add_item(kind, "placeholder", **fields)
    items = child(session.doc, ROOT, K_ITEMS, ObjType.Map)
    item = child(session.doc, items, item_id, ObjType.Map) if items is not None else None
    body = child(session.doc, item, "text", ObjType.Text) if item is not None else None
    assert body is not None
    with session.doc.transaction() as tx:
        tx.splice_text(body, 0, len("placeholder"), text)  # type: ignore[attr-defined]
    session.refresh()
    return item_id


def force_evaluation(session: Session, rating: int, feedback: str) -> None:
    """A rating and a feedback as a modified client writes them in its own participant
    map: at any phase, with anything in the feedback."""
    people = child(session.doc, ROOT, "participants", ObjType.Map)
    me = child(session.doc, people, session.me, ObjType.Map) if people is not None else None
    assert me is not None
    with session.doc.transaction() as tx:
        tx.put(me, "rating", ScalarType.Int, rating)
        tx.put(me, "feedback", ScalarType.Str, feedback)
    session.refresh()


def hostile_replica(original: Session, name: str, clock: FakeClock) -> Session:
    other = replica_of(original, "placeholder", clock)
    force_name(other, name)
    return other


@dataclass
class People:
    clock: FakeClock
    anne: Session
    bob: Session
    chloe: Session

    def sync(self) -> None:
        sync_pair(self.anne, self.bob)
        sync_pair(self.anne, self.chloe)
        sync_pair(self.anne, self.bob)


def meeting_of(s: Strings) -> People:
    """The group's second meeting: an action carried from the first (hostile titles and
    notes), hostile names, items, a proposal, the floor, an evaluation, a meeting."""
    clock = FakeClock(NOON)
    first = Session.create(title="earlier", protocol=protocol(s), name="anne", clock=clock)
    force_title(first, s.earlier)
    force_name(first, s.anne)
    bob = hostile_replica(first, s.bob, clock)
    sync_pair(first, bob)
    carried = hostile_item(bob, "action", s.action, owner=bob.me, due=s.note[:40])
    tolerant(bob.update_action, carried, "in_progress", one_line(s.note, 200),
             fallback=(carried, "in_progress", MARKERS["note"]))
    sync_pair(first, bob)
    first.end()

    clock.advance(28 * 24 * 3600)
    anne = Session.continue_from(first.doc, name="anne", title="title", clock=clock)
    force_title(anne, s.title)
    force_name(anne, s.anne)
    people = People(clock, anne, hostile_replica(anne, s.bob, clock),
                    hostile_replica(anne, s.chloe, clock))
    people.sync()
    anne.assign_role("client", people.bob.me)
    hostile_item(people.chloe, "note", s.item)
    hostile_item(people.chloe, "question", s.item)
    proposal = hostile_item(people.chloe, "proposal", s.proposal)
    hostile_item(people.bob, "action", s.action, owner=people.bob.me)
    people.sync()
    people.bob.vote(proposal)
    [again] = people.bob.snapshot.carried_actions()
    tolerant(people.bob.update_action, again.id, "done", one_line(s.note, 200),
             fallback=(again.id, "done", MARKERS["note"]))
    force_evaluation(people.bob, 5, s.feedback)
    people.sync()
    raw_item(anne, s.kind, s.item, s.status)
    force_evaluation(anne, 4, s.feedback)
    tolerant(anne.set_next_meeting, "2026-06-25", "18:30", one_line(s.place, 200), 120,
             fallback=("2026-06-25", "18:30", MARKERS["place"], 120))
    anne.start()
    anne.give_floor(people.chloe.me)
    people.sync()
    return people


# -- what the screen shows ----------------------------------------------------------------------
def screen_text(app: CercleApp) -> str:
    """Every character the current screen puts on the terminal, line by line."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_plain(app: CercleApp, *places: str, literally: tuple[str, ...] = ()) -> None:
    """Each place's marker (and each of ``literally``) shows as written, and no control
    character is drawn."""
    shown = screen_text(app)
    for expected in [MARKERS[place] for place in places] + list(literally):
        assert expected in shown, (type(app.screen).__name__, expected,
                                   " ".join(shown.split())[:600])
    controls = {c for c in shown if c != "\n" and unicodedata.category(c) in ("Cc", "Cs", "Cf")
                and c != "\u200d"}
    assert not controls, (type(app.screen).__name__, controls)


def assert_field(app: CercleApp, selector: str, place: str) -> None:
    """An edit field starts with the place's marker and holds one clean line."""
    value = app.screen.query_one(selector, Input).value
    assert value.startswith(MARKERS[place]), (selector, value[:80])
    assert not [c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Cs")
                and c != "\u200d"], (selector, value[:80])


async def visit(pilot: Pilot[Any], key: str, screen: type, *places: str) -> None:
    """Press ``key`` and check the dialog it opens shows ``places`` plainly."""
    await pilot.press(key)
    await until(lambda: isinstance(pilot.app.screen, screen), what=screen.__name__)
    await pilot.pause()
    assert_plain(pilot.app, *places)  # type: ignore[arg-type]


async def close(pilot: Pilot[Any]) -> None:
    await pilot.press("escape")
    await until(lambda: isinstance(pilot.app.screen, LiveScreen), what="back to the session")


def run(coroutine: Any) -> None:
    asyncio.run(coroutine)


# Few examples (each walks a dozen screens): the worst string, written by hand, and one
# drawn afresh each run; no shrinking: a failing string is short enough to read, and
# shrinking one would replay whole sessions for minutes.
SETTINGS = settings(max_examples=1, deadline=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


# -- the live session and each of its dialogs ---------------------------------------------------
async def live_session(s: Strings) -> None:
    people = meeting_of(s)
    room = Room(people.anne, clock=SecondsClock(people.clock))
    app = loopback_app(start="live", room=room, clock=room.clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, LiveScreen), what="the live screen")
        await until(lambda: bool(app.screen.query("#composer #text")), what="the composer")
        await pilot.pause()
        # Header (title, phase, client, speaker), instruction, roster, the first tab.
        assert_plain(app, "title", "phase", "instruction", "anne", "bob", "chloe", "action")
        await visit(pilot, "f1", Help, "phase", "instruction")
        await close(pilot)
        await visit(pilot, "f9", Roles)
        app.screen.query_one("#who", Select).focus()
        await pilot.press("enter")  # the list of people opens
        await pilot.pause()
        assert_plain(app, "anne", "bob", "chloe")
        await pilot.press("escape", "escape")
        await until(lambda: isinstance(app.screen, LiveScreen), what="back to the session")
        await visit(pilot, "ctrl+g", FloorDialog, "anne", "bob", "chloe")
        await close(pilot)
        await visit(pilot, "f2", PlanDialog, "phase")
        await pilot.press("right")  # participation
        await pilot.pause()
        assert_plain(app, "phase", "anne", "bob", "chloe")
        await close(pilot)
        await visit(pilot, "ctrl+b", Cases, "proposal", "chloe")
        await close(pilot)
        await visit(pilot, "ctrl+u", FollowUp, "action", "bob")
        options = app.screen.query_one("#actions", OptionList)
        for index in range(options.option_count):  # each action's story
            if not options.get_option_at_index(index).disabled:
                options.highlighted = index
                await pilot.pause()
                assert_plain(app, "action")
        await close(pilot)
        # Each tab of the board, the one of a kind no API accepts included.
        board = app.screen.query_one(ItemBoard)
        shown_in = {"note": ("item",), "question": ("item",), "action": ("action",),
                    s.kind: ("item", "kind")}  # the tab of that kind is named after it
        for kind in board.kinds:
            board.focus_kind(kind)
            await pilot.pause()
            assert_plain(app, *shown_in.get(kind, ()))
        board.focus_kind("action")
        await pilot.pause()
        await visit(pilot, "ctrl+o", EditItem)
        assert_field(app, "#text", "action")
        await close(pilot)
        room.act(people.anne.goto, 1)  # the last phase: evaluation and next meeting
        app.screen.post_message(SessionChanged())
        await pilot.pause()
        assert_plain(app, "phase")
        await visit(pilot, "ctrl+l", Evaluate)
        assert_field(app, "#feedback", "feedback")
        await close(pilot)
        await visit(pilot, "ctrl+y", NextMeetingDialog)
        assert_field(app, "#place", "place")
        await close(pilot)
        app.post_message(LobbyRequested())
        await until(lambda: isinstance(app.screen, LobbyScreen), what="the lobby")
        await pilot.pause()
        assert_plain(app, "title", "anne", "bob", "chloe")
        await close(pilot)
        room.act(people.anne.end)  # after the end: the meeting and the evaluation in words
        app.screen.post_message(SessionChanged())
        instruction = app.screen.query_one("#instruction", Static)
        await until(lambda: MARKERS["place"] in str(instruction.render()), what="the meeting")
        assert_plain(app)


@SETTINGS  # the longest walk: a dozen dialogs per example
@given(s=strings)
@example(s=WORST)
def test_the_live_session_and_its_dialogs_show_remote_text_plainly(s: Strings) -> None:
    run(live_session(s))


# -- review and exports ----------------------------------------------------------------------------
async def review(s: Strings, folder: Path) -> None:
    people = meeting_of(s)
    people.anne.end()
    path = folder / f"review-{secrets.token_hex(4)}.cercle"
    sessionfile.save(path, people.anne.doc)
    room = Room(people.anne, path=path, read_only=True)
    app = loopback_app(start="review", room=room)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        await pilot.pause()
        # The summary: retained advice, actions, the case, the evaluation, the meeting.
        assert_plain(app, "title", "phase", "action", "feedback", "place")
        pages = app.screen.query_one("#phases", OptionList)
        for index in range(1, pages.option_count):  # the timeline, the history, each phase
            pages.highlighted = index
            await pilot.pause()
            assert_plain(app, "phase")
        pages.highlighted = 2  # actions across meetings
        await pilot.pause()
        assert_plain(app, "action", "earlier", "note", "bob")
        await pilot.press("ctrl+e")
        await until(lambda: any("Export" in str(n.message) for n in app._notifications),
                    what="the export")
        assert [str(n.message) for n in app._notifications
                if str(n.message).startswith("Exported to")]
        assert_plain(app)


@SETTINGS
@given(s=strings)
@example(s=WORST)
def test_the_review_and_its_exports_show_remote_text_plainly(s: Strings,
                                                             tmp_path: Path) -> None:
    run(review(s, tmp_path))


# -- before a session: home, the host form, the join form ----------------------------------------
async def before(s: Strings) -> None:
    path = sessions_dir() / f"recent-{secrets.token_hex(4)}.cercle"
    sessionfile.save(path, meeting_of(s).anne.doc)
    app = loopback_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: MARKERS["title"] in screen_text(app), what="the recent session")
        assert_plain(app, "title")
        assert isinstance(app.screen, HomeScreen)
    # A file named by someone else, a name and a title from the command line.
    named = "".join(c for c in s.earlier if c not in "/\x00")[:200]
    app = loopback_app(start="host", name=s.anne, hosting=HostChoices(title=s.title,
                                                                     label=s.label),
                       continue_from=Path(named + ".cercle"))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        await pilot.pause()
        assert_plain(app, literally=(MARKERS["earlier"].replace("/", ""),))
        assert_field(app, "#title", "title")
        assert_field(app, "#name", "anne")
        assert_field(app, "#label", "label")  # `cercle host --label …`
    app = loopback_app(start="join", name=s.bob)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, JoinScreen), what="the join form")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, JoinScreen)
        screen._found({"x": FoundSession(name="x", tag=s.label, label=s.label, host=s.label,
                                         port=47000, people=3, version=3)})
        await pilot.pause()
        assert_plain(app, "label")
        found = screen.query_one("#sessions", OptionList)
        found.focus()
        found.highlighted = 0
        await pilot.press("enter")  # its address fills the form
        await pilot.pause()
        address = screen.query_one("#address", Input).value
        assert address.startswith("cercle://") and "\x1b" not in address
        # Joining a nonsense address (pasted from the label, as a person might): the
        # error quotes it, as plain text.
        screen.query_one("#address", Input).value = line(s.label, 500) + " x"
        screen.query_one("#join").focus()
        await pilot.press("enter")
        await until(lambda: screen.query_one("#status").has_class("error"), what="the error")
        assert_plain(app, "label")


@SETTINGS
@given(s=strings)
@example(s=WORST)
def test_home_and_the_forms_show_remote_text_plainly(s: Strings) -> None:
    run(before(s))


# -- the crash that started it -------------------------------------------------------------------
async def test_a_participant_named_markup_joins_the_lobby_without_a_crash() -> None:
    """Found in the trust review: a participant who joins as ``[/]`` crashed the
    facilitator's app (``MarkupError``: names went to ``Static.update`` as markup)."""
    anne, eve = loopback_app(), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, eve.run_test(size=(100, 30)) as pe:
        await host_session(pa)
        node = anne.room.node  # type: ignore[union-attr]
        assert node is not None and isinstance(anne.screen, LobbyScreen)
        await open_join_form(pe, f"127.0.0.1:{node.port}", node.code, "[/]")
        await pe.press("enter")
        await until(lambda: isinstance(eve.screen, LiveScreen), 15, "Eve in the session")
        await until(lambda: "[/]" in str(anne.screen.query_one("#joined").render()),
                    what="her name in the lobby")
        assert isinstance(anne.screen, LobbyScreen)
        assert "[/]" in screen_text(anne)
        await pa.press("enter")  # on to the session: her name in the roster
        await until(lambda: isinstance(anne.screen, LiveScreen), what="the session")
        await until(lambda: "[/]" in screen_text(anne), what="her name in the roster")
