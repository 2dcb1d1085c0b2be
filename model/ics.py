"""The next meeting as an iCalendar file (RFC 5545), written with the standard library.

One ``VEVENT`` in one ``VCALENDAR``. The time is a *floating* local time (no
time zone): the group meets in one room, at the same clock time for everyone,
so the calendar shows it at that hour wherever it is opened. A meeting without
a time is a whole-day event. The event's ``UID`` is derived from the session
id, so importing a corrected export updates the event instead of adding one.
Lines end with CRLF and are folded at 75 octets, as the RFC requires.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from model.snapshot import Snapshot
from model.timestamps import EPOCH, utc_from_ms

PRODID = "-//Cercle//Cercle session export//EN"

_TEXTS = {
    "en": {"next": "next meeting", "open": "Open actions", "for": "for"},
    "fr": {"next": "prochaine rencontre", "open": "Actions en cours", "for": "pour"},
}


def escape_text(text: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and newline escaped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    out = out.replace("\n", "\\n")
    return "".join(c for c in out if c == "\t" or (ord(c) >= 0x20 and c != "\x7f"))


def fold(line: str) -> str:
    """Fold a content line into chunks of at most 75 octets (§3.1), never
    splitting a UTF-8 character; continuation lines start with a space."""
    chunks: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            chunks.append(current)
            current, size, limit = " ", 1, 75
        current += char
        size += width
    chunks.append(current)
    return "\r\n".join(chunks)


def _stamp(*candidates: int) -> str:
    """DTSTAMP (required) from the first of ``candidates`` that is set (not 0) and a
    real time; the epoch when peers' clocks gave none."""
    times = (utc_from_ms(ms) for ms in candidates if ms)
    moment = next((m for m in times if m is not None), EPOCH)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest or not hours else "")


def to_ics(snap: Snapshot, lang: str = "en") -> str:
    """The next meeting of ``snap`` as an ``.ics`` text; ValueError if none is set."""
    meeting = snap.control.meeting
    if meeting is None:
        raise ValueError("no next meeting is set in this session (the facilitator sets "
                         "its date, time and place)")
    words = _TEXTS.get(lang[:2], _TEXTS["en"])
    day = date.fromisoformat(meeting.date)
    group = snap.group.name or snap.info.title
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH", "BEGIN:VEVENT",
        f"UID:{snap.info.id}-next-meeting@cercle",
        f"DTSTAMP:{_stamp(meeting.set_at, snap.info.created)}",
    ]
    if meeting.time:
        hour, minute = (int(part) for part in meeting.time.split(":"))
        start = datetime(day.year, day.month, day.day, hour, minute)
        lines.append(f"DTSTART:{start.strftime('%Y%m%dT%H%M%S')}")
        if meeting.minutes:
            lines.append(f"DURATION:{_duration(meeting.minutes)}")
    else:
        lines.append(f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}")
        lines.append(f"DTEND;VALUE=DATE:{(day + timedelta(days=1)).strftime('%Y%m%d')}")
    lines.append("SUMMARY:" + escape_text(f"{group} — {words['next']}"))
    if meeting.place:
        lines.append("LOCATION:" + escape_text(meeting.place))
    open_actions = [it for it in snap.items_of("action")
                    if (it.status or "open") in ("open", "in_progress", "carried_over")]
    if open_actions:
        described = [f"{words['open']}:"]
        for item in open_actions:
            owner = snap.owner_label(item)
            described.append(f"- {' '.join(item.text.split())}"
                             + (f" ({owner})" if owner else "")
                             + (f" {words['for']} {item.due}" if item.due else ""))
        lines.append("DESCRIPTION:" + escape_text("\n".join(described)))
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
