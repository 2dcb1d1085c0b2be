"""Interface strings in English and French.

Catalogs are TOML files in ``tui/locales`` (one per language, the same keys),
read once. ``t("key", name=...)`` formats the string of the current language
and falls back to English. The language comes from ``--lang``, then the
settings file, then the system: the interface language chosen in Windows or
macOS (which terminals there often leave out of the environment), then the
locale variables (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, ``LANGUAGE``).
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

from tui.platform import system_languages

LANGUAGES = ("en", "fr")
_current = "en"


@cache
def catalog(lang: str) -> dict[str, str]:
    text = resources.files("tui.locales").joinpath(f"{lang}.toml").read_text(encoding="utf-8")
    return {k: str(v) for k, v in tomllib.loads(text).items()}


def supported(tag: str) -> str | None:
    """The language of ``tag`` ("fr-CA", "fr_FR.UTF-8", "en") if Cercle has it."""
    lang = re.split(r"[-_.@]", tag, maxsplit=1)[0].lower()
    return lang if lang in LANGUAGES else None


def locale_language() -> str:
    """The system's language if Cercle has it: the first of the languages chosen in
    Windows or macOS that Cercle has, else the first locale variable set, else English."""
    for tag in system_languages():
        lang = supported(tag)
        if lang:
            return lang
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


def labelled(label: str, value: str) -> str:
    """"Label: value" as the language writes it (French puts a no-break space before the
    colon)."""
    return t("format.labelled", label=label, value=value)
