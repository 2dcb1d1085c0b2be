"""Join codes: short secrets that people read aloud and type on another laptop."""

from __future__ import annotations

import math
import secrets
import unicodedata
from itertools import pairwise

__all__ = [
    "GENERATED_CODE_BITS",
    "MIN_CODE_LENGTH",
    "WEAK_CODE_BITS",
    "InvalidCode",
    "WeakCode",
    "chosen_code",
    "code_strength_bits",
    "generate_code",
    "normalize_code",
]

MIN_CODE_LENGTH = 6
GENERATED_CODE_BITS = 8 * math.log2(10)
# A random 6-digit code (19.9 bits) passes; "123456" or "aaaaaa" (≈8 bits) do not.
WEAK_CODE_BITS = 19.0

# What people put between groups when they write or say a code ("314-159", "314 159").
_SEPARATORS = frozenset("-._")


class InvalidCode(ValueError):
    """The text cannot be used as a join code."""


class WeakCode(InvalidCode):
    """A code someone chose is too easy to guess to protect a session."""


def generate_code() -> str:
    """Return 8 random digits as "1234-5678" (about 26.6 bits).

    A draw that reads as a run or a repeat ("1234-5678", "0000-0000") is drawn again, so a
    generated code always passes ``chosen_code``; that removes well under 1% of the values."""
    while True:
        digits = f"{secrets.randbelow(10**8):08d}"
        if code_strength_bits(digits) >= WEAK_CODE_BITS:
            return f"{digits[:4]}-{digits[4:]}"


def _canonical(code: str) -> str:
    # NFKC first so full-width digits and dashes become ASCII before separators are dropped;
    # NFKC again last so a combining mark left next to its letter by a dropped dash composes.
    text = unicodedata.normalize("NFKC", code).casefold()
    text = "".join(ch for ch in text if not ch.isspace() and ch not in _SEPARATORS)
    return unicodedata.normalize("NFKC", text)


def normalize_code(code: str) -> str:
    """Return the canonical form both peers feed to the key exchange.

    Raises InvalidCode when fewer than MIN_CODE_LENGTH characters remain.
    """
    text = _canonical(code)
    if len(text) < MIN_CODE_LENGTH:
        raise InvalidCode(
            f"A join code needs at least {MIN_CODE_LENGTH} letters or digits "
            f"(spaces and dashes do not count); this one has {len(text)}."
        )
    return text


def chosen_code(code: str) -> str:
    """Check a code the facilitator chose for her session and return it as typed.

    Raises InvalidCode when it is too short, WeakCode when it is made of repeats or runs
    ("111-111", "aaaaaa", "123456") that a stranger tries first. Codes typed to *join* are
    never judged: they are only guesses at the host's code."""
    if code_strength_bits(normalize_code(code)) < WEAK_CODE_BITS:
        raise WeakCode(
            "This join code is too easy to guess (repeats or runs such as 111-111, aaaaaa "
            "or 123456). Leave it out to get a random one, or choose at least 6 varied "
            "letters or digits."
        )
    return code


def _pool_size(text: str) -> int:
    pool = 0
    if any(ch.isascii() and ch.isdigit() for ch in text):
        pool += 10
    if any(ch.isascii() and ch.isalpha() for ch in text):
        pool += 26
    if any(ch.isascii() and not ch.isalnum() for ch in text):
        pool += 33
    if any(not ch.isascii() for ch in text):
        pool += 100
    return pool


def code_strength_bits(code: str) -> float:
    """Roughly estimate a code's guessing entropy in bits, for warning about weak custom codes.

    Characters that continue a repeat or a run ("1111", "abcd") count one bit; dictionary words
    are not recognised, so a word scores higher than it deserves.
    """
    text = _canonical(code)
    if not text:
        return 0.0
    per_char = math.log2(_pool_size(text))
    deltas = [ord(cur) - ord(prev) for prev, cur in pairwise(text)]
    bits = per_char * min(len(text), 2)
    # A single "12" or "77" is common in random digits; only a third step on the same stride
    # is treated as predictable, so random generated codes keep their full estimate.
    for before, delta in pairwise(deltas):
        bits += 1.0 if delta == before and abs(delta) <= 1 else per_char
    return bits
