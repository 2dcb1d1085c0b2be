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
    from textual.widgets import Button

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


class RoomForm(RoomDialog):
    """A room dialog with a form: Enter or the ``save`` button saves, another button does
    what ``_other`` says (False: not ours), and anything else closes the dialog."""

    def _save(self) -> None:
        raise NotImplementedError

    def _other(self, button: str) -> bool:
        return False

    def on_input_submitted(self) -> None:
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self._save()
        elif not self._other(event.button.id or ""):
            self.dismiss(None)
