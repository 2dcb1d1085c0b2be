"""The formatters every screen shares: values from another laptop never raise and
never reach the terminal as anything but characters."""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from tui import format as fmt

YEAR_10000_MS = 253_402_300_800_000


@pytest.mark.parametrize("ms", [-1, -86_400_000, -(10**18), math.nan, math.inf, -math.inf,
                                YEAR_10000_MS, 10**20, 0, None, "12", True])
def test_impossible_timestamps_show_a_dash(ms: object) -> None:
    assert fmt.day(ms) == fmt.MISSING
    assert fmt.day_and_time(ms) == fmt.MISSING
    assert fmt.moment(ms) is None


def test_the_last_and_first_timestamps_still_show() -> None:
    assert fmt.day(YEAR_10000_MS - 1).startswith("9999-12-3")  # local time may be a day back
    assert fmt.day(1).startswith("19")


def test_a_platform_refusing_the_local_time_falls_back_to_utc(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows raises OSError converting some times; elsewhere the range differs."""
    def refuse(moment: datetime) -> datetime:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(fmt, "_local", refuse)
    assert fmt.day(1_768_478_400_000) == "2026-01-15"
    assert fmt.day_and_time(1_768_478_400_000) == "2026-01-15 12:00"


@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)))
@settings(max_examples=200, deadline=None)
def test_any_number_is_a_day_or_a_dash(ms: float) -> None:
    shown = fmt.day(ms)
    assert shown == fmt.MISSING or len(shown) == 10


@pytest.mark.parametrize(("ms", "shown"), [(0, "00:00"), (61_000, "01:01"), (-5_000, "+00:05"),
                                           (10**15, "999:59"), (math.nan, "--:--"),
                                           (-math.inf, "--:--")])
def test_clock(ms: float, shown: str) -> None:
    assert fmt.clock_text(ms) == shown


def test_number_of_nothing() -> None:
    assert fmt.number(math.nan) == fmt.MISSING
    assert fmt.number(4.25) == "4.2"


@pytest.mark.parametrize(("raw", "shown"), [
    ("Anne", "Anne"),
    ("[/]", "[/]"),  # markup stays characters: Text never parses it
    ("a\x1b[31mb", "a\ufffd[31mb"),  # no escape sequence reaches the terminal
    ("\u202eevil", "evil"),  # no right-to-left override
    ("zero\u200bwidth\ufeff", "zerowidth"),
    ("two\nlines\r\n", "two lines "),
    ("Anne\u00a0Marie", "Anne\u00a0Marie"),  # a no-break space is a space
    ("👩\u200d💻", "👩\u200d💻"),  # an emoji sequence keeps its joiner
    ("\x00\x07\x7f\x9b", "\ufffd" * 4),
])
def test_line(raw: str, shown: str) -> None:
    assert fmt.line(raw) == shown


def test_long_texts_are_cut_to_width() -> None:
    assert fmt.line("x" * 10_000, 20) == "x" * 19 + "…"
    assert fmt.line("漢" * 100, 9) == "漢" * 4 + "…"  # wide characters count twice
    assert cell_len(fmt.line("漢" * 100, 10)) <= 10
    assert fmt.paragraph("a\nb" * 5_000, 10) == "a\nba\nba\nb…"


@given(st.text(), st.integers(min_value=2, max_value=300))
@settings(max_examples=300, deadline=None)
def test_a_line_is_one_safe_line_within_width(raw: str, width: int) -> None:
    shown = fmt.line(raw, width)
    assert cell_len(shown) <= width
    assert "\n" not in shown and "\x1b" not in shown
    assert not [c for c in shown if c != "\u200d" and unicodedata.category(c) in
                ("Cc", "Cf", "Cs", "Zl", "Zp")]


def test_unknown_statuses_and_kinds_are_shown_as_written() -> None:
    assert fmt.status_text("") == "open"
    assert fmt.status_text("in_progress") == "in progress"
    assert fmt.status_text("[bold]later") == "[bold]later"
    assert fmt.kind_text("question") == "Question"
    assert fmt.kind_text("x" * 100) == "x" * 23 + "…"
