"""The next meeting as an iCalendar file (RFC 5545)."""

from __future__ import annotations

import pytest

from model import export
from model.ics import escape_text, fold, to_ics
from model.session import Session
from tests.replicas import FakeClock, replica_of, sync_pair


def _unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    lines: list[str] = []
    for raw in text[:-2].split("\r\n"):
        if raw.startswith(" "):
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    return lines


def test_exact_calendar(session: Session, clock: FakeClock) -> None:
    bob = replica_of(session, "Bob")
    sync_pair(session, bob)
    session.add_item("action", "Appeler la DRH, vite; très vite", owner=bob.me, due="2027-01-10")
    done = session.add_item("action", "Fait")
    session.update_action(done, "done")
    session.set_next_meeting("2027-01-14", "18:30", "Salle B, 2e étage", minutes=150)
    text = export.render(session.snapshot, "ics").decode()
    sid = session.snapshot.info.id
    assert _unfold(text) == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Cercle//Cercle session export//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{sid}-next-meeting@cercle",
        "DTSTAMP:20260528T202641Z",  # when it was set: Bob's arrival moved the clock 1 s
        "DTSTART:20270114T183000",
        "DURATION:PT2H30M",
        "SUMMARY:Le cas de Claire — next meeting",
        "LOCATION:Salle B\\, 2e étage",
        "DESCRIPTION:Open actions:\\n- Appeler la DRH\\, vite\\; très vite (Bob) for"
        " 2027-01-10",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75
    assert "\n" not in text.replace("\r\n", "")


def test_whole_day_meeting_in_french(session: Session) -> None:
    session.set_next_meeting("2027-12-31")
    lines = _unfold(to_ics(session.snapshot, "fr"))
    assert "DTSTART;VALUE=DATE:20271231" in lines
    assert "DTEND;VALUE=DATE:20280101" in lines
    assert "SUMMARY:Le cas de Claire — prochaine rencontre" in lines
    assert not any(line.startswith(("DURATION", "LOCATION", "DESCRIPTION")) for line in lines)


def test_no_meeting_is_a_clear_error(session: Session) -> None:
    with pytest.raises(ValueError, match="no next meeting is set"):
        export.render(session.snapshot, "ics")


def test_escaping_and_folding() -> None:
    assert escape_text("a\\b;c,d\ne\r\nf\x00") == "a\\\\b\\;c\\,d\\ne\\nf"
    long = "DESCRIPTION:" + "é" * 80
    folded = fold(long)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert "".join([parts[0], *(p[1:] for p in parts[1:])]) == long
    assert all(p.startswith(" ") for p in parts[1:])
