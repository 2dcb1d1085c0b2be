"""The footer: Textual's, with its keys made in their final style.

Textual's footer rebuilds every key whenever the screen's bindings may have changed (each
focus change). A new ``FooterKey`` starts compact and is then bound to the footer's
``compact`` (False): each key was styled again twice per rebuild, a third of the app's
time in the interface tests and a cost while typing. Here each key starts as it will be,
so binding it changes nothing.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey  # not exported; the keys the footer makes

__all__ = ["Footer"]


class Footer(TextualFooter):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            # The palette's key is not bound to the footer: it keeps its own style.
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget
