"""Every F-key has a Ctrl twin that every terminal delivers (Ctrl+F, then the number),
F-keys are named as the keyboard says (fn+F5 on a Mac), and Ctrl+P opens the palette."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

import pytest
from textual.binding import Binding
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, OptionList, Select, Static, TabbedContent, Tabs

import tui.screens
from model.protocols import builtin_protocols
from model.session import Session
from tests.sync.mesh import until
from tui import keys
from tui.app import CercleApp, make_app
from tui.room import Room
from tui.screens.dialogs import Confirm, FunctionKeys, Help
from tui.screens.home import HomeScreen
from tui.screens.join import JoinScreen
from tui.screens.live import LiveScreen

LOOP = ["127.0.0.1"]


def live_app(**options: Any) -> tuple[CercleApp, Session]:
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    return make_app("live", lang="en", interfaces=LOOP, advertise=False, room=Room(session),
                    **options), session


def shown(app: CercleApp) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


# -- names -------------------------------------------------------------------------------
@pytest.mark.parametrize(("system", "f5", "f10"), [
    ("darwin", "fn+F5", "fn+F10"), ("linux", "F5", "F10"), ("win32", "F5", "F10")])
def test_fkeys_are_named_as_the_keyboard_says(monkeypatch: pytest.MonkeyPatch, system: str,
                                               f5: str, f10: str) -> None:
    monkeypatch.setattr(sys, "platform", system)
    assert (keys.name("f5"), keys.name("f10"), keys.name("ctrl+e")) == (f5, f10, None)
    assert keys.help_name("f10") == f"{f10} / Ctrl+F 0"
    app = make_app(lang="en", advertise=False)
    assert app.get_key_display(Binding("f5", "")) == f5
    assert app.get_key_display(Binding("ctrl+e", "")) == "^e"


def test_other_keys_in_words() -> None:
    assert [keys.help_name(k) for k in ("ctrl+e", "escape", "ctrl+p")] == \
        ["Ctrl+E", "Esc", "Ctrl+P"]
    assert [keys.fkey_of_digit(d) for d in ("1", "5", "0", "a", "")] == \
        ["f1", "f5", "f10", None, None]


# -- the twin is one no one else takes ------------------------------------------------------
# What terminals keep or turn into other keys (copy, Backspace, Tab, Enter, quit and
# flow control, suspend, Windows Terminal's paste), and the palette's key.
TAKEN = {"ctrl+c", "ctrl+h", "ctrl+i", "ctrl+j", "ctrl+m", "ctrl+q", "ctrl+s", "ctrl+z",
         "ctrl+v", "ctrl+p"}


def every_binding() -> list[tuple[str, str, str]]:
    """(class, key, action) of every binding of Cercle's screens, the app, and the Textual
    widgets they hold."""
    classes: list[type[Any]] = [CercleApp, Input, OptionList, DataTable, Select,
                                TabbedContent, Tabs]
    for module in pkgutil.iter_modules(tui.screens.__path__):
        loaded = importlib.import_module(f"tui.screens.{module.name}")
        classes += [c for c in vars(loaded).values()
                    if isinstance(c, type) and "BINDINGS" in vars(c)]
    found = []
    for cls in classes:
        for binding in vars(cls).get("BINDINGS", []):
            if isinstance(binding, Binding):
                found += [(cls.__name__, key.strip(), binding.action)
                          for key in binding.key.split(",")]
    return found


def test_the_twin_is_free_everywhere() -> None:
    assert keys.FKEYS_TWIN not in TAKEN
    users = [(cls, action) for cls, key, action in every_binding() if key == keys.FKEYS_TWIN]
    assert users == [("CercleApp", "function_keys")]


def test_every_fkey_has_a_twin() -> None:
    fkeys = {key for _, key, _ in every_binding() if keys.fkey_number(key) is not None}
    assert {"f1", "f2", "f5", "f6", "f7", "f8", "f9", "f10"} <= fkeys
    assert all(keys.twin(key) for key in fkeys)


# -- Ctrl+F, then the number -----------------------------------------------------------------
async def test_ctrl_f_then_a_number_is_that_fkey() -> None:
    app, session = live_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: isinstance(app.screen, LiveScreen), what="the live screen")
        await pilot.pause()
        await pilot.press("ctrl+f")
        assert isinstance(app.screen, FunctionKeys)
        listed = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert listed == ["1  Help", "2  Plan", "5  Start/pause", "6  Prev. phase",
                          "7  Next phase", "8  More time", "9  Roles", "0  End"]
        await pilot.press("5")  # F5: start the timer
        await until(lambda: session.snapshot.control.phase.status == "running", what="F5")
        assert isinstance(app.screen, LiveScreen)
        await pilot.press("ctrl+f", "7")  # F7: next phase (nobody else is waited for)
        await until(lambda: session.snapshot.control.phase.index == 1, what="F7")
        await pilot.press("ctrl+f", "0")  # F10: end, which asks first
        await until(lambda: isinstance(app.screen, Confirm), what="F10")
        await pilot.press("escape")
        await pilot.press("ctrl+f", "1")  # F1: help, taken by GNOME Terminal
        await until(lambda: isinstance(app.screen, Help), what="F1")
        assert "F5 / Ctrl+F 5" in shown(app) and "Ctrl+F" in shown(app)
        assert "Focus Next" not in shown(app)  # Textual's own keys, in English: not ours


async def test_ctrl_f_lists_only_what_the_screen_offers_now() -> None:
    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    guest = Session(session.doc.fork())
    guest.join("Bob")
    app = make_app("live", lang="en", interfaces=LOOP, advertise=False, room=Room(guest))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+f")
        listed = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert listed == ["1  Help"]  # a consultant: no facilitator keys
        await pilot.press("7")  # not offered: nothing happens, the list stays
        assert isinstance(app.screen, FunctionKeys)
        await pilot.press("escape")
        assert isinstance(app.screen, LiveScreen)
        assert guest.snapshot.control.phase.index == 0


async def test_ctrl_f_on_home_and_typing_after_it() -> None:
    app = make_app(lang="en", interfaces=LOOP, advertise=False)
    async with app.run_test() as pilot:
        assert isinstance(app.screen, HomeScreen)
        app.screen.query_one("#path", Input).focus()
        await pilot.press("ctrl+f", "ctrl+f")  # again: never mind
        assert isinstance(app.screen, HomeScreen)
        assert app.screen.query_one("#path", Input).value == ""
        await pilot.press("ctrl+f", "3")  # F3: join
        await until(lambda: isinstance(app.screen, JoinScreen), what="the join form")


# -- where people learn it ----------------------------------------------------------------
async def test_ctrl_p_opens_the_palette() -> None:
    app = make_app(lang="en", interfaces=LOOP, advertise=False)
    async with app.run_test() as pilot:
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), what="the palette")


async def test_home_and_footer_say_ctrl_p_and_ctrl_f() -> None:
    app = make_app(lang="fr", interfaces=LOOP, advertise=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        home = str(app.screen.query_one("#home-keys", Static).render())
        assert "Ctrl+P" in home and "Ctrl+F" in home
        footer = [str(key.render()) for key in app.screen.query("FooterKey")]
        assert any("Toutes les actions" in key for key in footer)
        assert any("Touches F" in key for key in footer)


async def test_a_mac_says_fn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    app, _ = live_app()
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        footer = " ".join(str(key.render()) for key in app.screen.query("FooterKey"))
        assert "fn+F5" in footer and " F5" not in footer
        await pilot.press("f1")
        await until(lambda: isinstance(app.screen, Help), what="the help")
        assert "fn+F5 / Ctrl+F 5" in shown(app) and "fn+F10 / Ctrl+F 0" in shown(app)
