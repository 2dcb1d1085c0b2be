"""Every interface string exists in English and French."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tui.i18n import catalog, labelled, locale_language, set_language, t

TUI = Path(__file__).parents[2] / "tui"


def used_keys() -> set[str]:
    """Catalog keys the code asks for (literal t("...") calls and binding descriptions)."""
    keys: set[str] = set()
    for source in TUI.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        keys |= set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z_.]+)"', text))
        keys |= set(re.findall(r'Binding\([^)]*"((?:key)\.[a-z_]+)"', text))
    return keys


def test_catalogs_have_the_same_keys() -> None:
    assert set(catalog("en")) == set(catalog("fr"))


def test_every_key_used_exists() -> None:
    missing = sorted(used_keys() - set(catalog("en")))
    assert missing == []
    assert len(used_keys()) > 100


def test_kinds_statuses_and_roles_are_translated() -> None:
    from model.schema import ACTION_STATUSES, ITEM_KINDS, ROLES

    for lang in ("en", "fr"):
        cat = catalog(lang)
        for kind in ITEM_KINDS:
            assert f"kind.{kind}" in cat and f"kinds.{kind}" in cat
        for status in ACTION_STATUSES:
            assert f"status.{status}" in cat
        for role in ROLES:
            assert f"role.{role}" in cat


def test_french_is_french() -> None:
    fr, en = catalog("fr"), catalog("en")
    same = [k for k in fr if fr[k] == en[k] and not k.startswith(("kind.", "home.title"))]
    # A few words are the same in both languages (Notes, Questions, Contrat≠Contract...).
    assert len(same) < 12, same


@pytest.mark.parametrize(("env", "lang"), [("fr_FR.UTF-8", "fr"), ("en_GB.UTF-8", "en"),
                                           ("C", "en"), ("fr_CA", "fr")])
def test_language_from_the_locale(monkeypatch: pytest.MonkeyPatch, env: str, lang: str) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", env)
    assert locale_language() == lang
    assert set_language(None) == lang
    set_language("en")


def test_formatting() -> None:
    set_language("fr")
    try:
        assert t("header.phase", n=2, total=6) == "phase 2 sur 6 :"
    finally:
        set_language("en")
    assert t("no.such.key") == "no.such.key"


def test_a_label_and_its_value_as_each_language_writes_them() -> None:
    assert labelled("Facilitator", "Anne") == "Facilitator: Anne"
    set_language("fr")
    try:
        # A no-break space before the colon: French typography, and never a line that
        # starts with the colon.
        assert labelled("Animation", "Anne") == "Animation\u00a0: Anne"
    finally:
        set_language("en")
