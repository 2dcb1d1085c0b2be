"""When to dial an address again: a sans-IO backoff, one per address.

After a failure the next attempt waits ``first`` seconds, doubling up to ``most``; a link
that comes up resets it. An address learned from another laptop (``Peers``) is given up
after ``give_up_after`` failures in a row, so a wrong or stale address costs a few
attempts, not an endless loop; the address a person typed or clicked is never given up.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DialBackoff"]

FIRST: Final = 0.2
MOST: Final = 5.0
GIVE_UP_AFTER: Final = 8


class DialBackoff:
    def __init__(self, *, first: float = FIRST, most: float = MOST,
                 give_up_after: int | None = None) -> None:
        self.first = first
        self.most = most
        self.give_up_after = give_up_after
        self.failures = 0

    @property
    def gave_up(self) -> bool:
        return self.give_up_after is not None and self.failures >= self.give_up_after

    def failed(self) -> float:
        """Note a failed attempt; seconds to wait before the next one."""
        self.failures += 1
        return min(self.most, self.first * 2.0 ** (self.failures - 1))

    def succeeded(self) -> None:
        self.failures = 0
