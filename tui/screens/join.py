"""Joining: sessions found on the network, or an address typed by hand, then the code.

The list shows each session's label, its words (the lobby shows the same ones: a label
is anyone's to choose, the words are not) and how many people are in; the first one is
highlighted, so Enter takes it. When nothing shows up for a few seconds, or discovery
cannot start at all, the screen says what may be wrong on this system and to paste the
join link instead.
"""

from __future__ import annotations

import sys
from collections import Counter

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from sync.discovery import Browser, FoundSession
from tui.format import LABEL_WIDTH, line, paragraph, plain
from tui.i18n import t
from tui.messages import JoinRequested
from tui.screens.base import CercleScreen
from tui.symbols import current as symbols
from tui.widgets.footer import Footer

NOTHING_FOUND_AFTER = 5.0  # seconds of finding nothing before saying what may be wrong


def discovery_advice() -> str:
    """What may keep sessions from showing up on this system, and what to do about it
    (``sys.platform`` read now): the firewall on Windows, the Local Network permission
    on macOS, and everywhere a network that blocks multicast."""
    lines = [t("join.none_yet")]
    if sys.platform == "win32":
        lines.append(t("join.why_windows"))
    elif sys.platform == "darwin":
        lines.append(t("join.why_macos"))
    lines.append(t("join.why_network"))
    return "\n".join(lines)


def _label_key(found: FoundSession) -> str:
    return line(found.label, LABEL_WIDTH).casefold()


def session_prompt(found: FoundSession, *, same_label: bool) -> Text:
    """One session of the list: label, words, people in; a warning when another session
    shows the same label. The label and the count come from the network: plain text."""
    text = plain(found.label, LABEL_WIDTH, style="bold")
    text.append("  ·  ")
    text.append(found.fingerprint, style="bold cyan")
    text.append("  ·  " + t("join.people", count=found.people), style="dim")
    if same_label:
        text.append(f"\n{symbols().warning} {t('join.same_label')}", style="bold yellow")
    return text


class JoinScreen(CercleScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "key.back_home")]

    def __init__(self, address: str = "", code: str = "", name: str = "", *,
                 interfaces: list[str] | None = None) -> None:
        super().__init__()
        self.address = address
        self.code = code
        self.person = name
        self.interfaces = interfaces  # where to look for sessions (None: everywhere)
        self.found: dict[str, FoundSession] = {}
        self.chosen: FoundSession | None = None  # the session picked in the list
        self._waited = False  # looked for NOTHING_FOUND_AFTER seconds
        self._unavailable: str | None = None  # why discovery could not run

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(t("join.heading"), classes="heading")
            yield Label(t("join.found"))
            yield OptionList(Option(t("join.looking"), disabled=True), id="sessions")
            yield Static(id="discovery")
            yield Label(t("join.address"))
            yield Input(value=line(self.address), placeholder="192.168.1.20:47000  /  cercle://…",
                        id="address")
            yield Label(t("join.code"))
            yield Input(value=line(self.code), placeholder="1234-5678", id="code")
            yield Label(t("join.name"))
            yield Input(value=line(self.person), placeholder=t("host.name_placeholder"), id="name")
            yield Static(id="status")
            with Horizontal(classes="buttons"):
                yield Button(t("join.join"), variant="primary", id="join")
                yield Button(t("button.cancel"), id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#discovery", Static).display = False
        self.query_one("#sessions" if not self.address else "#code").focus()
        self.set_timer(NOTHING_FOUND_AFTER, self._looked_long_enough)
        self.browse()

    @work(exclusive=True, exit_on_error=False, group="browse")
    async def browse(self) -> None:
        try:
            async with Browser(interfaces=self.interfaces, on_change=self._found) as browser:
                await browser.wait_for(lambda found: False)
        except Exception as exc:  # no multicast here, no network: typing an address still works
            self._unavailable = str(exc) or type(exc).__name__
            self._found({})

    def _looked_long_enough(self) -> None:
        self._waited = True
        self._found(self.found)

    def _found(self, sessions: dict[str, FoundSession]) -> None:
        """Show ``sessions``, the highlight kept on the session it was on (else on one
        near where it was, the first at first), so Enter always takes one."""
        self.found = sessions
        listing = self.query_one("#sessions", OptionList)
        was = listing.highlighted_option.id if listing.highlighted_option else None
        place = listing.highlighted or 0
        ordered = sorted(sessions.items(), key=lambda kv: (_label_key(kv[1]), kv[1].tag))
        labels = Counter(_label_key(found) for found in sessions.values())
        listing.set_options(
            [Option(session_prompt(found, same_label=labels[_label_key(found)] > 1), id=name)
             for name, found in ordered]
            or [Option(self._nothing_yet(), disabled=True)])
        names = [name for name, _ in ordered]
        if names:
            listing.highlighted = names.index(was) if was in names else \
                min(place, len(names) - 1)
        self._advise()

    def _nothing_yet(self) -> str:
        if self._unavailable is not None:
            return t("join.unavailable_short")
        return t("join.still_looking") if self._waited else t("join.looking")

    def _advise(self) -> None:
        """Say what may be wrong (and to use the link) while nothing shows up."""
        advice = self.query_one("#discovery", Static)
        if self._unavailable is not None:
            text = t("join.unavailable", error=line(self._unavailable))
        elif self._waited and not self.found:
            text = discovery_advice()
        else:
            advice.display = False
            return
        advice.update(Text(paragraph(text)))  # an error may quote anything: plain text
        advice.display = True

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        found = self.found.get(event.option.id or "")
        if found is not None:
            self.chosen = found
            self.query_one("#address", Input).value = \
                line(f"cercle://{found.host}:{found.port}/{found.tag}")
            self.query_one("#code", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name" or (event.input.id == "code" and
                                        self.query_one("#name", Input).value.strip()):
            self._join()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "join":
            self._join()
        else:
            self.app.pop_screen()

    def status(self, text: str, error: bool = False) -> None:
        """Say how joining goes (errors may quote what was typed or heard: plain text)."""
        widget = self.query_one("#status", Static)
        widget.update(Text(paragraph(text)))
        widget.set_class(error, "error")

    def _join(self) -> None:
        address = self.query_one("#address", Input).value.strip()
        code = self.query_one("#code", Input).value.strip()
        name = self.query_one("#name", Input).value.strip()
        if not address:
            self.status(t("join.need_address"), error=True)
            return
        if not name:
            self.status(t("join.need_name"), error=True)
            return
        self.status(t("join.connecting", address=address))
        self.post_message(JoinRequested(address=address, code=code, name=name))
