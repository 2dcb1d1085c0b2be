"""Changes that arrived before what they depend on: a sans-IO pool fed the time.

Pushes from several authors cross, so a change often arrives a moment before the change
it depends on. Verified changes wait here, outside the document, until every dependency
is held; they then leave in an order where each comes after what it depends on. One still
waiting ``ask_after`` seconds later makes the node ask every peer for what it lacks; one
still waiting ``drop_after`` seconds later is dropped (it will come again with the next
exchange, if an honest peer has what it needs). The pool is bounded: past ``max_changes``
or ``max_bytes`` the oldest waiting changes are dropped first.

Keeping them out of Automerge matters: a document holding changes it cannot apply sends
nothing to a peer that has nothing, and cannot forget them without being rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from model.changes import DecodedChange
from sync.wire import SignedHead

__all__ = ["PendingPool", "Waiting"]

ASK_AFTER: Final = 1.0
DROP_AFTER: Final = 3.0
MAX_CHANGES: Final = 20_000
MAX_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Waiting:
    """A verified change held back, with what proved it and who sent it."""

    change: DecodedChange
    items: int
    head: SignedHead | None  # the signed head for exactly this change, if one came
    sender: int  # the link it came on
    arrived: float


class PendingPool:
    def __init__(self, *, ask_after: float = ASK_AFTER, drop_after: float = DROP_AFTER,
                 max_changes: int = MAX_CHANGES, max_bytes: int = MAX_BYTES) -> None:
        self.ask_after = ask_after
        self.drop_after = drop_after
        self.max_changes = max_changes
        self.max_bytes = max_bytes
        self._waiting: dict[bytes, Waiting] = {}
        self._size = 0
        self._asked_at: float | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, change_hash: bytes) -> bool:
        return change_hash in self._waiting

    def get(self, change_hash: bytes) -> Waiting | None:
        return self._waiting.get(change_hash)

    def entries(self) -> list[Waiting]:
        return list(self._waiting.values())

    def add(self, entries: Iterable[Waiting]) -> list[Waiting]:
        """Hold ``entries``; returns those dropped to stay within bounds (oldest first)."""
        for entry in entries:
            if entry.change.hash not in self._waiting:
                self._waiting[entry.change.hash] = entry
                self._size += entry.change.size
        dropped = []
        while self._waiting and (len(self._waiting) > self.max_changes
                                 or self._size > self.max_bytes):
            oldest = min(self._waiting.values(), key=lambda w: w.arrived)
            dropped.append(self._pop(oldest.change.hash))
        return dropped

    def _pop(self, change_hash: bytes) -> Waiting:
        entry = self._waiting.pop(change_hash)
        self._size -= entry.change.size
        return entry

    def release(self, known: set[bytes]) -> list[Waiting]:
        """The waiting changes whose dependencies are all held (``known``) or released with
        them, each after what it depends on; they leave the pool."""
        released: list[Waiting] = []
        ready = set(known)
        progress = True
        while progress and self._waiting:
            progress = False
            for change_hash, entry in list(self._waiting.items()):
                if all(dep in ready for dep in entry.change.deps):
                    released.append(self._pop(change_hash))
                    ready.add(change_hash)
                    progress = True
        if not self._waiting:
            self._asked_at = None
        return released

    def remove(self, hashes: Iterable[bytes]) -> list[Waiting]:
        return [self._pop(h) for h in hashes if h in self._waiting]

    def dependents(self, change_hash: bytes) -> list[bytes]:
        """The waiting changes that depend, directly or not, on ``change_hash``."""
        found: list[bytes] = []
        frontier = {change_hash}
        while frontier:
            frontier = {h for h, entry in self._waiting.items()
                        if h not in found and frontier & set(entry.change.deps)}
            found.extend(frontier)
        return found

    def wake_at(self) -> float | None:
        if not self._waiting:
            return None
        oldest = min(entry.arrived for entry in self._waiting.values())
        if self._asked_at is None:
            return oldest + self.ask_after
        return oldest + self.drop_after

    def tick(self, now: float) -> tuple[bool, list[Waiting]]:
        """Whether to ask the peers for what is missing now, and the changes dropped."""
        if not self._waiting:
            return False, []
        stale = [h for h, entry in self._waiting.items() if now - entry.arrived >= self.drop_after]
        dropped = self.remove(stale)
        ask = False
        if self._waiting and self._asked_at is None and any(
                now - entry.arrived >= self.ask_after for entry in self._waiting.values()):
            self._asked_at = now
            ask = True
        if not self._waiting:
            self._asked_at = None
        return ask, dropped
