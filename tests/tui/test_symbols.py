"""The symbol set follows the terminal: emoji where they are drawn as Rich counts them,
characters every console font has in the Windows console, no two-cell pause on a Mac."""

from __future__ import annotations

import sys

import pytest
from rich.cells import cell_len

from tui import symbols
from tui.i18n import set_language
from tui.room import Member
from tui.symbols import APPLE, FULL, PLAIN, Symbols
from tui.widgets.phase_header import timer_text
from tui.widgets.roster import roster_text


@pytest.fixture(autouse=True)
def _any_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No terminal known: each test says which one it is in; English words."""
    for name in ("CERCLE_SYMBOLS", "WT_SESSION", "TERM_PROGRAM"):
        monkeypatch.delenv(name, raising=False)
    set_language("en")


def in_terminal(monkeypatch: pytest.MonkeyPatch, system: str, **env: str) -> Symbols:
    monkeypatch.setattr(sys, "platform", system)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return symbols.current()


def marks(chosen: Symbols) -> list[str]:
    return [getattr(chosen, field) for field in Symbols.__dataclass_fields__]


def test_windows_console_gets_plain_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    assert in_terminal(monkeypatch, "win32") is PLAIN


@pytest.mark.parametrize("env", [{"WT_SESSION": "5d1c0e2a-1b7e-4c39-9d3e-3b1d0c8a6f11"},
                                 {"TERM_PROGRAM": "vscode"}], ids=["windows-terminal", "vscode"])
def test_windows_terminal_draws_everything(monkeypatch: pytest.MonkeyPatch,
                                           env: dict[str, str]) -> None:
    assert in_terminal(monkeypatch, "win32", **env) is FULL


@pytest.mark.parametrize("program", ["Apple_Terminal", "iTerm.app"])
def test_mac_terminals_get_a_one_cell_pause(monkeypatch: pytest.MonkeyPatch,
                                            program: str) -> None:
    chosen = in_terminal(monkeypatch, "darwin", TERM_PROGRAM=program)
    assert chosen is APPLE
    assert (chosen.paused, chosen.warning, chosen.current) == ("||", "!", "►")
    assert chosen.floor == FULL.floor and chosen.hand == FULL.hand


@pytest.mark.parametrize("system", ["darwin", "linux"])
def test_other_terminals_draw_everything(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    assert in_terminal(monkeypatch, system) is FULL
    assert in_terminal(monkeypatch, system, TERM_PROGRAM="ghostty") is FULL


@pytest.mark.parametrize(("forced", "expected"), [("plain", PLAIN), ("FULL", FULL)])
def test_chosen_by_hand(monkeypatch: pytest.MonkeyPatch, forced: str,
                        expected: Symbols) -> None:
    assert in_terminal(monkeypatch, "win32", CERCLE_SYMBOLS=forced) is expected
    assert in_terminal(monkeypatch, "linux", CERCLE_SYMBOLS=forced) is expected


# What code page 437 draws for the bytes 1 to 31 (Python's codec keeps them controls).
DOS_GLYPHS = "☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"


def test_plain_symbols_are_in_every_console_font() -> None:
    for mark in marks(PLAIN):
        for char in mark:  # the console's own code page: Consolas and Lucida have it
            assert char in DOS_GLYPHS or char.encode("cp437"), char
        assert cell_len(mark) == len(mark)  # one cell a character


# Emoji whose default presentation is text (Emoji=Yes, Emoji_Presentation=No): Rich
# counts one cell, Terminal.app and iTerm2 draw two.
TEXT_DEFAULT_EMOJI = {"⏸", "⚠", "▶", "✔", "☑", "✖", "❤", "☀", "✏", "☎"}


def test_apple_symbols_draw_as_rich_counts_them() -> None:
    assert not TEXT_DEFAULT_EMOJI & set(marks(APPLE))
    assert TEXT_DEFAULT_EMOJI & set(marks(FULL))  # what the Mac set is for
    assert {cell_len(mark) for mark in marks(APPLE)} <= {1, 2}


def test_the_roster_in_the_windows_console(monkeypatch: pytest.MonkeyPatch) -> None:
    in_terminal(monkeypatch, "win32")
    people = [Member("a", "Anne", online=True, me=True, roles=("facilitator",)),
              Member("b", "Bob", online=True, me=False, hand_raised_at=1.0, done=True,
                     speaker=True)]
    shown = roster_text(people).plain
    assert "Bob » F" not in shown and "Bob » ↑1 √" in shown
    assert "↑ hand √ done\n» floor" in shown  # the legend says the same symbols
    assert not {"🎤", "✋", "✓"} & set(shown)


def test_the_paused_timer_on_a_mac(monkeypatch: pytest.MonkeyPatch) -> None:
    from model.protocols import builtin_protocols
    from model.session import Session

    session = Session.create(title="T", protocol=builtin_protocols()["codev"], name="Anne")
    session.start()
    session.pause()
    in_terminal(monkeypatch, "darwin", TERM_PROGRAM="Apple_Terminal")
    text, _ = timer_text(session.snapshot, 0)
    assert "|| paused" in text.plain and "⏸" not in text.plain
