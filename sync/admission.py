"""Who gets a handshake, and how many guesses of the join code a stranger gets.

Two sans-IO policies, fed the time:

``AdmissionGate`` decides when the admitting laptop (the session's creator: the only one
that takes the code) runs one more code attempt. Every attempt spends a token; tokens come
back at ``per_minute`` a minute up to ``burst``, and a right code gives its token back. So
wrong codes are at most ``burst + per_minute × minutes`` *for the whole session*, however
many addresses or connections a guesser uses, and whatever it does mid-handshake (the
newcomer confirms first: a guess is counted before anything tells it whether it was
right). A laptop that has to wait is told when to come back (a ``busy`` reject carries
``retry_after``). When a token is free it goes to the waiting address that gave the fewest
wrong codes, then that asked first, among those that came back when told (within
``GRACE`` seconds): a newcomer, who has given none, goes before every address that has
guessed wrong, and fresh addresses that arrive after it go after it, so a guesser cannot
keep a newcomer out. After ``rotate_after`` wrong codes the gate asks for a new code.

``HandshakeSlots`` bounds the handshakes in progress (``per_address``, ``total``). When
all are taken, a new connection takes the slot of the oldest handshake of the address
holding the most, so silent connections from a few addresses cannot fill the listener;
each handshake must speak within ``first_message`` seconds and finish within ``finish``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["AdmissionGate", "HandshakeSlots", "Slot"]

Outcome = Literal["right", "wrong", "abandoned"]

GRACE: Final = 3.0  # seconds a waiting address has to come back once told to
FREE_FAILURES: Final = 3  # wrong codes from one address before it also waits on its own


@dataclass
class _Address:
    failures: int = 0
    last_failure: float = 0.0


class AdmissionGate:
    """The admitting laptop's budget of code attempts (see the module's docstring)."""

    def __init__(self, *, burst: int = 3, per_minute: float = 6.0, rotate_after: int = 10,
                 max_delay: float = 60.0, forget_after: float = 600.0) -> None:
        if burst < 1 or per_minute <= 0 or rotate_after < 1:
            raise ValueError("the gate needs a burst ≥ 1, a rate > 0 and rotate_after ≥ 1")
        self.burst = burst
        self.rate = per_minute / 60.0
        self.rotate_after = rotate_after
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._tokens = float(burst)
        self._at: float | None = None
        self._busy: set[str] = set()
        self._waiting: dict[str, tuple[float, float]] = {}  # address -> (arrived, back by)
        self._addresses: dict[str, _Address] = {}
        self.wrong_total = 0  # wrong codes since the gate started
        self.wrong_since_rotation = 0

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now if self._at is None else max(self._at, now)

    def _own_wait(self, address: str, now: float) -> float:
        record = self._addresses.get(address)
        if record is None:
            return 0.0
        if now - record.last_failure >= self.forget_after:
            del self._addresses[address]
            return 0.0
        extra = record.failures - FREE_FAILURES
        if extra < 0:
            return 0.0
        delay = min(self.max_delay, 2.0 ** min(extra, 32))
        return max(0.0, record.last_failure + delay - now)

    def request(self, address: str, now: float) -> float:
        """0.0 if ``address`` may try a code now (a token is reserved until ``finished``),
        else the seconds after which to ask again."""
        self._refill(now)
        if address in self._busy:  # one attempt at a time per address
            return 1.0
        own = self._own_wait(address, now)
        if own > 0:
            return own
        for waiting, (_, back_by) in list(self._waiting.items()):
            if now > back_by and waiting != address:
                del self._waiting[waiting]  # told when to come back, and did not
        arrived = self._waiting.get(address, (now, now))[0]

        def rank(who: str) -> tuple[int, float]:
            return self.failures(who), self._waiting.get(who, (arrived, now))[0]

        best = min((*self._waiting, address), key=rank)
        if self._tokens >= 1.0 and best == address:
            self._waiting.pop(address, None)
            self._tokens -= 1.0
            self._busy.add(address)
            return 0.0
        if self._tokens >= 1.0 or self._busy:
            # A token is free, or an attempt under way may give its token back (a right
            # code does): a room joining at once is not sent away for a whole refill.
            wait = 1.0
        else:
            wait = max(1.0, (1.0 - self._tokens) / self.rate)
        self._waiting[address] = (arrived, now + wait + GRACE)
        return wait

    def finished(self, address: str, now: float, outcome: Outcome) -> bool:
        """The attempt of ``address`` ended; True when the code should now be rotated."""
        self._refill(now)
        self._busy.discard(address)
        if outcome == "wrong":
            record = self._addresses.setdefault(address, _Address())
            record.failures += 1
            record.last_failure = now
            self.wrong_total += 1
            self.wrong_since_rotation += 1
            return self.wrong_since_rotation >= self.rotate_after
        # A right code, or no guess made: the token was not spent on a guess.
        self._tokens = min(float(self.burst), self._tokens + 1.0)
        if outcome == "right":
            self._addresses.pop(address, None)
        return False

    def rotated(self) -> None:
        """The code was changed: count wrong codes afresh."""
        self.wrong_since_rotation = 0

    def failures(self, address: str) -> int:
        record = self._addresses.get(address)
        return record.failures if record is not None else 0


@dataclass(eq=False)
class Slot:
    """One handshake in progress."""

    address: str
    opened: float
    number: int
    spoke: bool = False


class HandshakeSlots:
    """Handshakes in progress, bounded per address and in total (see the module's
    docstring)."""

    def __init__(self, *, per_address: int = 4, total: int = 64, first_message: float = 5.0,
                 finish: float = 10.0) -> None:
        if per_address < 1 or total < per_address:
            raise ValueError("need 1 ≤ per_address ≤ total")
        self.per_address = per_address
        self.total = total
        self.first_message = first_message
        self.finish = finish
        self._open: dict[str, list[Slot]] = {}
        self._numbers = itertools.count()

    def __len__(self) -> int:
        return sum(len(slots) for slots in self._open.values())

    def open(self, address: str, now: float) -> tuple[Slot | None, Slot | None]:
        """A slot for a new connection from ``address`` (None: refuse it), and the slot of
        another handshake to drop to make room (None if none)."""
        mine = self._open.get(address, [])
        if len(mine) >= self.per_address:
            return None, None
        evicted = None
        if len(self) >= self.total:
            victim = max(self._open, key=lambda a: (len(self._open[a]),
                                                    -min(s.number for s in self._open[a])))
            if len(self._open[victim]) <= len(mine) + 1:
                return None, None  # the newcomer's address would hold as many: refuse it
            evicted = min(self._open[victim], key=lambda s: s.number)
            self.close(evicted)
        slot = Slot(address, now, next(self._numbers))
        self._open.setdefault(address, []).append(slot)
        return slot, evicted

    def spoke(self, slot: Slot) -> None:
        """The other side sent its first message (it now has until ``finish`` in all: the
        link driver, ``sync.link.accept``, keeps both times)."""
        slot.spoke = True

    def close(self, slot: Slot) -> None:
        slots = self._open.get(slot.address)
        if slots is None or slot not in slots:
            return
        slots.remove(slot)
        if not slots:
            del self._open[slot.address]

    def held(self, address: str) -> int:
        """How many handshakes ``address`` has in progress."""
        return len(self._open.get(address, ()))
