"""The few symbols the screens draw (the floor, a raised hand, a paused timer...), chosen
for the terminal they are drawn in.

Rich lays a screen out by counting cells: an emoji such as 🎤 counts two, ⏸ one. A
terminal that draws a symbol in another width, or as a box, shifts every column after
it. Two kinds do:

- the Windows console (conhost: Windows 10's default, the console of an older Python
  install), whose fonts have no emoji and no dingbats: 🎤 and ✋ become boxes, and
  the rest of the line moves. Windows Terminal sets ``WT_SESSION`` and draws them all;
  so does VS Code's terminal (``TERM_PROGRAM=vscode``). The plain set uses characters
  every console font has (code page 437), one cell each;
- Terminal.app and iTerm2 (``TERM_PROGRAM`` ``Apple_Terminal`` or ``iTerm.app``) draw
  ⏸ as a two-cell emoji, and so the other characters that are emoji drawn as text by
  default (⚠ and ▶, like ⏸): there the pause is "||", the warning "!", the current
  phase "►". The emoji shown as emoji by default (🎤 ✋) count two cells everywhere.

``CERCLE_SYMBOLS=plain`` (or ``full``) chooses by hand, for a terminal that shows
boxes anyway. The choice is read at call time, so tests cover every branch.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["APPLE", "FULL", "PLAIN", "Symbols", "choose", "current"]


@dataclass(frozen=True)
class Symbols:
    floor: str  # who has the floor (speaks)
    hand: str  # a raised hand
    paused: str  # the timer is paused
    done: str  # done, answered, has spoken
    retained: str  # advice retained, case chosen
    current: str  # the current phase in the plan
    on_behalf: str  # written by a scribe for someone else
    warning: str  # look twice


FULL = Symbols(floor="🎤", hand="✋", paused="⏸", done="✓", retained="★", current="▶",
               on_behalf="✎", warning="⚠")
APPLE = dataclasses.replace(FULL, paused="||", warning="!", current="►")
PLAIN = Symbols(floor="»", hand="↑", paused="||", done="√", retained="*", current="►",
                on_behalf="~", warning="!")

_BY_NAME = {"full": FULL, "plain": PLAIN}
_APPLE_TERMINALS = ("Apple_Terminal", "iTerm.app")
_WINDOWS_TERMINALS = ("vscode",)  # TERM_PROGRAM of Windows terminals that draw emoji


def choose(environ: Mapping[str, str] | None = None) -> Symbols:
    """The symbols for the terminal ``environ`` (the process's environment when None)
    describes, on this system (``sys.platform``)."""
    env = os.environ if environ is None else environ
    forced = _BY_NAME.get(env.get("CERCLE_SYMBOLS", "").strip().lower())
    if forced is not None:
        return forced
    program = env.get("TERM_PROGRAM", "")
    if sys.platform == "win32" and not env.get("WT_SESSION") \
            and program not in _WINDOWS_TERMINALS:
        return PLAIN
    if program in _APPLE_TERMINALS:
        return APPLE
    return FULL


def current() -> Symbols:
    """The symbols for this process's terminal."""
    return choose()
