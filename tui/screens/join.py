"""Joining: sessions found on the network, or an address typed by hand, then the code."""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from sync.discovery import Browser, FoundSession
from tui.format import LABEL_WIDTH, line, paragraph, plain
from tui.i18n import t
from tui.messages import JoinRequested
from tui.screens.base import CercleScreen


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

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(t("join.heading"), classes="heading")
            yield Label(t("join.found"))
            yield OptionList(Option(t("join.looking"), disabled=True), id="sessions")
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
        self.query_one("#sessions" if not self.address else "#code").focus()
        self.browse()

    @work(exclusive=True, exit_on_error=False, group="browse")
    async def browse(self) -> None:
        with contextlib.suppress(Exception):  # no multicast here: typing an address still works
            async with Browser(interfaces=self.interfaces, on_change=self._found) as browser:
                await browser.wait_for(lambda found: False)

    def _found(self, sessions: dict[str, FoundSession]) -> None:
        self.found = sessions
        listing = self.query_one("#sessions", OptionList)
        listing.clear_options()
        if not sessions:
            listing.add_option(Option(t("join.looking"), disabled=True))
        for name, found in sorted(sessions.items(), key=lambda kv: kv[1].label):
            # All of it comes from the network: plain text on one line, never markup.
            listing.add_option(Option(plain(
                f"{line(found.label, LABEL_WIDTH)}  ·  {line(found.host, 40)}:{found.port}  ·  "
                + t("join.people", count=found.people)), id=name))

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
