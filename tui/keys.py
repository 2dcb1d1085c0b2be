"""How keys are named on screen, and the Ctrl twin of every F-key.

Not every terminal hands the F-keys to Cercle: GNOME Terminal keeps F1 (its help) and
F10 (its menu), and a Mac sends F5 only with fn held (F5 alone dims the keyboard or
starts dictation). Ctrl+letter keys reach the app in Terminal.app, iTerm2, Windows
Terminal and GNOME Terminal alike, but too few are free for one twin each: the live
screen already uses twelve (Ctrl+B D E G K L N O R T U Y), and C, H, I, J, M, Q, S, Z
and V are the terminal's or the system's (copy, Backspace, Tab, Enter, quit, flow
control, suspend, Windows Terminal's paste); P opens the command palette. So one twin
serves them all: **Ctrl+F, then the F-key's number** (0 for F10), which also lists
the F-keys of the screen in use.

Names follow the keyboard: "F5" ("fn+F5" on macOS, read at call time), "Ctrl+E".
"""

from __future__ import annotations

import re
import sys

__all__ = ["FKEYS_TWIN", "fkey_number", "fkey_of_digit", "help_name", "name", "twin"]

FKEYS_TWIN = "ctrl+f"  # then the number: the twin of every F-key
_FKEY = re.compile(r"f(\d{1,2})")
_SPECIAL = {"escape": "Esc", "enter": "Enter", "space": "Space", "tab": "Tab",
            "left": "←", "right": "→", "up": "↑", "down": "↓"}


def fkey_number(key: str) -> int | None:
    """10 for "f10", None for a key that is not an F-key."""
    match = _FKEY.fullmatch(key)
    return int(match[1]) if match else None


def fkey_of_digit(digit: str) -> str | None:
    """The F-key a number typed after Ctrl+F stands for: "f5" for "5", "f10" for "0"."""
    if len(digit) != 1 or not digit.isdigit():
        return None
    return f"f{int(digit) or 10}"


def name(key: str) -> str | None:
    """An F-key as its keycap says it ("F5"; "fn+F5" on a Mac, where F5 alone does
    something else); None for other keys."""
    number = fkey_number(key)
    if number is None:
        return None
    return f"fn+F{number}" if sys.platform == "darwin" else f"F{number}"


def twin(key: str) -> str | None:
    """The Ctrl twin of an F-key ("Ctrl+F 5"; "Ctrl+F 0" for F10), else None."""
    number = fkey_number(key)
    if number is None or number > 10:
        return None
    return f"Ctrl+F {number % 10}"


def help_name(key: str) -> str:
    """A key in words for the help: "fn+F5 / Ctrl+F 5", "Ctrl+E", "Esc"."""
    fkey = name(key)
    if fkey is not None:
        other = twin(key)
        return f"{fkey} / {other}" if other else fkey
    *modifiers, last = key.split("+")
    words = [m.capitalize() for m in modifiers]
    return "+".join([*words, _SPECIAL.get(last, last.upper() if len(last) == 1 else last)])
