"""Where a person writes: the kinds the current phase allows them, and the text."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Select

from tui.format import NAME_WIDTH, kind_text, plain
from tui.i18n import t


class Composer(Horizontal):
    """Posts ``Composer.Submitted`` on Enter; keeps the text while the screen repaints."""

    class Submitted(Message):
        def __init__(self, kind: str, text: str, on_behalf: str = "") -> None:
            super().__init__()
            self.kind = kind
            self.text = text
            self.on_behalf = on_behalf  # a scribe writing for someone else

    DEFAULT_CSS = """
    Composer { height: 3; }
    Composer Select { width: 22; }
    Composer #speaker { width: 18; display: none; }
    Composer.scribe #speaker { display: block; }
    Composer Input { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Select[str]([], id="kind", allow_blank=True, prompt=t("composer.kind"))
        yield Select[str]([], id="speaker", allow_blank=True, prompt=t("composer.myself"))
        yield Input(placeholder=t("composer.placeholder"), id="text")

    def speakers(self, people: list[tuple[str, str]] | None) -> None:
        """Let a scribe write for ``people`` ((name, id) pairs); None hides the choice."""
        self.set_class(people is not None, "scribe")
        if people is not None and people != getattr(self, "_people", None):
            self._people = people
            select = self.query_one("#speaker", Select)
            current = select.value
            select.set_options([(plain(name, NAME_WIDTH), pid) for name, pid in people])
            if current in {pid for _, pid in people}:
                select.value = current

    def allow(self, kinds: list[str], *, ended: bool = False) -> None:
        """Offer ``kinds``; with none, the phase is for listening (or the session ended)."""
        select = self.query_one("#kind", Select)
        entry = self.query_one("#text", Input)
        current = select.value
        options = [(plain(kind_text(k)), k) for k in kinds]
        if [o[1] for o in options] != getattr(self, "_kinds", None):
            self._kinds = [o[1] for o in options]
            select.set_options(options)
            if current in self._kinds:
                select.value = current
            elif self._kinds:
                select.value = self._kinds[0]
        if not kinds and entry.has_focus:
            self._give_back_focus = True  # a listening phase took the text box away
        entry.disabled = not kinds
        select.disabled = not kinds
        if kinds and getattr(self, "_give_back_focus", False):
            self._give_back_focus = False
            self.call_after_refresh(entry.focus)
        entry.placeholder = t("composer.placeholder") if kinds else \
            t("composer.ended") if ended else t("composer.listen")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        select = self.query_one("#kind", Select)
        text = event.value.strip()
        if not text or select.value is Select.NULL:
            return
        speaker = self.query_one("#speaker", Select).value
        on_behalf = str(speaker) if self.has_class("scribe") and speaker is not Select.NULL \
            else ""
        self.post_message(self.Submitted(str(select.value), text, on_behalf))
        event.input.value = ""
