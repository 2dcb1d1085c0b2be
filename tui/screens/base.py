"""Screens whose key descriptions follow the interface language.

Bindings are declared with catalog keys as descriptions; each screen
translates its own copy when it is created, so switching language at run
time (settings) affects the screens opened afterwards.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from textual.binding import Binding, BindingsMap
from textual.screen import ModalScreen, Screen

from tui.i18n import t

if TYPE_CHECKING:
    from tui.room import Room


def translate_bindings(bindings: BindingsMap) -> BindingsMap:
    """A copy of ``bindings`` whose descriptions (catalog keys) are translated."""
    translated = BindingsMap()
    for key, items in bindings.key_to_bindings.items():
        translated.key_to_bindings[key] = [
            dataclasses.replace(b, description=t(b.description)) if b.description else b
            for b in items
        ]
    return translated


class CercleScreen(Screen[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bindings = translate_bindings(self._bindings)


class CercleModal(ModalScreen[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bindings = translate_bindings(self._bindings)


class RoomDialog(CercleModal):
    """A dialog about the session in ``room``; Escape closes it (dismissing None)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "key.close")]

    def __init__(self, room: Room) -> None:
        super().__init__()
        self.room = room
