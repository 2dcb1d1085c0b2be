"""Strings from a document, cleaned before anyone sees them (``model.text``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.text import clean_line, clean_text, name_key


@pytest.mark.parametrize(("raw", "shown"), [
    ("Anne", "Anne"),
    ("  Anne \t  Martin  ", "Anne Martin"),
    ("[/]", "[/]"),  # markup is text: showing it plainly is the interface's job
    ("[bold]x", "[bold]x"),
    ("zero\u200bwidth\u200d", "zerowidth"),
    ("evil\u202etxt.exe", "eviltxt.exe"),  # a bidi override
    ("\u2066isolate\u2069", "isolate"),
    ("bell\x07 and\x1b[31m escape", "bell and[31m escape"),
    ("line\u2028separator", "line separator"),
    ("private\ue000use", "privateuse"),
    ("e\u0301", "é"),  # NFC
    ("\u200b\u200d", ""),
    ("one\ntwo", "one two"),
    ("Phase\u00a0: quoi\u202f?", "Phase\u00a0: quoi\u202f?"),  # French no-break spaces stay
    ("a\u3000\u2003b", "a b"),
])
def test_clean_line(raw: str, shown: str) -> None:
    assert clean_line(raw, 60) == shown


def test_cut_with_an_ellipsis() -> None:
    assert clean_line("B" * 10_000, 60) == "B" * 59 + "…"
    assert clean_line("word " * 30, 12) == "word word w…"
    assert clean_line("exact", 5) == "exact"


def test_clean_text_keeps_single_line_breaks() -> None:
    assert clean_text("first\r\n\n\n  second \u202e\nthird", 100) == "first\nsecond\nthird"
    assert clean_text("x" * 2500, 2000) == "x" * 1999 + "…"


def test_names_compare_without_case_accents_or_spacing() -> None:
    assert name_key("Anne") == name_key("anne") == name_key("Anné") == name_key(" ANNE ")
    assert name_key("Anne") != name_key("Annie")


@given(st.text(max_size=300), st.integers(1, 80))
def test_clean_line_is_visible_and_short(raw: str, limit: int) -> None:
    out = clean_line(raw, limit)
    assert len(out) <= limit
    assert out == out.strip(" ") and "  " not in out
    assert all(c.isprintable() or c in "\u00a0\u2007\u202f" for c in out)
    assert clean_line(out, limit) == out  # cleaning twice changes nothing
