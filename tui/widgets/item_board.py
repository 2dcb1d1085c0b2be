"""The items of a session, one tab per kind, updated in place.

Rows are keyed by item id and updated where they stand, so a remote edit
never moves the reader's cursor; new items by others carry a marker until the
reader has looked at their tab.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from contextlib import suppress

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, TabbedContent, TabPane
from textual.widgets.data_table import ColumnKey

from model.schema import ITEM_KINDS
from model.snapshot import Item, Snapshot
from tui.format import NAME_WIDTH, TEXT_MAX, item_state, kind_text, plain
from tui.i18n import t
from tui.symbols import current as symbols

NEW = "●"
AUTHOR_WIDTH = 10


def _lines(text: str, width: int) -> int:
    return max(1, len(textwrap.wrap(text, width)) if text else 1)


def pane_id(kinds: list[str], kind: str) -> str:
    """The id of ``kind``'s tab: the kind itself when it is one of ours, else its place
    (a kind written by another program may be any text, and ids may not)."""
    return f"tab-{kind}" if kind in ITEM_KINDS else f"tab-other-{kinds.index(kind)}"


def kinds_of(snap: Snapshot) -> list[str]:
    """The item kinds this session's protocol uses, in the order phases use them."""
    kinds: list[str] = []
    for phase in snap.phases:
        for kind in phase.kinds:
            if kind not in kinds:
                kinds.append(kind)
    for item in snap.items:  # items of other kinds (another program, a later version)
        if item.kind not in kinds:
            kinds.append(item.kind)
    return kinds or ["note"]


class ItemTable(DataTable[Text | str]):
    """One kind's items."""


class ItemBoard(Vertical):
    """Tabs of items by kind; ``show`` diffs the rows against a snapshot."""

    class Chosen(Message):
        """The reader pressed Enter on an item."""

        def __init__(self, item_id: str) -> None:
            super().__init__()
            self.item_id = item_id

    DEFAULT_CSS = """
    ItemBoard { height: 1fr; }
    ItemBoard ItemTable { height: 1fr; }
    """

    def __init__(self, snap: Snapshot, is_mine: Callable[[str], bool], *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.kinds = kinds_of(snap)
        self._is_mine = is_mine
        self._mine: dict[str, bool] = {}  # who created an item never changes
        self.seen: set[str] = {i.id for i in snap.items}
        self._rows: dict[str, dict[str, tuple[object, ...]]] = {k: {} for k in self.kinds}
        self._texts: dict[str, str] = {}  # item id -> text + state as shown (row heights)
        self._drawn: dict[str, tuple[object, ...]] = {}  # item id -> (item, new?, people)
        self._labels: dict[str, str] = {}
        self._snap = snap

    def compose(self) -> ComposeResult:
        # Tables are kept by kind: TabbedContent mounts its panes a moment later.
        self._tables: dict[str, ItemTable] = {}
        with TabbedContent(id="tabs"):
            for kind in self.kinds:
                title = Content(kind_text(kind, plural=True))  # plain: a kind may be any text
                with TabPane(title, id=pane_id(self.kinds, kind)):
                    table = ItemTable(cursor_type="row", zebra_stripes=True)
                    table.add_column(" ", key="new", width=1)
                    table.add_column(t("column.author"), key="author", width=AUTHOR_WIDTH)
                    table.add_column(t("column.text"), key="text", width=40)
                    self._tables[kind] = table
                    yield table

    def on_mount(self) -> None:
        self.show(self._snap)

    def _text_width(self) -> int:
        # The other columns and each column's padding (2): the text wraps in what is left.
        if not self.size.width:
            return 40
        return max(20, self.size.width - (1 + AUTHOR_WIDTH) - 3 * 2 - 2)

    def on_resize(self) -> None:
        width = self._text_width()
        for kind in self.kinds:
            table = self.table(kind)
            column = table.columns.get(ColumnKey("text"))
            if column is not None and column.width != width:
                column.width = width
                self._rebuild(kind)

    def _rebuild(self, kind: str) -> None:
        """Re-add a table's rows so their heights follow the new text width."""
        table = self.table(kind)
        cursor = table.cursor_row
        table.clear()
        self._rows[kind].clear()
        self._drawn.clear()
        self.show(self._snap)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)

    def table(self, kind: str) -> ItemTable:
        return self._tables[kind]

    @property
    def active_kind(self) -> str:
        tabs = self.query("#tabs")
        active = tabs.first(TabbedContent).active if tabs else ""
        panes = {pane_id(self.kinds, kind): kind for kind in self.kinds}
        return panes.get(active, self.kinds[0])

    def focus_kind(self, kind: str) -> None:
        """Show ``kind``'s tab (once the tabs exist: they mount after the board)."""
        if kind not in self.kinds:
            return
        try:
            self.query_one("#tabs", TabbedContent).active = pane_id(self.kinds, kind)
        except NoMatches:
            self.call_after_refresh(self.focus_kind, kind)

    def selected_item(self) -> str | None:
        table = self.table(self.active_kind)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    def mine(self, item_id: str) -> bool:
        if item_id not in self._mine:
            self._mine[item_id] = self._is_mine(item_id)
        return self._mine[item_id]

    def author_text(self, item: Item, snap: Snapshot) -> Text:
        """The author as the column shows it (a DataTable reads a str as markup)."""
        name = snap.author_name(item)
        if not name:
            return Text(t("author.anonymous"))
        return plain(name, NAME_WIDTH) + (f" {symbols().on_behalf}" if item.on_behalf else "")

    def show(self, snap: Snapshot) -> None:
        """Bring every table up to ``snap`` without moving cursors."""
        self._snap = snap
        visible = self.active_kind
        by_kind: dict[str, list[Item]] = {k: [] for k in self.kinds}
        for item in snap.items:
            by_kind.setdefault(item.kind, []).append(item)
        people = snap.participants
        for kind in self.kinds:
            table = self.table(kind)
            rows = self._rows[kind]
            items = by_kind.get(kind, [])
            cursor_item = self.selected_item() if kind == visible else None
            # Only items whose snapshot object changed need any work (the builder keeps
            # the same object for an untouched item), unless the names did change.
            changed = [i for i in items if self._drawn.get(i.id, (None,))[0] is not i
                       or self._drawn[i.id][2] is not people]
            if any(i.id in rows and self._texts.get(i.id) != i.text + item_state(i, snap)
                   for i in changed):
                # An edited text may need more or fewer lines: re-add the rows.
                table.clear()
                rows.clear()
            wanted = {i.id for i in items}
            for item_id in [r for r in rows if r not in wanted]:
                table.remove_row(item_id)
                del rows[item_id]
            for item in items:
                is_new = item.id not in self.seen and not self.mine(item.id)
                if item.id in rows and self._drawn.get(item.id) == (item, is_new, people):
                    continue
                self._drawn[item.id] = (item, is_new, people)
                state = item_state(item, snap)
                body = plain(item.text, TEXT_MAX)  # wrapped in its cell, on one paragraph
                if state:  # the state follows the text: narrow screens keep room for words
                    body.append(f"  {state}", style="bold green")
                cells = (Text(NEW, style="bold yellow") if is_new else "",
                         self.author_text(item, snap), body)
                if item.id not in rows:
                    # Rows are as tall as their wrapped text (or state) needs.
                    text_width = table.columns[ColumnKey("text")].width
                    table.add_row(*cells, key=item.id, height=_lines(body.plain, text_width))
                elif rows[item.id] != cells:
                    for column, value in zip(("new", "author", "text"), cells, strict=True):
                        table.update_cell(item.id, column, value, update_width=False)
                rows[item.id] = cells
                self._texts[item.id] = item.text + state
            if cursor_item is not None and cursor_item in rows:
                row = table.get_row_index(cursor_item)
                if row != table.cursor_row:
                    table.move_cursor(row=row, animate=False)
            fresh = sum(1 for i in items if i.id not in self.seen and not self.mine(i.id))
            label = f"{kind_text(kind, plural=True)} ({len(rows)})" + (
                f" {NEW}{fresh}" if fresh else "")
            if self._labels.get(kind) != label:  # setting a label costs a layout
                with suppress(NoMatches, ValueError):  # before the tabs are mounted
                    tabs = self.query_one("#tabs", TabbedContent)
                    tabs.get_tab(pane_id(self.kinds, kind)).label = Text(label)
                    self._labels[kind] = label

    def mark_seen(self, kind: str | None = None) -> None:
        """The reader looked at ``kind``'s tab: its items are no longer new."""
        kind = kind or self.active_kind
        self.seen |= set(self._rows.get(kind, {}))
        self.show(self._snap)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.mark_seen(self.active_kind)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(str(event.row_key.value)))
