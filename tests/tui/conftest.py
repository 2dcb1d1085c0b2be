"""The interface language in tests comes from the locale variables a test sets, never
from the language of the computer (or CI runner) the tests run on; the symbols drawn,
from no terminal either."""

from __future__ import annotations

import pytest

from tui import i18n


@pytest.fixture(autouse=True)
def _no_system_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "system_languages", lambda: [])


@pytest.fixture(autouse=True)
def _english_unless_chosen() -> None:
    """The language is process-wide: each test starts in English, whatever the test
    before it in this process chose (tests run in several processes, in any order)."""
    i18n.set_language("en")


@pytest.fixture(autouse=True)
def _full_symbols(monkeypatch: pytest.MonkeyPatch) -> None:
    """Screens draw the full symbol set (🎤 ✋ ⏸ ...), whatever terminal runs the tests:
    snapshots taken in Terminal.app or a Windows console look the same as anywhere.
    ``test_symbols.py`` clears this to test each terminal."""
    monkeypatch.setenv("CERCLE_SYMBOLS", "full")
