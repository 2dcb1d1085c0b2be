"""The join screen in the first minutes of a group: the session found is highlighted, its
words beside its label, look-alikes flagged; when nothing shows up, it says why it may be
and what to do, on each system."""

from __future__ import annotations

import sys

import pytest
from textual.widgets import Input, OptionList, Static

from sync.fingerprint import fingerprint
from tests.sync.mesh import until
from tests.tui.snapshot_apps.join import FakeBrowser, session
from tui import symbols
from tui.app import CercleApp, make_app
from tui.screens import join
from tui.screens.join import JoinScreen, discovery_advice


@pytest.fixture(autouse=True)
def network(monkeypatch: pytest.MonkeyPatch) -> type[FakeBrowser]:
    FakeBrowser.current = None
    FakeBrowser.fails = None
    monkeypatch.setattr(join, "Browser", FakeBrowser)
    return FakeBrowser


def join_app(lang: str = "en") -> CercleApp:
    return make_app(start="join", lang=lang, advertise=False, interfaces=["127.0.0.1"],
                    name="Bob")


async def browsing(app: CercleApp) -> FakeBrowser:
    await until(lambda: isinstance(app.screen, JoinScreen) and FakeBrowser.current is not None,
                what="the join form looking for sessions")
    assert FakeBrowser.current is not None
    return FakeBrowser.current


def listing(app: CercleApp) -> OptionList:
    return app.screen.query_one("#sessions", OptionList)


def prompts(app: CercleApp) -> list[str]:
    return [str(option.prompt) for option in listing(app).options]


def advice(app: CercleApp) -> Static | None:
    widget = app.screen.query_one("#discovery", Static)
    return widget if widget.display else None


# -- the list ---------------------------------------------------------------------------------
async def test_the_only_session_found_is_highlighted_and_enter_takes_it() -> None:
    app = join_app()
    async with app.run_test(size=(80, 24)) as pilot:
        network = await browsing(app)
        network.show(session("5f3a9c01"))
        await pilot.pause()
        assert listing(app).highlighted == 0 and listing(app).has_focus
        await pilot.press("enter")  # no arrow key first
        assert app.screen.query_one("#address", Input).value == \
            "cercle://192.168.1.20:47000/5f3a9c01"
        assert app.screen.query_one("#code", Input).has_focus


async def test_each_session_shows_its_words_and_look_alikes_are_flagged() -> None:
    app = join_app()
    async with app.run_test(size=(100, 30)) as pilot:
        network = await browsing(app)
        network.show(session("aaaa0001", "Cercle"), session("bbbb0002", "Atelier RH", 4),
                     session("cccc0003", "cercle"))
        await pilot.pause()
        shown = prompts(app)
        assert shown[0] == f"Atelier RH  ·  {fingerprint('bbbb0002')}  ·  4 in"
        warning = (f"{symbols.FULL.warning} same name as another session: compare the words "
                   "with the facilitator's screen")
        assert shown[1] == f"Cercle  ·  {fingerprint('aaaa0001')}  ·  1 in\n{warning}"
        assert shown[2] == f"cercle  ·  {fingerprint('cccc0003')}  ·  1 in\n{warning}"
        assert fingerprint("aaaa0001") != fingerprint("cccc0003")


async def test_the_same_in_french() -> None:
    app = join_app("fr")
    async with app.run_test(size=(100, 30)) as pilot:
        network = await browsing(app)
        network.show(session("aaaa0001", "Cercle"), session("cccc0003", "Cercle", 3))
        await pilot.pause()
        assert prompts(app)[1] == (
            f"Cercle  ·  {fingerprint('cccc0003')}  ·  présents : 3\n"
            f"{symbols.FULL.warning} même nom qu'une autre séance : comparez les mots avec "
            "l'écran de l'animateur")


async def test_the_highlight_stays_on_its_session_as_the_list_changes() -> None:
    app = join_app()
    async with app.run_test(size=(100, 30)) as pilot:
        network = await browsing(app)
        b, c = session("bbbb0002", "B"), session("cccc0003", "C")
        network.show(b, c)
        await pilot.pause()
        await pilot.press("down")
        assert listing(app).highlighted_option.id == c.name  # type: ignore[union-attr]
        # Someone joins B, and a session labelled A appears before both.
        network.show(session("aaaa0001", "A"), session("bbbb0002", "B", 2), c)
        await pilot.pause()
        assert listing(app).highlighted_option.id == c.name  # type: ignore[union-attr]
        network.show(session("aaaa0001", "A"), b)  # C closes: the one nearest is taken
        await pilot.pause()
        assert listing(app).highlighted_option.id == b.name  # type: ignore[union-attr]
        network.show()  # every session gone: nothing to take
        await pilot.pause()
        assert listing(app).highlighted is None
        network.show(c)  # back: highlighted again
        await pilot.pause()
        assert listing(app).highlighted == 0


# -- when nothing shows up --------------------------------------------------------------------
@pytest.mark.parametrize(("system", "says", "not_said"), [
    ("win32", "Windows Firewall", "Local Network"),
    ("darwin", "Local Network", "Firewall"),
    ("linux", "join link", "Firewall"),
])
def test_the_advice_fits_the_system(monkeypatch: pytest.MonkeyPatch, system: str, says: str,
                                    not_said: str) -> None:
    monkeypatch.setattr(sys, "platform", system)
    text = discovery_advice()
    assert says in text and not_said not in text
    assert "join link" in text and "address field" in text  # multicast: everywhere
    if system == "win32":
        assert "Public" in text and "Private" in text


def test_the_advice_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.i18n import set_language

    set_language("fr")
    try:
        monkeypatch.setattr(sys, "platform", "win32")
        assert "Pare-feu Windows" in discovery_advice()
        monkeypatch.setattr(sys, "platform", "darwin")
        assert "Réseau local" in discovery_advice()
    finally:
        set_language("en")


async def test_nothing_found_is_explained_after_a_few_seconds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = join_app()
    async with app.run_test(size=(80, 24)) as pilot:
        network = await browsing(app)
        await pilot.pause()
        assert prompts(app) == ["Looking for sessions… (or type the address below)"]
        assert advice(app) is None  # not yet: sessions take a moment to show up
        monkeypatch.setattr(sys, "platform", "win32")
        assert isinstance(app.screen, JoinScreen)
        app.screen._looked_long_enough()  # the timer's deadline (NOTHING_FOUND_AFTER)
        await pilot.pause()
        shown = advice(app)
        assert shown is not None and "Windows Firewall" in str(shown.render())
        assert prompts(app) == ["No session found yet (still looking)"]
        monkeypatch.setattr(sys, "platform", "linux")
        network.show(session("5f3a9c01"))  # it shows up after all: the advice goes
        await pilot.pause()
        assert advice(app) is None and listing(app).highlighted == 0


async def test_the_deadline_is_a_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert 3 <= join.NOTHING_FOUND_AFTER <= 10
    monkeypatch.setattr(join, "NOTHING_FOUND_AFTER", 0.05)
    app = join_app()
    async with app.run_test(size=(80, 24)):
        await browsing(app)
        await until(lambda: advice(app) is not None, what="the advice")


async def test_discovery_that_cannot_start_says_so() -> None:
    FakeBrowser.fails = OSError(19, "No such device")
    app = join_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: isinstance(app.screen, JoinScreen) and advice(app) is not None,
                    what="the explanation")
        await pilot.pause()
        text = str(advice(app).render())  # type: ignore[union-attr]
        assert "cannot be looked for on this computer ([Errno 19] No such device)" in text
        assert "join link" in text
        assert prompts(app) == ["Cannot look for sessions on this computer"]


async def test_an_error_is_shown_as_plain_text() -> None:
    FakeBrowser.fails = RuntimeError("[/] [bold]x\x1b[2J")
    app = join_app()
    async with app.run_test(size=(80, 24)):
        await until(lambda: isinstance(app.screen, JoinScreen) and advice(app) is not None,
                    what="the explanation")
        text = str(advice(app).render())  # type: ignore[union-attr]
        assert "[/] [bold]x" in text and "\x1b" not in text


