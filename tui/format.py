"""How the session's values look on screen: names, dates, times, statuses, lines.

Most of what a screen shows was written on another laptop (names, titles,
items, timestamps, even the protocol's texts), so every function here takes
any value and returns text that is safe to show: never a crash, never a
terminal escape, never wider than asked. The strings returned are plain text:
a widget gets them as ``rich.text.Text`` (``plain``), never as markup.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text

from model.control import NextMeeting
from model.records import Evaluation
from model.snapshot import Item, Snapshot
from tui.i18n import catalog, language, t
from tui.symbols import current as symbols

MISSING = "—"  # a value that cannot be shown (unknown, or out of any sensible range)

# How many terminal cells a value may take where one line is expected.
NAME_WIDTH = 32
TITLE_WIDTH = 80
LABEL_WIDTH = 60  # a session's label, heard from the network
LINE_WIDTH = 200  # an item or a choice on one line (lists cut it, the edit dialog has it all)
TEXT_MAX = 2_000  # characters of a text shown wrapped (an item on the board, an instruction)

# Whitespace other than the space: each becomes one space on a single line.
_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\x1c-\x1f\x85\u2028\u2029]+")
_JOINER = "\u200d"  # joins emoji into one picture: harmless, kept


def clean(text: str, *, newlines: bool = False) -> str:
    """``text`` with nothing a terminal would take for a command or that would
    move other text: control characters (escape sequences, bells, nulls) show as
    U+FFFD; invisible format characters (right-to-left overrides, zero-width
    spaces, byte-order marks) are dropped; line breaks become spaces unless
    ``newlines``."""
    if text.isprintable():  # nearly always: one pass in C
        return text
    out = []
    for char in text:
        if char.isprintable() or char == _JOINER or (char == "\n" and newlines):
            out.append(char)
        elif _BREAKS.match(char):
            out.append(" ")
        else:
            category = unicodedata.category(char)
            if category in ("Zs", "Co", "Cn"):  # no-break spaces, private use, newer Unicode
                out.append(char)
            elif category != "Cf":  # Cc (controls) and Cs (lone surrogates)
                out.append("\ufffd")
    return "".join(out)


def cut(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` terminal cells, ending in "…" when cut."""
    if len(text) * 2 <= width or cell_len(text) <= width:
        return text
    used = 0
    for index, char in enumerate(text):
        used += get_character_cell_size(char)
        if used > width - 1:  # room for the "…"
            return text[:index] + "…"
    return text


def line(text: str, width: int = LINE_WIDTH) -> str:
    """``text`` as one safe line of at most ``width`` cells."""
    return cut(clean(_BREAKS.sub(" ", text[: width * 4])), width)


def paragraph(text: str, limit: int = TEXT_MAX) -> str:
    """``text`` made safe to show wrapped, keeping its line breaks, cut after ``limit``
    characters."""
    shown = clean(text[: limit + 1].replace("\r\n", "\n"), newlines=True)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def plain(text: str, width: int = LINE_WIDTH, style: str = "") -> Text:
    """``text`` on one line, as plain ``Text`` (a widget never reads it as markup)."""
    return Text(line(text, width), style=style)


def name(snap: Snapshot, participant_id: str) -> str:
    """A participant's name, on one line of at most ``NAME_WIDTH`` cells."""
    return line(snap.name_of(participant_id), NAME_WIDTH)


# -- numbers, dates and times --------------------------------------------------------------
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_MS = 253_402_300_799_999  # 9999-12-31 23:59:59.999 UTC: datetime stops there
CLOCK_MAX_S = 999 * 60 + 59  # a timer shows at most 999:59


def number(value: float) -> str:
    """One decimal, with the decimal comma in French."""
    if not math.isfinite(value):
        return MISSING
    text = f"{value:.1f}"
    return text.replace(".", ",") if language() == "fr" else text


def _local(moment: datetime) -> datetime:
    """``moment`` in this computer's time zone (a separate step: platforms refuse some)."""
    return moment.astimezone()


def moment(ms: object) -> datetime | None:
    """The local date and time of a timestamp in milliseconds, or None when it is
    not one: not a number, NaN, infinite, before 1970 or after the year 9999.

    Computed without ``datetime.fromtimestamp``, which raises for negative values
    on Windows and past the platform's range elsewhere.
    """
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        return None
    if not math.isfinite(ms) or not 0 < ms <= _LAST_MS:
        return None
    utc = _EPOCH + timedelta(milliseconds=ms)
    try:
        return _local(utc)
    except (OverflowError, OSError, ValueError):  # near the ends of the range, or Windows
        return utc


def day(ms: object) -> str:
    """``2026-03-31`` for a timestamp in milliseconds, or "—"."""
    when = moment(ms)
    return when.date().isoformat() if when is not None else MISSING


def day_and_time(ms: object) -> str:
    """``2026-03-31 18:30`` for a timestamp in milliseconds, or "—"."""
    when = moment(ms)
    return when.strftime("%Y-%m-%d %H:%M") if when is not None else MISSING


def clock_text(ms: float) -> str:
    """``mm:ss`` (``+mm:ss`` in overtime), at most ``999:59``; ``--:--`` for no number."""
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not math.isfinite(ms):
        return "--:--"
    sign = "+" if ms < 0 else ""
    seconds = min(int(abs(ms)) // 1000, CLOCK_MAX_S)
    return f"{sign}{seconds // 60:02d}:{seconds % 60:02d}"


# -- words of the interface for values of the document ---------------------------------------
def _word(prefix: str, value: str, width: int = 24) -> str:
    """Our word for ``value`` (a status, a kind...), or the value itself on one short
    line when another program wrote one we do not know."""
    key = f"{prefix}.{value}"
    return t(key) if key in catalog("en") else line(value, width)


def status_text(status: str) -> str:
    """An action's status in words (an empty status is "open")."""
    return _word("status", status or "open")


def kind_text(kind: str, *, plural: bool = False) -> str:
    """An item kind in words: "question", or "Questions" for a tab."""
    return _word("kinds" if plural else "kind", kind)


def item_state(item: Item, snap: Snapshot) -> str:
    """What follows an item's text: answered, retained, or an action's owner, due
    date and status."""
    if item.kind == "question":
        return f"{symbols().done} " + t("state.answered") if item.answered else ""
    if item.kind in ("advice", "hypothesis"):
        return f"{symbols().retained} " + t("state.retained") if item.retained else ""
    if item.kind == "action":
        parts = ["→ " + name(snap, item.owner) if item.owner else "",
                 line(item.due, 24), status_text(item.status)]
        return " · ".join(p for p in parts if p)
    return ""


# -- what the group decided ---------------------------------------------------------------------
def case_line(snap: Snapshot) -> str:
    """'Case: <title> (<proposer>)' once a case is chosen, else ""."""
    item = snap.item(snap.control.case) if snap.control.case else None
    if item is None:
        return ""
    return t("case.line", title=line(" ".join(item.text.split()), TITLE_WIDTH),
             client=name(snap, item.speaker))


def meeting_text(meeting: NextMeeting) -> str:
    """The date, time, length and place of a next meeting, on one line."""
    when = line(meeting.date, 24)
    if meeting.time:
        when += f" {line(meeting.time, 12)}"
        if meeting.minutes:
            when += f" ({meeting.minutes} min)"
    else:
        when += f" ({t('meeting.whole_day')})"
    return when + (f", {line(meeting.place, TITLE_WIDTH)}" if meeting.place else "")


def evaluation_text(evaluation: Evaluation) -> str:
    """'mean 4.5 / 5 (ratings: 2)', or "" with no rating."""
    if not evaluation.count:
        return ""
    return t("evaluation.summary", mean=number(evaluation.mean), count=evaluation.count)
