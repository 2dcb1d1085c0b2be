"""What a session announces, and what people looking for it see: the label chosen in the
host form, a count that includes the host, and the same three words in the host's lobby
and beside the session in a joiner's list (real zeroconf, on loopback only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message
from textual.widgets import Input, OptionList, Static

from model import sessionfile
from model.continuation import group_of
from model.protocols import builtin_protocols
from model.session import Session
from sync.fingerprint import fingerprint
from tests.sync.mesh import until
from tests.tui.test_flows import host_session, loopback_app, type_into
from tui import identity, meeting
from tui.app import HostChoices, make_app
from tui.messages import HostRequested
from tui.screens.host import HostScreen, default_label
from tui.screens.join import JoinScreen
from tui.screens.live import LiveScreen
from tui.screens.lobby import LobbyScreen

LOOP = ["127.0.0.1"]


def label_field(app: Any) -> Input:
    return app.screen.query_one("#label", Input)


# -- the host form's label ---------------------------------------------------------------------
def test_the_default_label() -> None:
    assert default_label("Anne") == "Cercle · Anne"
    assert default_label("  Anne   Martin ") == "Cercle · Anne Martin"
    assert default_label("") == "Cercle"


async def test_the_label_follows_the_name_until_it_is_written() -> None:
    app = loopback_app(start="host", name="Anne")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        await pilot.pause()
        assert label_field(app).value == "Cercle · Anne"
        await type_into(pilot, "#name", "Anne-Marie")
        assert label_field(app).value == "Cercle · Anne-Marie"
        await type_into(pilot, "#label", "Codev managers Lyon")
        await type_into(pilot, "#name", "Anne")
        assert label_field(app).value == "Codev managers Lyon"  # the person's own, kept
        shown = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "Public" in shown  # anyone on the network reads it


async def test_the_command_line_label_fills_the_form() -> None:
    app = loopback_app(start="host", name="Anne", hosting=HostChoices(label="Salle 3"))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        await type_into(pilot, "#name", "Bea")
        assert label_field(app).value == "Salle 3"


async def test_the_groups_next_meeting_fills_in_the_label_it_had(tmp_path: Path) -> None:
    """Starting the next meeting of a group this computer announced before: the form says
    which meeting it follows, by its title, and offers the label the group had."""
    last = Session.create(title="Le cas de Sophie", protocol=builtin_protocols()["codev"],
                          name="Anne")
    path = tmp_path / "sophie.cercle"
    sessionfile.save(path, last.doc)
    identity.remember_label(group_of(last.snapshot).id, "Codev Lyon")  # hosted before
    app = loopback_app(start="host", name="Anne", continue_from=path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        await until(lambda: label_field(app).value == "Codev Lyon", what="the kept label")
        note = str(app.screen.query_one("#continuing", Static).render())
        assert "“Le cas de Sophie”" in note and "sophie.cercle" not in note
        await type_into(pilot, "#name", "Anne Martin")
        assert label_field(app).value == "Codev Lyon"  # not the name's default


async def test_the_label_goes_with_the_request() -> None:
    asked: list[Message] = []
    app = loopback_app(start="host", name="Anne")
    async with app.run_test(size=(80, 24), message_hook=asked.append) as pilot:
        await until(lambda: isinstance(app.screen, HostScreen), what="the host form")
        await type_into(pilot, "#title", "Atelier")
        await type_into(pilot, "#label", "Salle 3")
        await pilot.click("#start")
        await until(lambda: isinstance(app.screen, LobbyScreen), what="the lobby")
    requests = {id(m): m for m in asked if isinstance(m, HostRequested)}  # seen as it bubbles
    assert [r.label for r in requests.values()] == ["Salle 3"]


async def test_hosting_announces_the_label_and_counts_the_host() -> None:
    app = make_app(lang="en", interfaces=LOOP, advertise=True, join_timeout=3.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await type_into(pilot, "#title", "Atelier")
        await type_into(pilot, "#name", "Anne")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, LobbyScreen), 15, "the lobby")
        assert app.meeting is not None and app.meeting.advertiser is not None
        assert app.meeting.advertiser.label == "Cercle · Anne"
        assert app.meeting.advertiser.people == 1  # the facilitator is in


async def test_meeting_counts_the_host_from_the_start(tmp_path: Path) -> None:
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    hosted = await meeting.host(session, tmp_path / "t.cercle", interface="127.0.0.1",
                                remember=False)
    try:
        assert hosted.advertiser.people == 1
        assert hosted.advertiser.label == "Cercle · Anne"  # no label given: the default
    finally:
        await hosted.close()


# -- the same words on both screens --------------------------------------------------------------
async def test_the_lobby_shows_the_session_words() -> None:
    app = loopback_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await host_session(pilot)
        await pilot.pause()
        assert app.meeting is not None
        words = str(app.screen.query_one("#words", Static).render())
        assert app.meeting.fingerprint in words
        assert "people joining should see the same words" in words


async def test_a_joiner_sees_the_label_the_words_and_everyone_in() -> None:
    anne = make_app(lang="en", interfaces=LOOP, advertise=True, join_timeout=3.0)
    bob = make_app(lang="en", interfaces=LOOP, advertise=False, start="join", name="Bob")
    async with anne.run_test(size=(100, 30)) as pa, bob.run_test(size=(100, 30)) as pb:
        await pa.press("f2")
        await type_into(pa, "#title", "Atelier")
        await type_into(pa, "#name", "Anne")
        await type_into(pa, "#label", "Codev Lyon")
        await pa.press("enter")
        await until(lambda: isinstance(anne.screen, LobbyScreen), 15, "Anne's lobby")
        await pa.pause()
        assert anne.meeting is not None
        words = anne.meeting.fingerprint
        assert words == fingerprint(anne.meeting.node.tag or "")
        assert words in str(anne.screen.query_one("#words", Static).render())
        # Other sessions may run on this machine's loopback: Bob looks for Anne's.
        listing = bob.screen.query_one("#sessions", OptionList)
        assert isinstance(bob.screen, JoinScreen)

        def anne_in_list() -> str:
            prompts = [str(o.prompt) for o in listing.options]
            return next((p for p in prompts if words in p), "")

        await until(lambda: bool(anne_in_list()), 15, "Anne's session in Bob's list")
        assert anne_in_list() == f"Codev Lyon  ·  {words}  ·  1 in"
        # Bob takes it (if it is the only one, Enter alone does), types the code, is in.
        listing.focus()
        listing.highlighted = next(i for i, o in enumerate(listing.options)
                                   if words in str(o.prompt))
        await pb.press("enter")
        await type_into(pb, "#code", anne.meeting.node.code)
        await pb.press("enter")
        await until(lambda: isinstance(bob.screen, LiveScreen), 15, "Bob in the session")
        advertiser = anne.meeting.advertiser
        await until(lambda: advertiser.people == 2, 10, "Anne and Bob counted")


