"""Times written by peers (milliseconds since the Unix epoch) turned into datetimes
without ever raising.

A timestamp in a session comes from some laptop's clock, or from a modified
client: it may be negative, NaN, infinite or centuries away.
``datetime.fromtimestamp`` raises on such values (``OSError`` for any negative
time on Windows, ``OverflowError`` or ``ValueError`` elsewhere), and one bad
value must not stop an export. Conversions here go through ``timedelta``
arithmetic, which behaves the same on every platform, and answer None for a
time no clock could have written.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A day short of the end of year 9999, so that shifting to any time zone stays in range.
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
_LATEST_MS = (LATEST - EPOCH) // timedelta(milliseconds=1)


def utc_from_ms(ms: object) -> datetime | None:
    """The UTC time ``ms`` milliseconds after the epoch; None when ``ms`` is not a
    number from 0 to the end of year 9999 (negative, NaN, infinite, too large)."""
    if isinstance(ms, bool) or not isinstance(ms, int | float):
        return None
    if isinstance(ms, float) and not math.isfinite(ms):
        return None
    if not 0 <= ms <= _LATEST_MS:
        return None
    return EPOCH + timedelta(milliseconds=ms)


def local_from_ms(ms: object) -> datetime | None:
    """The same instant on this computer's clock (naive local time); None as in
    ``utc_from_ms``. Where the system cannot place the instant in its time zone
    (Windows refuses years past 3000), the UTC time is given instead."""
    moment = utc_from_ms(ms)
    if moment is None:
        return None
    try:
        return moment.astimezone().replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return moment.replace(tzinfo=None)
