"""The group's screens in a live session, driven by Pilot: choosing the case, the
follow-up of actions, the evaluation and the next meeting. Two apps sync over
real loopback wherever more than one person is involved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Button, Input, OptionList, Select, Static

from model import sessionfile
from model.protocols import builtin_protocols
from model.session import Session
from tests.replicas import replica_of, sync_pair
from tests.sync.mesh import until
from tests.tui.snapshot_apps import group as scenes
from tests.tui.snapshot_apps.sessions import in_questions
from tests.tui.test_flows import bob_joins, loopback_app, open_join_form, type_into
from tui.app import CercleApp
from tui.format import case_line
from tui.paths import exports_dir
from tui.room import Room
from tui.screens import group_keys
from tui.screens.cases import Cases
from tui.screens.dialogs import Confirm
from tui.screens.evaluation import Evaluate
from tui.screens.follow_up import FollowUp
from tui.screens.live import LiveScreen
from tui.screens.lobby import LobbyScreen
from tui.screens.next_meeting import NextMeetingDialog, meeting_form_problem
from tui.screens.review import ReviewScreen


def shown(app: CercleApp, selector: str) -> str:
    """The text a Static of the current screen shows."""
    return str(app.screen.query_one(selector, Static).render())


def instruction(app: CercleApp) -> str:
    return str(live(app).query_one("#instruction", Static).render())


def options(app: CercleApp, selector: str) -> list[str]:
    listing = app.screen.query_one(selector, OptionList)
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


def live(app: CercleApp) -> LiveScreen:
    found = [s for s in app.screen_stack if isinstance(s, LiveScreen)]
    assert found, app.screen_stack
    return found[0]


async def to_last_phase(anne: CercleApp, bob: CercleApp) -> None:
    room = anne.room
    assert room is not None and bob.room is not None
    last = len(room.snapshot.phases) - 1
    assert room.act(room.session.goto, last) is None
    await until(lambda: bob.room.snapshot.control.phase.index == last,  # type: ignore[union-attr]
                what="the last phase at Bob's")


async def end_session(pa: Any) -> None:
    await pa.press("f10")
    assert isinstance(pa.app.screen, Confirm)
    await pa.click("#yes")
    await until(lambda: pa.app.room.snapshot.control.phase.status == "ended", what="the end")


# -- choosing the case ----------------------------------------------------------------------------
async def test_bob_proposes_and_votes_anne_chooses_his_case() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await bob_joins(pa, pb)
        await until(lambda: len(anne.room.snapshot.participants) == 2)  # type: ignore[union-attr]
        # The first phase of a first session: anyone may propose.
        assert live(bob).check_action("cases", ()) is True
        await pb.press("ctrl+b")
        assert isinstance(bob.screen, Cases)
        await type_into(pb, "#proposal", "Tension avec Marc")
        await pb.press("enter")
        assert bob.screen.query_one("#proposal", Input).value == ""
        snap = bob.room.snapshot  # type: ignore[union-attr]
        [proposal] = snap.items_of("proposal")
        assert proposal.text == "Tension avec Marc" and proposal.author == bob.room.me  # type: ignore[union-attr]
        # Anne opens the tally before Bob votes: his vote arrives while she looks.
        await until(lambda: anne.room.snapshot.items_of("proposal"), what="the proposal")  # type: ignore[union-attr]
        await pa.press("ctrl+b")
        assert isinstance(anne.screen, Cases)
        assert "0  Tension avec Marc — Bob" in options(anne, "#tally")[0]
        bob.screen.query_one("#tally").focus()
        await pb.press("space")
        assert bob.room.session.my_vote == proposal.id  # type: ignore[union-attr]
        assert options(bob, "#tally")[0].startswith("●  1  Tension avec Marc")
        await until(lambda: anne.room.snapshot.tally[0].votes == 1, what="Bob's vote")  # type: ignore[union-attr]
        await pa.pause(0.1)
        assert options(anne, "#tally")[0].startswith("   1  Tension avec Marc")  # not her vote
        # Only the facilitator has the button; Anne chooses the case.
        assert not bob.screen.query("#choose")
        await pa.click("#choose")
        assert isinstance(anne.screen, LiveScreen)
        await until(lambda: bob.room.snapshot.control.roles.client == bob.room.me,  # type: ignore[union-attr]
                    what="Bob as the client")
        assert anne.room.snapshot.control.roles.client == bob.room.me  # type: ignore[union-attr]
        await pb.pause(0.3)
        assert "★ chosen" in options(bob, "#tally")[0]  # his open dialog shows it too
        await pb.press("escape")
        for app in (anne, bob):
            assert instruction(app).startswith("Case: Tension avec Marc (Bob) · ")
        # Proposals are over for Bob; Anne keeps the key to change her mind.
        assert live(bob).check_action("cases", ()) is False
        assert live(anne).check_action("cases", ()) is True


async def test_voting_again_withdraws_the_vote() -> None:
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    proposal = session.add_item("proposal", "Mon cas")
    app = loopback_app(start="live", room=Room(session))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+b")
        await pilot.press("enter")  # the tally has the focus: Enter votes
        assert session.my_vote == proposal
        await pilot.press("enter")
        assert session.my_vote == ""
        assert options(app, "#tally")[0].startswith("   0  Mon cas")


async def test_typing_on_the_tally_proposes_instead_of_voting() -> None:
    """Found in tmux: with proposals listed, typing a sentence voted at each space."""
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    session.add_item("proposal", "Mon cas")
    app = loopback_app(start="live", room=Room(session))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+b")
        assert app.focused is not None and app.focused.id == "tally"
        await pilot.press(*"Un client", "enter")
        assert session.my_vote == ""
        assert sorted(i.text for i in session.snapshot.items_of("proposal")) == [
            "Mon cas", "Un client"]


# -- the follow-up of actions ---------------------------------------------------------------------
def first_session(tmp_path: Path) -> Path:
    """Anne's first session, with Bob and Chloé: an action for each of them (Anne writes
    them in the synthesis), saved to a file."""
    first = Session.create(title="Séance 1", protocol=builtin_protocols()["codev"], name="Anne")
    bob, chloe = replica_of(first, "Bob"), replica_of(first, "Chloé")
    sync_pair(first, bob)
    sync_pair(first, chloe)
    first.goto(4)
    first.add_item("action", "Appeler la DRH", owner=bob.me, due="2026-12-15")
    first.add_item("action", "Relire le contrat", owner=chloe.me)
    sync_pair(first, bob)
    sync_pair(first, chloe)
    path = tmp_path / "s1.cercle"
    sessionfile.save(path, first.doc)
    return path


async def continue_with_bob(pa: Any, pb: Any) -> None:
    """Anne hosts the next meeting from the file; Bob joins it."""
    await pa.click("#start")
    await until(lambda: isinstance(pa.app.screen, LobbyScreen), what="the lobby")
    node = pa.app.room.node
    await pa.press("enter")
    await until(lambda: isinstance(pa.app.screen, LiveScreen), what="Anne in the session")
    await open_join_form(pb, f"127.0.0.1:{node.port}", node.code, "Bob")
    await pb.press("enter")
    await until(lambda: isinstance(pb.app.screen, FollowUp), 15,
                "the follow-up opening by itself for Bob")


def coffee_of(app: CercleApp) -> str:
    assert app.room is not None
    [item] = [i for i in app.room.snapshot.carried_actions() if i.text == "Appeler la DRH"]
    return item.id


async def test_owner_updates_a_carried_action_and_the_other_laptop_sees_it(
        tmp_path: Path) -> None:
    path = first_session(tmp_path)
    anne, bob = loopback_app(start="host", continue_from=path, name="Anne"), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await continue_with_bob(pa, pb)
        # Anne owns no action carried over: no dialog, but the instruction points at it.
        await pa.pause(0.3)
        assert isinstance(anne.screen, LiveScreen)
        assert instruction(anne).startswith("Ctrl+U: update your actions.")
        # Bob's own action comes first, under the carried ones, and he may update it.
        listed = options(bob, "#actions")
        assert listed[0] == "Carried over from earlier sessions"
        assert "● Appeler la DRH — you · open" in listed[1]
        assert "Relire le contrat — Chloé" in listed[2]
        assert "Decided in “Séance 1”" in shown(bob, "#detail")
        assert not bob.screen.query_one("#update", Button).disabled
        bob.screen.query_one("#new-status", Select).value = "done"
        await type_into(pb, "#note", "Rendez-vous pris le 3")
        await pb.press("enter")
        assert "Bob: done — “Rendez-vous pris le 3”" in shown(bob, "#detail")
        coffee = coffee_of(anne)
        await until(lambda: anne.room.snapshot.item(coffee).status == "done",  # type: ignore[union-attr]
                    what="Bob's update at Anne's")
        await pa.press("ctrl+u")
        assert isinstance(anne.screen, FollowUp)
        assert any("Appeler la DRH — Bob · done" in line for line in options(anne, "#actions"))
        actions = anne.screen.query_one("#actions", OptionList)
        actions.highlighted = actions.get_option_index(coffee)
        await pa.pause()
        assert "Bob: done — “Rendez-vous pris le 3”" in shown(anne, "#detail")
        # Bob may not update Chloé's action (she is not here): the form says whose it is.
        bob.screen.query_one("#actions", OptionList).highlighted = 2
        await pb.pause()
        assert bob.screen.query_one("#update", Button).disabled
        assert "Only Chloé, the facilitator" in shown(bob, "#may")


async def test_concurrent_updates_of_one_action_are_both_kept(tmp_path: Path) -> None:
    path = first_session(tmp_path)
    anne, bob = loopback_app(start="host", continue_from=path, name="Anne"), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await continue_with_bob(pa, pb)
        await pa.press("ctrl+u")
        assert isinstance(anne.screen, FollowUp)
        coffee = coffee_of(anne)
        # Both have Bob's action selected (his own comes first for him); the
        # facilitator may update it too.
        actions = anne.screen.query_one("#actions", OptionList)
        actions.highlighted = actions.get_option_index(coffee)
        await pa.pause()
        assert bob.screen.query_one("#actions", OptionList).highlighted_option.id == coffee  # type: ignore[union-attr]
        assert not anne.screen.query_one("#update", Button).disabled
        anne.screen.query_one("#new-status", Select).value = "in_progress"
        await type_into(pa, "#note", "Bob m'en a parlé")
        bob.screen.query_one("#new-status", Select).value = "done"
        await type_into(pb, "#note", "C'est fait")
        # Both press Update before either laptop hears of the other's.
        anne.screen.query_one("#update", Button).press()
        bob.screen.query_one("#update", Button).press()
        for app in (anne, bob):
            await until(lambda a=app: len(a.room.snapshot.item(coffee).updates) == 2,  # type: ignore[misc]
                        what="both updates everywhere")
        assert anne.room.snapshot.item(coffee) == bob.room.snapshot.item(coffee)  # type: ignore[union-attr]
        await pa.pause(0.3)
        await pb.pause(0.3)
        for app in (anne, bob):
            detail = shown(app, "#detail")
            assert "Anne: in progress — “Bob m'en a parlé”" in detail
            assert "Bob: done — “C'est fait”" in detail
            assert any("Appeler la DRH" in line and "(2 updates)" in line
                       for line in options(app, "#actions"))


# -- evaluation -----------------------------------------------------------------------------------
async def evaluate(pilot: Any, rating: int, feedback: str) -> None:
    await pilot.press("ctrl+l")
    assert isinstance(pilot.app.screen, Evaluate)
    await pilot.click(f"#r{rating}")
    await type_into(pilot, "#feedback", feedback)
    await pilot.press("enter")
    assert isinstance(pilot.app.screen, LiveScreen)


async def test_two_evaluations_then_the_aggregate_after_the_end() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await bob_joins(pa, pb)
        assert live(bob).check_action("evaluate", ()) is False  # not before the last phase
        await to_last_phase(anne, bob)
        await pb.pause(0.3)
        assert live(bob).check_action("evaluate", ()) is True
        await evaluate(pa, 4, "Bon rythme")
        await evaluate(pb, 5, "Très utile")
        assert bob.room.session.my_evaluation == (5, "Très utile")  # type: ignore[union-attr]
        await until(lambda: anne.room.snapshot.evaluation.count == 2, what="both ratings")  # type: ignore[union-attr]
        assert "Evaluation" not in instruction(bob)  # the aggregate waits for the end
        await end_session(pa)
        await until(lambda: bob.room.snapshot.control.phase.status == "ended", what="the end")  # type: ignore[union-attr]
        await pb.pause(0.3)
        for app in (anne, bob):
            assert "Evaluation: 4.5 / 5 (ratings: 2)." in instruction(app)
        # Nothing to raise a hand for or to finish any more (found in tmux).
        assert live(bob).check_action("hand", ()) is False
        assert live(bob).check_action("done", ()) is False
        # After the end Bob may still look at (and change) his evaluation, with the group's.
        await pb.press("ctrl+l")
        assert isinstance(bob.screen, Evaluate)
        assert bob.screen.query_one("#rating").pressed_index == 4  # type: ignore[attr-defined]
        aggregate = shown(bob, "#aggregate")
        assert "The group: 4.5 / 5 (ratings: 2)" in aggregate and "5: 1 · 4: 1 · 3: 0" in aggregate
        # Cancel closes it unchanged; Withdraw takes his evaluation back.
        await pb.click("#cancel")
        assert isinstance(bob.screen, LiveScreen)
        assert bob.room.session.my_evaluation == (5, "Très utile")  # type: ignore[union-attr]
        await pb.press("ctrl+l")
        await pb.click("#withdraw")
        assert isinstance(bob.screen, LiveScreen)
        assert bob.room.session.my_evaluation == (None, "")  # type: ignore[union-attr]


# -- the next meeting -----------------------------------------------------------------------------
async def test_facilitator_sets_the_next_meeting_and_everyone_sees_it() -> None:
    anne, bob = loopback_app(), loopback_app()
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await bob_joins(pa, pb)
        assert live(anne).check_action("next_meeting", ()) is False  # not yet
        await to_last_phase(anne, bob)
        await pa.pause(0.3)
        assert live(anne).check_action("next_meeting", ()) is True
        assert live(bob).check_action("next_meeting", ()) is False  # a consultant cannot
        await pb.press("ctrl+y")
        assert isinstance(bob.screen, LiveScreen)
        await pa.press("ctrl+y")
        assert isinstance(anne.screen, NextMeetingDialog)
        await type_into(pa, "#date", "2099-13-45")
        await pa.press("enter")
        assert isinstance(anne.screen, NextMeetingDialog)  # stays open, says why
        assert "“2099-13-45” is not a date" in shown(anne, "#error")
        assert anne.screen.query_one("#error").has_class("error")
        await type_into(pa, "#date", "2099-06-25")
        await type_into(pa, "#time", "6pm")
        anne.screen.query_one("#place", Input).focus()
        await pa.press("enter")
        assert "“6pm” is not a time" in shown(anne, "#error")
        assert anne.screen.query_one("#time", Input).has_focus  # where the mistake is
        await type_into(pa, "#time", "18:30")
        await type_into(pa, "#place", "Salle 3")
        await pa.press("enter")
        assert isinstance(anne.screen, LiveScreen)
        await until(lambda: bob.room.snapshot.control.meeting is not None, what="the meeting")  # type: ignore[union-attr]
        meeting = bob.room.snapshot.control.meeting  # type: ignore[union-attr]
        assert (meeting.date, meeting.time, meeting.place) == ("2099-06-25", "18:30", "Salle 3")  # type: ignore[union-attr]
        await end_session(pa)
        await until(lambda: bob.room.snapshot.control.phase.status == "ended", what="the end")  # type: ignore[union-attr]
        await pb.pause(0.3)
        for app in (anne, bob):
            assert "Next meeting: 2099-06-25 18:30 (" in instruction(app)
            assert "min), Salle 3." in instruction(app)
        # Still the facilitator's after the end; the export writes the calendar file.
        assert live(anne).check_action("next_meeting", ()) is True
        await pa.press("ctrl+e")
        ics = exports_dir() / Path(anne.room.path).with_suffix(".ics").name  # type: ignore[arg-type, union-attr]
        await until(ics.exists, what="the calendar file")
        assert "DTSTART:20990625T183000" in ics.read_text()
        # The form can also take the meeting back.
        await pa.press("ctrl+y")
        await pa.click("#clear")
        assert isinstance(anne.screen, LiveScreen)
        assert anne.room.snapshot.control.meeting is None  # type: ignore[union-attr]


def test_the_meeting_form_explains_each_mistake() -> None:
    from datetime import date

    today = date(2026, 5, 1)

    def problem(*values: str) -> tuple[str, str]:
        return meeting_form_problem(*values, today=today)

    assert problem("", "", "", "") == (
        "Give the date, like 2026-05-29 (year-month-day).", "date")  # four weeks on
    assert "is already past" in problem("2026-04-30", "", "", "")[0]
    assert problem("2026-05-01", "25:00", "", "") == (
        "“25:00” is not a time: write it like 18:30 (24-hour), or leave it empty for "
        "the whole day.", "time")
    assert problem("2026-05-01", "", "", "1000")[1] == "length"
    assert "at most 720" in problem("2026-05-01", "", "", "-5")[0]
    assert problem("2026-05-01", "", "x" * 201, "") == (
        "The place is at most 200 characters.", "place")
    assert problem("2026-05-01", "", "Salle 3", "90") == ("", "")


# -- what shows where -----------------------------------------------------------------------------
def test_group_keys_stay_hidden_in_the_questions_phase() -> None:
    """The live screens of the other snapshots show none of these keys."""
    people = in_questions()
    for role in ("facilitator", "client", "consultant"):
        room = people.room(role)
        assert [group_keys.allowed(a, room) for a in group_keys.ACTIONS] == [False] * 4, role


async def test_review_shows_the_case_the_evaluation_and_the_meeting() -> None:
    people = scenes.evaluated()
    people.anne.set_next_meeting("2026-06-25", "18:30", "Salle 3", 120)
    people.sync()
    room = people.room("facilitator", read_only=True)
    app = loopback_app(start="review", room=room)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        content = shown(app, "#content")
        assert "Evaluation\n4.3 / 5 (ratings: 3)" in content
        assert "“More time for the advice next time”" in content
        assert "Next meeting\n2026-06-25 18:30 (120 min), Salle 3" in content


def test_the_case_line_names_the_proposer() -> None:
    people = scenes.choosing_the_case()
    [marc] = [p for p in people.anne.snapshot.tally if p.text.startswith("Tension")]
    people.control("choose_case")  # the winner by default
    snap = people.chloe.snapshot
    assert snap.control.case == marc.proposal
    assert case_line(snap) == "Case: Tension with Marc, my new deputy (Bob)"
    assert group_keys.instruction(snap, "Listen.").startswith("Case: Tension with Marc")


async def test_the_review_of_the_third_session_shows_each_actions_history(
        tmp_path: Path) -> None:
    """Session 1 decides actions; 2 is continued from 1's file and updates them; 3 from 2's.
    Reviewing 3's file shows every action's status at the end of each meeting."""
    one = first_session(tmp_path)
    two, three = tmp_path / "s2.cercle", tmp_path / "s3.cercle"
    for source, target, title, status, note in (
            (one, two, "Séance 2", "in_progress", "rendez-vous pris"),
            (two, three, "Séance 3", "done", "entretien très positif")):
        anne = Session.continue_from(source, name="Anne", title=title)
        bob = replica_of(anne, "Bob")
        sync_pair(anne, bob)
        [call] = [i for i in bob.snapshot.carried_actions() if i.text == "Appeler la DRH"]
        bob.update_action(call.id, status, note)
        sync_pair(anne, bob)
        anne.end()
        sessionfile.save(target, anne.doc)
    room = Room(Session(sessionfile.load(three).doc), path=three, read_only=True)
    app = loopback_app(start="review", room=room)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        menu = app.screen.query_one("#phases", OptionList)
        menu.highlighted = [menu.get_option_at_index(i).id
                            for i in range(menu.option_count)].index("history")
        await pilot.pause()
        page = shown(app, "#content")
    assert page.startswith("Actions across meetings")
    blocks = {block.split("  ")[0]: block for block in page.split("\n• ")[1:]}
    call, contract = blocks["Appeler la DRH"], blocks["Relire le contrat"]
    assert "→ Bob · 2026-12-15" in call
    assert "Séance 1: open" in call
    assert "Séance 2: in progress — “rendez-vous pris”" in call
    assert "Séance 3: done — “entretien très positif”" in call
    assert "Séance 2: open" in contract and "→ Chloé" in contract
