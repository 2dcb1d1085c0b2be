"""When to write the session file: a sans-IO policy fed the time.

- Local changes are saved a moment after they are made (``local_batch``: a script adding a
  hundred items saves a few times, not a hundred) and always *before* they leave the laptop,
  so a laptop restarted from its file never reuses a change number its peers hold.
- Received changes are saved once arrivals pause for ``quiet`` seconds, and at the latest
  ``within`` seconds after the first one still unsaved: a save writes the whole session
  (20–30 ms with 3,000 items) and the app's keys wait meanwhile. Nothing is at risk: the
  peers hold what they sent.
- A failed save is tried again ``retry`` seconds later; local changes wait for it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SavePolicy"]

LOCAL_BATCH: Final = 0.002
QUIET: Final = 1.0
WITHIN: Final = 5.0
RETRY: Final = 1.0


class SavePolicy:
    def __init__(self, *, local_batch: float = LOCAL_BATCH, quiet: float = QUIET,
                 within: float = WITHIN, retry: float = RETRY) -> None:
        self.local_batch = local_batch
        self.quiet = quiet
        self.within = max(quiet, within)
        self.retry = retry
        self.unsaved_local = False
        self._local_at: float | None = None
        self._received_first: float | None = None
        self._received_at: float | None = None
        self._retry_at: float | None = None
        self.failing = False  # the last save failed

    def local(self, now: float) -> None:
        """A local change was made."""
        self.unsaved_local = True
        if self._local_at is None:
            self._local_at = now + self.local_batch

    def received(self, now: float) -> None:
        """Changes from peers were applied."""
        if self._received_first is None:
            self._received_first = now
        self._received_at = min(now + self.quiet, self._received_first + self.within)

    def wake_at(self) -> float | None:
        times = [t for t in (self._local_at, self._received_at, self._retry_at) if t is not None]
        if self.failing:
            return self._retry_at
        return min(times) if times else None

    def due(self, now: float) -> bool:
        when = self.wake_at()
        return when is not None and now >= when

    @property
    def pending(self) -> bool:
        """Something is waiting to be written."""
        return self.unsaved_local or self._received_first is not None

    def saved(self, ok: bool, now: float) -> None:
        """The result of a save that covered everything pending."""
        if ok:
            self.unsaved_local = self.failing = False
            self._local_at = self._received_first = self._received_at = self._retry_at = None
        else:
            self.failing = True
            self._retry_at = now + self.retry
