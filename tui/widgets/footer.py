"""The footer: Textual's, with the screen's F-keys first and its keys made in their final
style.

On the live screen the F-keys (F2 to F10) are the facilitator's: the timer and the
phases. On a narrow terminal the footer shows what fits, so a screen that says so
(``FKEYS_FIRST``) has them first, ahead of the Ctrl keys everyone has (F1, the help,
stays with the app's keys).

Textual's footer rebuilds every key whenever the screen's bindings may have changed (each
focus change). A new ``FooterKey`` starts compact and is then bound to the footer's
``compact`` (False): each key was styled again twice per rebuild, a third of the app's
time in the interface tests and a cost while typing. Here each key starts as it will be,
so binding it changes nothing.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey  # not exported; the keys the footer makes

from tui import keys

__all__ = ["Footer"]


def _drives_the_screen(widget: Widget) -> bool:
    number = keys.fkey_number(widget.key) if isinstance(widget, FooterKey) else None
    return number is not None and 2 <= number <= 10


class Footer(TextualFooter):
    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        if getattr(self.screen, "FKEYS_FIRST", False):
            widgets.sort(key=lambda w: not _drives_the_screen(w))  # stable: else in order
        for widget in widgets:
            # The palette's key is not bound to the footer: it keeps its own style.
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget
