"""The floor, the round and the facilitator's plan and participation view, driven
by Pilot; two apps sync over real loopback where the other laptop matters."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, OptionList, Static

from model.protocols import builtin_protocols
from model.session import Session
from tests.conftest import open_to_all
from tests.replicas import FakeClock, replica_of, sync_pair
from tests.sync.mesh import until
from tests.tui.test_flows import bob_joins, loopback_app, type_into
from tui.app import CercleApp
from tui.room import Room
from tui.screens.dialogs import Confirm, Help
from tui.screens.floor import FloorDialog, PlanDialog
from tui.screens.live import LiveScreen
from tui.widgets.phase_header import PhaseHeader
from tui.widgets.roster import Roster

SIZE = (100, 30)


def header(app: CercleApp) -> str:
    return str(app.screen.query_one(PhaseHeader).render())


def roster(app: CercleApp) -> str:
    return str(app.screen.query_one(Roster).render())


def room(app: CercleApp) -> Room:
    assert app.room is not None
    return app.room


def choices(app: CercleApp) -> list[tuple[str | None, str, bool]]:
    """The floor dialog's options: (id, text, disabled)."""
    options = app.screen.query_one("#floor-choices", OptionList)
    return [(o.id, str(o.prompt), o.disabled)
            for o in (options.get_option_at_index(i) for i in range(options.option_count))]


async def choose(pilot: Any, option_id: str) -> None:
    """Open the floor dialog (Ctrl+G), move to ``option_id`` and press Enter."""
    await pilot.press("ctrl+g")
    await pilot.pause()
    assert isinstance(pilot.app.screen, FloorDialog)
    options = pilot.app.screen.query_one("#floor-choices", OptionList)
    options.highlighted = options.get_option_index(option_id)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(pilot.app.screen, LiveScreen)


def cells(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_floor_given_to_a_raised_hand_shows_on_both_laptops() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=SIZE) as pa, bob.run_test(size=SIZE) as pb:
        await bob_joins(pa, pb)
        bob_id = room(bob).me
        await until(lambda: len(room(anne).snapshot.participants) == 2, what="Bob at Anne's")
        await pb.press("ctrl+r")  # Bob raises his hand
        await until(lambda: any(m.hand_raised_at for m in room(anne).members()), what="hand")
        await pa.press("ctrl+g")
        await pa.pause()
        assert isinstance(anne.screen, FloorDialog)
        # The queue of raised hands first, highlighted; then everyone else; then the round.
        assert choices(anne) == [
            (None, "Raised hands, in order", True), (f"give:{bob_id}", "✋1 Bob", False),
            (None, "Everyone else", True), (f"give:{room(anne).me}", "   Anne", False),
            ("round", "Start a round: everyone, in the order they joined", False)]
        assert "Nobody has the floor." in str(anne.screen.query_one("#floor-status").render())
        options = anne.screen.query_one(OptionList)
        assert options.highlighted_option is not None
        assert options.highlighted_option.id == f"give:{bob_id}"
        await pa.press("enter")
        assert room(anne).snapshot.control.floor.speaker == bob_id
        await until(lambda: room(bob).snapshot.control.floor.speaker == bob_id,
                    what="the floor at Bob's")
        def speaker_shown(app: CercleApp) -> bool:
            return "🎤 Floor: Bob" in header(app) and "Bob 🎤" in roster(app)

        # Repaints are throttled while changes pour in: wait for them.
        await until(lambda: speaker_shown(anne) and speaker_shown(bob), what="Bob as speaker")
        # Bob's own laptop lowered his hand: the queue is empty again, on Anne's side too.
        await until(lambda: not any(m.hand_raised_at for m in room(anne).members()),
                    what="Bob's hand lowered")
        assert any("You have the floor." in str(n.message) for n in bob._notifications)
        await pa.pause()
        await pa.press("ctrl+g")
        await pa.pause()
        assert (None, "   (no hand raised)", True) in choices(anne)
        assert (None, "🎤 Bob", True) in choices(anne)  # the speaker cannot be chosen again
        await pa.press("escape")
        await choose(pa, "back")
        await until(lambda: room(bob).snapshot.control.floor.speaker == "", what="taken back")
        await until(lambda: "Floor" not in header(bob) and "Bob 🎤" not in roster(bob),
                    what="the floor gone from Bob's screen")


async def test_a_round_walks_the_room_and_the_other_laptop_follows() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=SIZE) as pa, bob.run_test(size=SIZE) as pb:
        await bob_joins(pa, pb)
        await until(lambda: len(room(anne).snapshot.participants) == 2, what="Bob at Anne's")
        screen = anne.screen
        assert screen.check_action("next_speaker", ()) is False  # no round yet
        await choose(pa, "round")
        await until(lambda: room(bob).snapshot.control.floor.in_round, what="the round")
        # Bob's screen repaints at most every 0.2 s while changes pour in: wait for it.
        await until(lambda: "Round 1/2: Anne · next: Bob" in header(bob), what="round 1/2")
        assert screen.check_action("next_speaker", ()) is True
        await pa.press("ctrl+n")
        await until(lambda: room(bob).snapshot.control.floor.turn == 1, what="Bob's turn")
        await until(lambda: "Round 2/2: Bob · last one" in header(bob), what="round 2/2")
        assert "Bob 🎤" in roster(bob) and "Anne 🎤" not in roster(bob)
        await pa.press("ctrl+n")
        await until(lambda: room(bob).snapshot.control.floor.round_done, what="round done")
        await until(lambda: "Round done: everyone has spoken." in header(bob), what="done")
        assert screen.check_action("next_speaker", ()) is False
        await pa.press("ctrl+n")  # nothing left to walk: the key is off
        assert room(anne).snapshot.control.floor.round_done
        await choose(pa, "previous")  # back to the last speaker
        await until(lambda: room(bob).snapshot.control.floor.speaker == room(bob).me,
                    what="Bob again")
        await pa.press("f5", "f7")  # a phase move clears the floor
        if isinstance(anne.screen, Confirm):
            await pa.click("#yes")
        await until(lambda: room(bob).snapshot.control.phase.index == 1, what="phase 2")
        assert room(bob).snapshot.control.floor.speaker == ""
        await until(lambda: "Round" not in header(bob), what="the round gone from the header")


async def test_a_participant_has_neither_the_floor_nor_the_plan() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=SIZE) as pa, bob.run_test(size=SIZE) as pb:
        await bob_joins(pa, pb)
        await until(lambda: len(room(anne).snapshot.participants) == 2, what="Bob at Anne's")
        for action in ("floor", "plan", "next_speaker"):
            assert bob.screen.check_action(action, ()) is False
        assert anne.screen.check_action("floor", ()) is True
        assert anne.screen.check_action("plan", ()) is True
        await pb.press("ctrl+g", "f2")
        await pb.pause()
        assert isinstance(bob.screen, LiveScreen)
        assert room(anne).snapshot.control.floor.speaker == ""
        await pb.press("f1")
        await pb.pause()
        assert isinstance(bob.screen, Help)
        keys = "".join(str(w.render()) for w in bob.screen.query(Static))
        assert "Floor" not in keys and "Plan" not in keys and "Hand" in keys
        await pa.press("f1")
        await pa.pause()
        keys = "".join(str(w.render()) for w in anne.screen.query(Static))
        assert "Floor" in keys and "Plan" in keys
        await pa.press("escape")
        # Readiness: the facilitator's roster counts who is done.
        assert "done 0/1" in roster(anne)
        await pb.press("escape", "ctrl+d")
        await until(lambda: room(anne).done_count() == (1, 1), what="Bob done")
        await until(lambda: "done 1/1" in roster(anne), what="the count in the roster")
        assert "done" not in roster(bob).splitlines()[0]  # only the facilitator's


async def test_plan_and_participation_show_who_has_not_taken_part() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=SIZE) as pa, bob.run_test(size=SIZE) as pb:
        await bob_joins(pa, pb)
        await until(lambda: len(room(anne).snapshot.participants) == 2, what="Bob at Anne's")
        await pa.press("f5")
        await type_into(pb, "#composer #text", "Le contexte de Bob")
        await pb.press("enter")
        await until(lambda: len(room(anne).snapshot.items) == 1, what="Bob's note")
        await choose(pa, f"give:{room(bob).me}")
        await pa.press("f2")
        await pa.pause()
        assert isinstance(anne.screen, PlanDialog)
        plan = cells(anne.screen.query_one("#plan-table", DataTable))
        phases = room(anne).snapshot.phases
        assert len(plan) == len(phases) + 1
        assert plan[0][0].startswith("▶ ") and plan[0][1] == str(phases[0].minutes)
        assert plan[1][2] == "—" and plan[-1][0].strip() == "Whole session"
        people = cells(anne.screen.query_one("#participation-table", DataTable))
        assert people == [["Anne", "—", "0"], ["Bob", "✓", "1"]]
        summary = str(anne.screen.query_one("#participation-summary", Static).render())
        assert "Not had the floor yet: Anne" in summary
        assert "Not written yet: Anne" in summary
        # It follows the session while open: Anne writes, the count moves.
        room(anne).act(room(anne).session.add_item, "note", "Une note d'Anne")
        await until(lambda: cells(anne.screen.query_one("#participation-table", DataTable))[0]
                    == ["Anne", "—", "1"], what="Anne's note counted")
        await pa.press("escape")
        assert isinstance(anne.screen, LiveScreen)


async def test_anonymous_items_are_not_attributed() -> None:
    clock = FakeClock()
    # Questions and notes in one phase (the real co-development takes questions alone).
    anne = Session.create(title="T", protocol=open_to_all(builtin_protocols()["codev"]),
                          name="Anne", clock=clock, anonymous=["question"])
    bob = replica_of(anne, "Bob")
    sync_pair(anne, bob)
    anne.start()
    anne.advance()  # the questions, anonymous in this session
    sync_pair(anne, bob)
    bob.add_item("question", "Une question sans nom")
    bob.add_item("question", "Une autre")
    bob.add_item("note", "Une note signée")
    sync_pair(anne, bob)
    app = loopback_app(start="live", room=Room(anne, clock=lambda: clock.now / 1000))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f2")
        await pilot.pause()
        people = cells(app.screen.query_one("#participation-table", DataTable))
        assert people == [["Anne", "—", "0"], ["Bob", "—", "1"]]  # the note only
        note = "".join(str(w.render()) for w in app.screen.query(Static))
        assert "Anonymous items are not counted" in note
