"""Interface strings in English and French.

Catalogs are TOML files in ``tui/locales`` (one per language, the same keys),
read once. ``t("key", name=...)`` formats the string of the current language
and falls back to English. The language comes from ``--lang``, then the
settings file, then the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``).
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "fr")
_current = "en"


@cache
def catalog(lang: str) -> dict[str, str]:
    text = resources.files("tui.locales").joinpath(f"{lang}.toml").read_text(encoding="utf-8")
    return {k: str(v) for k, v in tomllib.loads(text).items()}


def locale_language() -> str:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def set_language(lang: str | None) -> str:
    """Use ``lang`` (or the locale's language when None); returns the language in use."""
    global _current
    _current = lang if lang in LANGUAGES else locale_language()
    return _current


def language() -> str:
    return _current


def t(key: str, /, **values: Any) -> str:
    """The current language's text for ``key``, formatted with ``values``."""
    text = catalog(_current).get(key) or catalog("en").get(key) or key
    return text.format(**values) if values else text
