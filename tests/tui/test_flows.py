"""What people do with the app, driven by Textual's Pilot; real sync over loopback."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Digits, Input, OptionList, Select, Static

from model import sessionfile
from model.protocols import builtin_protocols
from model.session import Session
from sync.node import SessionNode
from tests.conftest import open_to_all
from tests.sync.mesh import until
from tui.app import CercleApp, HostChoices, make_app
from tui.messages import JoinFormRequested, SessionChanged
from tui.paths import exports_dir, sessions_dir
from tui.room import Room
from tui.screens.dialogs import Confirm
from tui.screens.home import HomeScreen
from tui.screens.host import HostScreen
from tui.screens.join import JoinScreen
from tui.screens.live import LiveScreen
from tui.screens.lobby import LobbyScreen
from tui.screens.review import ReviewScreen
from tui.widgets.item_board import ItemBoard
from tui.widgets.phase_header import PhaseHeader

LOOP = ["127.0.0.1"]


def change_hash_of(data: bytes) -> bytes:
    from model.changes import decode_change

    return decode_change(data, max_size=1 << 20).hash


def loopback_app(**options: Any) -> CercleApp:
    """One laptop's app in English, on loopback only, never advertising; a join gives up
    after 3 s."""
    return make_app(lang="en", interfaces=LOOP, advertise=False, join_timeout=3.0, **options)


async def open_join_form(pilot: Any, address: str, code: str, name: str) -> None:
    """The join form, filled as a join link would fill it."""
    pilot.app.post_message(JoinFormRequested(address, code, name))
    await until(lambda: isinstance(pilot.app.screen, JoinScreen), what="the join form")
    await pilot.pause()


async def type_into(pilot, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    await pilot.pause()
    # Most of the text is set at once (each key press costs a repaint), the end is typed.
    widget.value = text[:-3]
    await pilot.press("end", *text[-3:])
    assert widget.value == text


def texts(app: CercleApp) -> set[str]:
    assert app.room is not None
    return {i.text for i in app.room.snapshot.items}


async def host_session(pilot, title: str = "Atelier", name: str = "Anne") -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f2")
    await type_into(pilot, "#title", title)
    await type_into(pilot, "#name", name)
    await pilot.press("enter")
    await until(lambda: isinstance(pilot.app.screen, LobbyScreen), what="the lobby")


async def bob_joins(pa, pb) -> SessionNode:  # type: ignore[no-untyped-def]
    """Anne hosts and enters her session; Bob joins it by address (the form prefilled)."""
    await host_session(pa)
    node = pa.app.room.node
    assert node is not None
    await pa.press("enter")
    await open_join_form(pb, f"127.0.0.1:{node.port}", node.code, "Bob")
    await pb.press("enter")
    await until(lambda: isinstance(pb.app.screen, LiveScreen), 15, "Bob in the session")
    await until(lambda: bool(pb.app.screen.query("#composer #text")), what="Bob's screen ready")
    return node


async def test_host_flow_shows_code_then_live_session() -> None:
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, HomeScreen)
        await host_session(pilot)
        assert app.room is not None and app.room.node is not None
        code = app.screen.query_one("#code", Digits).value
        assert code == app.room.node.code and len(code) == 9
        link = str(app.screen.query_one("#link", Static).render())
        assert f"cercle://127.0.0.1:{app.room.node.port}/" in link
        await pilot.press("enter")  # "Go to the session"
        await until(lambda: isinstance(app.screen, LiveScreen))
        header = str(app.screen.query_one(PhaseHeader).render())
        assert "Atelier" in header and "phase 1 of 6" in header
        await pilot.press("f5")  # start the timer
        assert app.room.snapshot.control.phase.status == "running"
        await type_into(pilot, "#composer #text", "Contexte : fusion en cours")
        await pilot.press("enter")
        assert texts(app) == {"Contexte : fusion en cours"}
        assert Path(app.room.path or "").exists()


async def test_two_laptops_share_items_and_phases() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await host_session(pa)
        node = anne.room.node  # type: ignore[union-attr]
        assert node is not None
        await pa.press("enter")
        await pb.press("f3")
        assert isinstance(bob.screen, JoinScreen)
        await type_into(pb, "#address", f"127.0.0.1:{node.port}")
        await type_into(pb, "#code", node.code)
        await type_into(pb, "#name", "Bob")
        await pb.press("enter")
        await until(lambda: isinstance(bob.screen, LiveScreen), 15, "Bob in the session")
        await until(lambda: len(anne.room.snapshot.participants) == 2, what="Bob at Anne's")
        # Bob is a consultant: the facilitator's keys are not his.
        assert bob.screen.check_action("next", ()) is False
        assert anne.screen.check_action("next", ()) is True
        await pa.press("f5", "f7")  # start, then clarifying questions
        # Bob has not said he is done: Anne is asked before moving on.
        assert isinstance(anne.screen, Confirm)
        assert "0 of 1 people are done" in str(anne.screen.query_one(".question").render())
        await pa.click("#yes")
        await until(lambda: bob.room.snapshot.control.phase.index == 1, what="phase 2 at Bob's")
        await pb.pause()
        assert "phase 2 of 6" in str(bob.screen.query_one(PhaseHeader).render())
        # Bob types a question; it appears on Anne's screen.
        await type_into(pb, "#composer #text", "Qui décide du budget ?")
        await pb.press("enter")
        await until(lambda: "Qui décide du budget ?" in texts(anne), what="the question")
        await pa.pause()
        table = anne.screen.query_one(ItemBoard).table("question")
        assert table.row_count == 1
        # Bob pressing the facilitator's key changes nothing anywhere: a question he adds
        # after it reaches Anne, and the phase has not moved on either laptop.
        await pb.press("f7")
        await type_into(pb, "#composer #text", "Et après ?")
        await pb.press("enter")
        await until(lambda: "Et après ?" in texts(anne), what="the question after F7")
        assert anne.room.snapshot.control.phase.index == 1
        assert bob.room.snapshot.control.phase.index == 1


async def test_typing_is_kept_while_remote_items_arrive() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await bob_joins(pa, pb)
        await type_into(pa, "#composer #text", "half a sen")
        for i in range(5):
            bob.room.act(bob.room.session.add_item, "note", f"remote {i}")  # type: ignore[union-attr]
        await until(lambda: len(texts(anne)) == 5, what="five remote notes")
        await pa.pause()
        entry = anne.screen.query_one("#composer #text", Input)
        assert entry.value == "half a sen" and entry.has_focus


async def test_wrong_code_then_right_code() -> None:
    host = loopback_app()
    async with host.run_test() as ph:
        await host_session(ph)
        node = host.room.node  # type: ignore[union-attr]
        guest = loopback_app(start="join", join_address=f"127.0.0.1:{node.port}",  # type: ignore[union-attr]
                         join_code="0000-0000", name="Eve")
        async with guest.run_test() as pg:
            await pg.press("enter")  # focus is on the code: Enter joins
            status = guest.screen.query_one("#status", Static)
            await until(lambda: "not right" in str(status.render()), 15, "the message")
            assert status.has_class("error")
            await type_into(pg, "#code", node.code)  # type: ignore[union-attr]
            await pg.press("enter")
            await until(lambda: isinstance(guest.screen, LiveScreen), 15, "the retry")


async def test_unreachable_host_says_so() -> None:
    app = loopback_app(start="join", join_address="127.0.0.1:1", join_code="1234-5678", name="Z")
    async with app.run_test() as pilot:
        await pilot.press("enter")
        status = app.screen.query_one("#status", Static)
        await until(lambda: "Cannot reach 127.0.0.1:1" in str(status.render()), 20, "message")


async def test_review_from_home_and_export(tmp_path: Path) -> None:
    session = Session.create(title="Séance passée", protocol=builtin_protocols()["codev"],
                             name="Anne")
    session.add_item("note", "contexte")
    session.start()
    session.advance()
    session.add_item("question", "Pourquoi ?")
    path = tmp_path / "past.cercle"
    sessionfile.save(path, session.doc)
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "#path", str(path))
        await pilot.press("enter")
        assert isinstance(app.screen, ReviewScreen)
        content = app.screen.query_one("#content", Static)
        assert "Contract" in str(content.render())
        await pilot.press("down", "down")  # to phase 1
        assert "contexte" in str(content.render())
        assert "Pourquoi" not in str(content.render())  # added after phase 1 closed
        await pilot.press("ctrl+e")
        for ext in ("md", "html", "json"):  # in the exports folder (CERCLE_HOME/exports)
            await until(lambda ext=ext: (exports_dir() / f"past.{ext}").exists(),  # type: ignore[misc]
                        what=f"past.{ext}")


class PanicException(BaseException):
    """What the Automerge binding raises when Rust panics (it cannot be imported)."""


async def test_review_survives_a_board_the_binding_cannot_rebuild(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``fork_at`` panicked (``MissingOps``) on about half the files where someone had
    evaluated the session: the phase page shows today's board and says so."""
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    session.add_item("note", "contexte")
    session.start()
    session.advance()

    class Panicking:
        def fork_at(self, heads: list[bytes]) -> None:
            raise PanicException("called `Result::unwrap()` on an `Err` value: MissingOps")

    import model.session
    from model import binding

    monkeypatch.setattr(model.session, "fork_at",
                        lambda doc, heads: binding.fork_at(Panicking(), heads))  # type: ignore[arg-type]
    app = loopback_app(start="review", room=Room(session, read_only=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        await pilot.press("down", "down")  # phase 1
        content = str(app.screen.query_one("#content", Static).render())
        assert "The board as it is now" in content and "contexte" in content


async def test_review_of_a_bad_file_explains(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cercle"
    bad.write_bytes(b"nope")
    app = loopback_app()
    async with app.run_test() as pilot:
        await type_into(pilot, "#path", str(bad))
        await pilot.press("enter")
        assert isinstance(app.screen, HomeScreen)
        assert any("not an Automerge document" in str(n.message)
                   for n in app._notifications)


async def test_help_and_palette_list_the_actions() -> None:
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    app = loopback_app(start="live", room=Room(session))
    async with app.run_test() as pilot:
        await pilot.press("f1")
        shown = str(app.screen.query_one("Static").render()) + "".join(
            str(w.render()) for w in app.screen.query(Static))
        for description in ("Start/pause", "Next phase", "More time", "Roles", "Export"):
            assert description in shown
        await pilot.press("escape")
        assert isinstance(app.screen, LiveScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any("Next phase" in title for title in titles)


async def test_listening_phase_disables_the_composer() -> None:
    session = Session.create(title="T", protocol=builtin_protocols()["case-clinic"],
                             name="Anne")
    session.start()
    session.advance()  # stillness: nobody writes
    app = loopback_app(start="live", room=Room(session))
    async with app.run_test() as pilot:
        await pilot.pause()
        entry = app.screen.query_one("#composer #text", Input)
        assert entry.disabled and "listening" in entry.placeholder


async def test_an_ended_session_says_so_in_the_composer() -> None:
    """Once the facilitator ends the session nothing more is added, and the text box says
    why (not that the phase is for listening)."""
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    session.start()
    for _ in range(5):
        session.advance()  # the learnings: everyone writes
    session.end()
    app = loopback_app(start="live", room=Room(session))
    async with app.run_test() as pilot:
        await pilot.pause()
        entry = app.screen.query_one("#composer #text", Input)
        assert entry.disabled and "ended" in entry.placeholder
        assert "listening" not in entry.placeholder


async def test_enter_on_the_recent_sessions_opens_the_latest() -> None:
    """Tab to the list of recent sessions, Enter: the latest opens for review (no arrow
    key needed first)."""
    older = Session.create(title="Older meeting", protocol=builtin_protocols()["codev"],
                           name="Anne")
    sessionfile.save(sessions_dir() / "older.cercle", older.doc)
    latest = Session.create(title="Latest meeting", protocol=builtin_protocols()["codev"],
                            name="Anne")
    path = sessions_dir() / "latest.cercle"
    sessionfile.save(path, latest.doc)
    os.utime(path, (time.time() + 60, time.time() + 60))
    app = loopback_app()
    async with app.run_test() as pilot:
        recent = app.screen.query_one("#recent", OptionList)
        await until(lambda: recent.option_count == 2, what="the recent sessions")
        recent.focus()
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.room.snapshot.info.title == "Latest meeting"


async def test_the_next_meeting_starts_from_a_recent_session_or_its_review() -> None:
    """Nothing typed in the path field: "Next meeting" continues the recent session
    highlighted; from the review of a session, F6 does the same."""
    last = Session.create(title="November", protocol=builtin_protocols()["codev"],
                          name="Anne")
    path = sessions_dir() / "november.cercle"
    sessionfile.save(path, last.doc)
    app = loopback_app()
    async with app.run_test() as pilot:
        recent = app.screen.query_one("#recent", OptionList)
        await until(lambda: recent.option_count == 1, what="the recent session")
        await pilot.click("#continue")
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        assert app.screen.continue_from == path
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, HomeScreen), what="home")
        recent.focus()
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        await pilot.press("f6")
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        assert app.screen.continue_from == path


async def test_language_switch_on_home() -> None:
    app = loopback_app()
    async with app.run_test() as pilot:
        await pilot.press("f4")
        await pilot.pause()
        assert "Ouvrir une séance" in str(app.screen.query_one("#host").render())
        await pilot.press("f4")
        await pilot.pause()
        assert "Start a session" in str(app.screen.query_one("#host").render())


async def test_demo_runs_with_simulated_participants() -> None:
    from tui.demo import Demo

    app = loopback_app(start="demo", demo=Demo("en", pace=0.05))
    async with app.run_test(size=(100, 30)) as pilot:
        room = app.room
        assert room is not None
        await until(lambda: len(room.snapshot.participants) == 4, 10, "three participants")
        await until(lambda: room.snapshot.control.roles.client != "", 10, "Claire as client")
        await pilot.press("f5")
        await until(lambda: room.done_count() == (3, 3), 10, "everyone done with the exposé")
        await pilot.press("f7")  # nobody is left behind: no confirmation needed
        await until(lambda: len(room.snapshot.items_of("question")) >= 4, 15, "questions")
    assert app.demo is not None and app.demo._tasks == set()


async def test_scribe_writes_for_someone_else() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=(110, 30)) as pa, bob.run_test(size=(110, 30)) as pb:
        await bob_joins(pa, pb)
        await until(lambda: len(anne.room.snapshot.participants) == 2)  # type: ignore[union-attr]
        # Anne makes Bob the scribe; his composer offers to write for Anne.
        anne.room.act(anne.room.session.assign_role, "scribe", bob.room.me)  # type: ignore[union-attr]
        await until(lambda: "scribe" in bob.room.my_roles, what="Bob as scribe")  # type: ignore[union-attr]
        await pb.pause()
        composer = bob.screen.query_one("#composer")
        assert composer.has_class("scribe")
        speaker = bob.screen.query_one("#speaker")
        speaker.value = anne.room.me  # type: ignore[attr-defined, union-attr]
        await type_into(pb, "#composer #text", "Ce qu'Anne vient de dire")
        await pb.press("enter")
        await until(lambda: "Ce qu'Anne vient de dire" in texts(anne), what="the note")
        item = anne.room.snapshot.items[0]  # type: ignore[union-attr]
        assert item.author == bob.room.me and item.speaker == anne.room.me  # type: ignore[union-attr]


async def test_lost_connection_is_said_and_healed() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test() as pa, bob.run_test() as pb:
        node = await bob_joins(pa, pb)
        # The wifi drops: every link of Anne's closes; Bob's node reconnects by itself.
        for link in list(node._links.values()):  # type: ignore[union-attr]
            await link.close()
        messages = lambda: [str(n.message) for n in bob._notifications]  # noqa: E731
        await until(lambda: any("Connection lost" in m for m in messages()), 10, "the warning")
        await until(lambda: any("Connected again" in m for m in messages()), 15, "the healing")


def test_no_color_is_respected(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    app = loopback_app()
    assert app.no_color is True


async def test_remote_edits_do_not_move_the_cursor() -> None:
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    session.start()
    session.advance()
    other = Session(session.doc.fork())  # a consultant's laptop: its own questions
    ids = [other.add_item("question", f"Q{i}") for i in range(4)]
    session.merge(other.doc)
    app = loopback_app(start="live", room=Room(session))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        board = app.screen.query_one(ItemBoard)
        table = board.table("question")
        table.focus()
        table.move_cursor(row=0)
        first = board.selected_item()
        table.move_cursor(row=2)
        target = board.selected_item()
        assert target in ids and first in ids and target != first
        other.delete_item(first)  # type: ignore[arg-type]  # its author deletes a row above…
        other.add_item("question", "Q-new")  # …adds one
        other.edit_item(target, "Q2 edited")  # type: ignore[arg-type]  # …and edits this one
        session.merge(other.doc)
        app.screen.post_message(SessionChanged())
        await pilot.pause()
        assert board.selected_item() == target
        assert table.row_count == 4


async def test_anonymous_items_show_no_author() -> None:
    # Advice and notes in one phase (the real co-development takes them apart).
    session = Session.create(title="T", protocol=open_to_all(builtin_protocols()["codev"]),
                             name="Anne", anonymous=("advice",))
    other = Session(session.doc.fork())
    app = loopback_app(start="live", room=Room(session))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        other.join("Bob")
        other.add_item("advice", "Délègue davantage")
        other.add_item("note", "Signé")
        session.merge(other.doc)
        app.screen.post_message(SessionChanged())
        await pilot.pause(0.3)
        board = app.screen.query_one(ItemBoard)
        advice = board.table("advice")
        row = advice.get_row_at(0)
        assert str(row[1]) == "anonymous" and "Bob" not in " ".join(map(str, row))
        assert str(board.table("note").get_row_at(0)[1]) == "Bob"
        assert str(row[0]) == "●"  # Bob's and arrived after Anne looked: new for her


async def test_next_meeting_from_home_carries_open_actions(tmp_path: Path) -> None:
    first = Session.create(title="Séance 1", protocol=builtin_protocols()["codev"], name="Anne")
    first.goto(4)  # the synthesis: actions
    first.add_item("action", "Appeler la DRH", owner=first.me, due="2026-12-15")
    path = tmp_path / "s1.cercle"
    sessionfile.save(path, first.doc)
    app = loopback_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "#path", str(path))
        await pilot.click("#continue")
        await until(lambda: app.screen.query("#continuing"), what="the host form")
        await type_into(pilot, "#name", "Anne")
        await pilot.click("#start")
        await until(lambda: isinstance(app.screen, LobbyScreen), what="the lobby")
        snap = app.room.snapshot  # type: ignore[union-attr]
        assert snap.phases[0].follow_up
        assert [i.text for i in snap.items_of("action")] == ["Appeler la DRH"]


async def test_next_meeting_of_a_corrupt_file_explains(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cercle"
    bad.write_bytes(b"garbage")
    app = loopback_app(start="host", continue_from=bad, name="Anne")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.click("#start")
        await until(lambda: any("not an Automerge document" in str(n.message)
                                for n in app._notifications), what="the message")
        assert not isinstance(app.screen, LobbyScreen)


async def test_facilitator_is_told_about_junk_connections() -> None:
    app = loopback_app()
    async with app.run_test() as pilot:
        await host_session(pilot)
        node = app.room.node  # type: ignore[union-attr]
        for _ in range(3):  # said once, not three times
            reader, writer = await asyncio.open_connection("127.0.0.1", node.port)  # type: ignore[union-attr]
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            await writer.drain()
            await reader.read()
            writer.close()
        # The host tells of a junk connection before it closes it, and each read above
        # waited for that close: all three are told or skipped by now.
        told = [n for n in app._notifications if "not Cercle" in str(n.message)]
        assert len(told) == 1


async def test_the_facilitator_is_told_once_of_what_a_participant_s_laptop_was_refused() -> None:
    """A modified client writes the session's root (to take it): the facilitator's app
    refuses it before it touches the session and says so, once a minute, not per try."""
    from automerge.core import ROOT, ScalarType

    from model.keys import Identity, admission_message
    from sync.handshake import Credentials, Initiator
    from sync.link import Link, dial
    from sync.transport import TcpTransport
    from sync.wire import Hello
    from tests.sync.forge import change_as, push, signed

    app = loopback_app()
    async with app.run_test() as pilot:
        await host_session(pilot)
        room, node = app.room, app.room.node  # type: ignore[union-attr]
        assert room is not None and node is not None and node.anchor is not None
        mallory = Identity.generate()
        admission = room.session.identity.sign(admission_message(node.anchor.session_id,
                                                                 mallory.actor))
        transport = await TcpTransport.connect("127.0.0.1", node.port, 5.0)
        outcome = await dial(transport, Initiator(anchor=node.anchor,
                                                  credentials=Credentials(mallory, admission)))
        link = Link(transport, outcome.channel, initiator=True, peer=outcome.peer)
        link.send_nowait(Hello(version=4))
        for attempt in range(2):
            forged = change_as(room.session, mallory.actor, lambda tx, n=attempt: tx.put(
                ROOT, "title", ScalarType.Str, f"Mallory's session {n}"))
            link.send_nowait(push(forged, signed(mallory, node.anchor,
                                                 change_hash_of(forged))))
        told = lambda: [n for n in app._notifications if "refused" in str(n.message)]  # noqa: E731
        await until(lambda: bool(told()), what="the refusal told")
        assert "writes the root of the session" in str(told()[0].message)
        assert room.snapshot.info.title == "Atelier"
        await transport.close()
        assert len(told()) == 1


async def test_host_again_after_a_crash_keeps_port_and_code() -> None:
    first = loopback_app()
    async with first.run_test() as pilot:
        await host_session(pilot, title="Reprise")
        node = first.room.node  # type: ignore[union-attr]
        port, code, path = node.port, node.code, first.room.path  # type: ignore[union-attr]
        await pilot.press("enter")
        await type_into(pilot, "#composer #text", "avant la panne")
        await pilot.press("enter")
    # The same laptop, a new run of the app: review the file, then host it again.
    again = loopback_app(start="review", room=Room(Session(sessionfile.load(path).doc), path=path,
                                               read_only=True))
    async with again.run_test() as pilot:
        await pilot.press("f5")
        await until(lambda: isinstance(again.screen, LobbyScreen), what="the lobby")
        node = again.room.node  # type: ignore[union-attr]
        assert (node.port, node.code) == (port, code)  # type: ignore[union-attr]
        assert again.room.session.is_facilitator  # type: ignore[union-attr]
        assert texts(again) == {"avant la panne"}


async def test_host_command_line_choices_fill_the_form_and_the_lobby() -> None:
    """`cercle host --title … --protocol … --code … --port …` without --headless."""
    import socket

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = loopback_app(start="host", name="Anne", hosting=HostChoices(
        title="Atelier managers", protocol="gapp", code="314-159", port=port))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        assert app.screen.query_one("#title", Input).value == "Atelier managers"
        assert app.screen.query_one("#protocol", Select).value == "gapp"
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, LobbyScreen), what="the lobby")
        assert app.room is not None and app.room.node is not None
        assert (app.room.node.code, app.room.node.port) == ("314-159", port)
        assert app.screen.query_one("#code", Digits).value == "314-159"
        assert app.room.snapshot.info.title == "Atelier managers"
        assert app.room.snapshot.protocol is not None
        assert app.room.snapshot.protocol.key == "gapp"


async def test_rejoining_after_a_restart_keeps_your_place() -> None:
    """Bob's app closes mid-meeting; started again on the same laptop, he joins the same way
    and is the same participant, in the same file, with what he wrote."""
    anne = loopback_app()
    async with anne.run_test() as pa:
        bob = loopback_app()
        async with bob.run_test() as pb:
            node = await bob_joins(pa, pb)
            room = bob.room
            assert room is not None
            actor, path = room.session.actor, room.path
            await type_into(pb, "#composer #text", "Avant la coupure ?")
            await pb.press("enter")
            await until(lambda: "Avant la coupure ?" in texts(anne), what="Bob's note at Anne's")
        assert len(anne.room.snapshot.participants) == 2  # type: ignore[union-attr]
        # The same laptop (the tests share one data folder, and Bob joined last), a new run.
        again = loopback_app()
        async with again.run_test() as pb:
            await open_join_form(pb, f"127.0.0.1:{node.port}", node.code, "Bob")
            await pb.press("enter")
            await until(lambda: isinstance(again.screen, LiveScreen), 15, "Bob back in")
            assert again.room is not None
            assert again.room.session.actor == actor and again.room.path == path
            assert "Avant la coupure ?" in texts(again)
            await until(lambda: bool(again.screen.query("#composer #text")), what="the composer")
            await type_into(pb, "#composer #text", "Après la coupure.")
            await pb.press("enter")
            await until(lambda: "Après la coupure." in texts(anne), what="his new note")
            names = [p.name for p in anne.room.snapshot.participants]  # type: ignore[union-attr]
            assert sorted(names) == ["Anne", "Bob"]
