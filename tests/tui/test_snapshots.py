"""What each screen looks like: SVG snapshots of fixed scenarios.

Update them after an intended visual change with
``uv run pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the
report or the SVGs before committing. Apps are passed as instances built by
the scenario modules (a path would let Textual reuse a cached screenshot).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.snapshot_apps import floor, home, host, join, live, review
from tests.tui.snapshot_apps import group as group_scenes
from tui.screens import join as join_screen

SMALL = (80, 24)
LARGE = (160, 48)


async def steady_cursor(pilot: Pilot[Any]) -> None:
    """Stop text cursors blinking, so a slow run cannot catch one half-way (hidden)."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_home(snap_compare: Any, lang: str) -> None:
    assert snap_compare(home.app(lang), terminal_size=SMALL, run_before=steady_cursor)


def test_host_form(snap_compare: Any) -> None:
    assert snap_compare(host.app(), terminal_size=SMALL, run_before=steady_cursor)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> type[join.FakeBrowser]:
    """The join screen's network shows what the test says (nothing, until it does)."""
    join.FakeBrowser.current = None
    join.FakeBrowser.fails = None
    monkeypatch.setattr(join_screen, "Browser", join.FakeBrowser)
    return join.FakeBrowser


def test_join(snap_compare: Any, network: type[join.FakeBrowser]) -> None:
    assert snap_compare(join.app(), terminal_size=SMALL, run_before=steady_cursor)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_join_sessions_found(snap_compare: Any, network: type[join.FakeBrowser],
                             lang: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        assert network.current is not None
        network.current.show(*join.ROOM)
        await steady_cursor(pilot)

    assert snap_compare(join.app(lang), terminal_size=SMALL, run_before=run_before)


@pytest.mark.parametrize(("system", "lang"), [("win32", "en"), ("win32", "fr"),
                                              ("darwin", "en"), ("linux", "fr")])
def test_join_nothing_found(snap_compare: Any, network: type[join.FakeBrowser],
                            monkeypatch: pytest.MonkeyPatch, system: str, lang: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        monkeypatch.setattr(sys, "platform", system)
        screen = pilot.app.screen
        assert isinstance(screen, join_screen.JoinScreen)
        screen._looked_long_enough()  # the few seconds are up
        await steady_cursor(pilot)

    assert snap_compare(join.app(lang), terminal_size=SMALL, run_before=run_before)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("role", live.ROLES)
def test_live(snap_compare: Any, role: str, lang: str, size: tuple[int, int]) -> None:
    assert snap_compare(live.app(role, lang), terminal_size=size, run_before=steady_cursor)


def test_review_summary(snap_compare: Any) -> None:
    assert snap_compare(review.app(), terminal_size=SMALL, run_before=steady_cursor)


def test_review_timeline(snap_compare: Any) -> None:
    assert snap_compare(review.app(), terminal_size=SMALL, press=["down"],
                        run_before=steady_cursor)


# -- the floor and the plan (facilitator's dialogs, and the speaker on every screen) ------

def pressing(*keys: str):  # type: ignore[no-untyped-def]
    """Wait for the live screen's first render, press ``keys``, then steady the cursors."""
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        await steady_cursor(pilot)
    return run_before


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_floor_dialog(snap_compare: Any, lang: str) -> None:
    assert snap_compare(floor.bob_speaks(lang), terminal_size=SMALL,
                        run_before=pressing("ctrl+g"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_plan_dialog(snap_compare: Any, lang: str) -> None:
    assert snap_compare(floor.bob_speaks(lang), terminal_size=SMALL, run_before=pressing("f2"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_participation_dialog(snap_compare: Any, lang: str) -> None:
    assert snap_compare(floor.bob_speaks(lang), terminal_size=SMALL,
                        run_before=pressing("f2", "right"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_live_round_for_a_consultant(snap_compare: Any, lang: str) -> None:
    assert snap_compare(floor.round_at_bob(lang), terminal_size=SMALL, run_before=pressing())


# -- the group: choosing the case, the follow-up, the evaluation, the next meeting --
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_cases_dialog(snap_compare: Any, lang: str) -> None:
    assert snap_compare(group_scenes.cases(lang), terminal_size=SMALL,
                        run_before=pressing("ctrl+b"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_follow_up_opens_by_itself(snap_compare: Any, lang: str) -> None:
    assert snap_compare(group_scenes.follow_up(lang), terminal_size=SMALL,
                        run_before=pressing())


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_evaluation_dialog(snap_compare: Any, lang: str) -> None:
    assert snap_compare(group_scenes.evaluation(lang), terminal_size=SMALL,
                        run_before=pressing("ctrl+l"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_next_meeting_dialog(snap_compare: Any, lang: str) -> None:
    assert snap_compare(group_scenes.meeting(lang), terminal_size=SMALL,
                        run_before=pressing("ctrl+y"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_review_of_actions_across_meetings(snap_compare: Any, lang: str) -> None:
    assert snap_compare(group_scenes.review_history(lang), terminal_size=SMALL,
                        run_before=pressing("down", "down"))


# -- keys: the F-keys' twin (Ctrl+F), for terminals that keep F-keys to themselves --------
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_function_keys_dialog(snap_compare: Any, lang: str) -> None:
    assert snap_compare(floor.bob_speaks(lang), terminal_size=SMALL,
                        run_before=pressing("ctrl+f"))
