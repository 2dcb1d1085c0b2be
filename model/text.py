"""Strings from a document, made fit to show to people.

Anything another laptop wrote (a name, a title, an item's text, a protocol
from a file) may hold characters that fool the eye or the terminal: control
characters, zero-width characters, bidirectional overrides that show
``evil‮txt.exe`` backwards, unassigned code points, line separators. The
readers pass every such string through ``clean_line`` or ``clean_text``, so
the snapshot holds only what a person can see, within a length a screen can
hold. Markup (``[bold]``) is kept as typed: showing it as plain text is the
interface's job.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["ELLIPSIS", "clean_line", "clean_text", "name_key"]

ELLIPSIS: Final = "…"

# Control, format (zero-width, bidi overrides), private use, surrogates, unassigned,
# line and paragraph separators: never shown.
_DROPPED: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
# No-break spaces are typography (French puts one before ":" and "?"): kept as they are.
_NO_BREAK: Final = frozenset("\u00a0\u2007\u202f")
_SPACES: Final = re.compile(" {2,}")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def _visible(text: str) -> str:
    """``text`` without the dropped categories; whitespace (tabs too) becomes spaces."""
    out = []
    for char in text:
        if char in _NO_BREAK:
            out.append(char)
        elif char.isspace():
            out.append(" ")
        elif unicodedata.category(char) not in _DROPPED:
            out.append(char)
    return "".join(out)


def _line(text: str) -> str:
    # str.isprintable() is False exactly for the dropped categories and for spaces other
    # than " ": the common case (a plain line) skips the per-character walk.
    if not text.isprintable():
        text = _visible(text)
    if "  " in text or text[:1] == " " or text[-1:] == " ":
        text = _SPACES.sub(" ", text).strip(" ")
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def clean_line(text: str, limit: int) -> str:
    """One line of visible characters: dropped categories removed, whitespace runs made
    one space, NFC, at most ``limit`` characters (the last one "…" when cut)."""
    if not text:
        return ""
    return _cut(_line(text.replace("\n", " ").replace("\r", " ")), limit)


def clean_text(text: str, limit: int) -> str:
    """Like ``clean_line`` but keeps line breaks: one newline between non-empty lines."""
    if not text:
        return ""
    if "\n" not in text and "\r" not in text:
        return clean_line(text, limit)
    lines = (_line(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return _cut("\n".join(line for line in lines if line), limit)


def name_key(name: str) -> str:
    """What two names are compared by: case, accents and spacing do not count
    ("Anne", "anne" and "Anné" are one name)."""
    decomposed = unicodedata.normalize("NFKD", " ".join(name.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
