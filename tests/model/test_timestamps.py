"""Times from peers' clocks never make an export raise (negative, NaN, infinite, year 10,000)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import msgspec
import pytest

from model import export, timestamps
from model.session import Session
from model.snapshot import Snapshot
from model.timestamps import local_from_ms, utc_from_ms

BAD_TIMES = [-1, -86_400_000, math.nan, math.inf, -math.inf, 10**18,
             253_402_300_800_000]  # the last is 10000-01-01T00:00Z


def test_real_times_convert() -> None:
    assert utc_from_ms(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert utc_from_ms(1_790_000_000_000) == datetime(2026, 9, 21, 14, 13, 20, tzinfo=UTC)
    assert utc_from_ms(1_790_000_000_000.5) is not None
    assert local_from_ms(1_790_000_000_000) == datetime.fromtimestamp(1_790_000_000)


@pytest.mark.parametrize("ms", [*BAD_TIMES, True, "1790000000000", None])
def test_no_time_is_none(ms: object) -> None:
    assert utc_from_ms(ms) is None
    assert local_from_ms(ms) is None


def test_latest_time_still_converts_in_every_zone() -> None:
    latest = (timestamps.LATEST - timestamps.EPOCH).total_seconds() * 1000
    assert utc_from_ms(latest) == timestamps.LATEST
    assert local_from_ms(latest) is not None


def test_local_time_falls_back_to_utc_where_the_system_refuses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing(datetime):
        def astimezone(self, tz: object = None) -> datetime:  # type: ignore[override]
            raise OSError(22, "Invalid argument")  # Windows' localtime past year 3000

    moment = Refusing(3001, 1, 1, tzinfo=UTC)
    monkeypatch.setattr(timestamps, "utc_from_ms", lambda ms: moment)
    assert local_from_ms(1) == datetime(3001, 1, 1)


def _with_times(snap: Snapshot, when: float) -> Snapshot:
    """``snap`` as a peer with a broken or hostile clock would have written it."""
    s = msgspec.structs.replace
    control = snap.control
    return s(snap,
             info=s(snap.info, created=when),
             items=tuple(s(it, created=when) for it in snap.items),
             control=s(control, meeting=s(control.meeting, set_at=when)))


@pytest.mark.parametrize("when", BAD_TIMES)
def test_every_export_survives_any_time(session: Session, when: float) -> None:
    session.add_item("question", "Qui décide ?")
    session.set_next_meeting("2027-01-14", "18:30", "Salle B", minutes=90)
    snap = _with_times(session.snapshot, when)
    for fmt in export.ALL_FORMATS:
        assert export.render(snap, fmt, "fr")
    data = json.loads(export.render(snap, "json"))
    assert data["created"] is None
    assert {item["created"] for item in data["items"]} == {None}
    assert export.to_markdown(snap).count(export.UNKNOWN_TIME) >= 1
    # DTSTAMP is required: with no real time anywhere it is the epoch.
    assert "DTSTAMP:19700101T000000Z" in export.render(snap, "ics").decode()
