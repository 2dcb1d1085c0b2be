"""Slow down repeated wrong-code attempts from one address.

SPAKE2 allows one guess per handshake and no offline attack, so the only way to guess a short
join code is to try many handshakes; a growing delay per address makes that impractical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FailureLimiter"]


@dataclass
class _Record:
    failures: int
    last_failure: float


class FailureLimiter:
    """Per-address count of failed handshakes and the delay it earns; time comes from clock.

    The first free_attempts attempts are answered at once; after that the delay doubles with
    each failure, from base_delay up to max_delay, counted from the last failure. An address is
    forgotten forget_after seconds after its last failure, or at once on a success.

    Key it by IP address, not (IP, port): the port changes with every connection. Parallel
    attempts would all share one delay, so the listener must also run at most one handshake
    per address at a time (and answer others with a "busy" Reject).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        free_attempts: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        forget_after: float = 600.0,
    ) -> None:
        # A first attempt is always answered at once, so fewer than one free attempt means nothing.
        if free_attempts < 1:
            raise ValueError(f"free_attempts must be >= 1, not {free_attempts}")
        if not 0 <= base_delay <= max_delay:
            raise ValueError(f"need 0 <= base_delay <= max_delay, got {base_delay} and {max_delay}")
        if forget_after < 0:
            raise ValueError(f"forget_after must be >= 0, not {forget_after}")
        self._clock = clock
        self._free_attempts = free_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._forget_after = forget_after
        self._records: dict[str, _Record] = {}

    def _live(self, addr: str, now: float) -> _Record | None:
        record = self._records.get(addr)
        if record is not None and now - record.last_failure >= self._forget_after:
            del self._records[addr]
            return None
        return record

    def failures(self, addr: str) -> int:
        """Failures currently remembered for addr."""
        record = self._live(addr, self._clock())
        return 0 if record is None else record.failures

    def delay_for(self, addr: str) -> float:
        """Seconds to wait before answering the next attempt from addr (0 if none is due)."""
        now = self._clock()
        record = self._live(addr, now)
        if record is None or record.failures < self._free_attempts:
            return 0.0
        extra = record.failures - self._free_attempts
        # Capping the exponent keeps 2**extra from overflowing a float for a persistent guesser.
        delay = min(self._max_delay, self._base_delay * 2.0 ** min(extra, 1023))
        return max(0.0, record.last_failure + delay - now)

    def record_failure(self, addr: str) -> int:
        """Note a failed handshake from addr and return its failure count."""
        now = self._clock()
        self._forget_expired(now)
        record = self._records.get(addr)
        if record is None:
            record = self._records[addr] = _Record(failures=0, last_failure=now)
        record.failures += 1
        record.last_failure = now
        return record.failures

    def record_success(self, addr: str) -> None:
        """Forget addr's failures: whoever is there knows the code."""
        self._records.pop(addr, None)

    def _forget_expired(self, now: float) -> None:
        # Done on each failure so the table cannot grow without bound from many addresses.
        expired = [
            addr
            for addr, record in self._records.items()
            if now - record.last_failure >= self._forget_after
        ]
        for addr in expired:
            del self._records[addr]

    def __len__(self) -> int:
        """Number of addresses currently tracked (expired ones may linger until a failure)."""
        return len(self._records)
