"""The interface language in tests comes from the locale variables a test sets, never
from the language of the computer (or CI runner) the tests run on."""

from __future__ import annotations

import pytest

from tui import i18n


@pytest.fixture(autouse=True)
def _no_system_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "system_languages", lambda: [])
